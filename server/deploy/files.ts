import { LIBRARY_SETTINGS, SETTINGS } from "../config";

// Reading the deployment files (Dockerfile, docker-compose.yml, the Helm chart's values) the way
// their engines do, for the checks that run where Docker and Kubernetes do not: the unit tests and
// npm run deploy:check.

/** Every variable the console reads (server/config.ts) or sets for its libraries. */
export const KNOWN_VARIABLES: ReadonlySet<string> = new Set([...Object.keys(SETTINGS), ...LIBRARY_SETTINGS.flatMap((l) => l.names)]);

/** The names in `names` that server/config.ts does not declare. */
export const unknownVariables = (names: Iterable<string>) => [...names].filter((n) => !KNOWN_VARIABLES.has(n));

export interface DockerInstruction {
  /** Upper-cased, e.g. "FROM", "RUN". */
  op: string;
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface DockerStage {
  /** The `AS` name, or the stage's index as a string. */
  name: string;
  from: string;
  instructions: DockerInstruction[];
}

/**
 * A Dockerfile as the builder reads it: comments and blank lines dropped, `\` continuations joined,
 * instructions grouped by stage. `ARG`s before the first FROM are kept in `globalArgs`.
 * @throws Error naming the line of an instruction before any FROM (other than ARG).
 */
export function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: DockerStage[] } {
  const instructions: DockerInstruction[] = [];
  let pending: { text: string; line: number } | null = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (!pending && (trimmed === "" || trimmed.startsWith("#"))) return;
    if (pending && trimmed.startsWith("#")) return; // comments inside a continuation are skipped too
    const continues = /\\\s*$/.test(raw);
    const part = continues ? raw.replace(/\\\s*$/, "") : raw;
    pending = pending ? { text: `${pending.text} ${part.trim()}`, line: pending.line } : { text: part.trim(), line: index + 1 };
    if (continues) return;
    const match = /^(\S+)\s*(.*)$/s.exec(pending.text)!;
    instructions.push({ op: match[1]!.toUpperCase(), args: match[2]!.trim(), line: pending.line });
    pending = null;
  });
  const globalArgs: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const instruction of instructions) {
    if (instruction.op === "FROM") {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!m) throw new Error(`Dockerfile line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ name: m[2] ?? String(stages.length), from: m[1]!, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.op !== "ARG") throw new Error(`Dockerfile line ${instruction.line}: ${instruction.op} before FROM`);
      const [name, value = ""] = instruction.args.split("=", 2);
      globalArgs[name!.trim()] = value.trim();
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** The variables of `ENV A=1 B=2` (or the legacy `ENV A 1`). */
export function envOf(instruction: DockerInstruction): Record<string, string> {
  const out: Record<string, string> = {};
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=]*)$/.exec(instruction.args);
  if (legacy && !instruction.args.includes("=")) {
    out[legacy[1]!] = legacy[2]!.trim();
    return out;
  }
  for (const m of instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) out[m[1]!] = m[3] ?? m[2]!;
  return out;
}

/**
 * Compose's interpolation of one value: `${VAR}`, `${VAR:-default}`, `${VAR-default}` and
 * `${VAR:?message}` / `${VAR?message}`, with `vars` as the shell's environment and `$$` as a `$`.
 * @throws Error with the message of a `:?` variable that is unset.
 */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, name: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (all === "$$") return "$";
    const key = (name ?? bare)!;
    const set = vars[key];
    const missing = op?.startsWith(":") ? !set : set === undefined;
    if (!op || !missing) return set ?? "";
    if (op.endsWith("-")) return arg ?? "";
    throw new Error(`${key}: ${arg || "required"}`);
  });
}

/**
 * The build-context sources of the COPY/ADD instructions of every stage (not `--from=` copies):
 * e.g. `COPY --chown=node:node app ./app` → ["app"]; the JSON form is read too.
 */
export function contextSources(stages: DockerStage[]): Array<{ source: string; line: number }> {
  const out: Array<{ source: string; line: number }> = [];
  for (const instruction of stages.flatMap((s) => s.instructions)) {
    if (instruction.op !== "COPY" && instruction.op !== "ADD") continue;
    const words = instruction.args.startsWith("[") ? (JSON.parse(instruction.args) as string[]) : instruction.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith("--"));
    if (flags.some((f) => f.startsWith("--from="))) continue;
    const paths = words.filter((w) => !w.startsWith("--"));
    for (const source of paths.slice(0, -1)) out.push({ source: source.replace(/^\.\/(?=.)/, "").replace(/\/$/, ""), line: instruction.line });
  }
  return out;
}

/**
 * Whether .dockerignore's `patterns` leave `source` (a path relative to the context) out of the
 * build context: a pattern naming it or a folder above it (`*` and `?` within one path segment,
 * `**` across segments; a later `!pattern` re-includes), as Docker's matcher does.
 */
export function dockerignoreExcludes(patterns: string[], source: string): boolean {
  const toRegex = (pattern: string) =>
    new RegExp(`^${pattern.replace(/^\/+|\/+$/g, "").replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\u0000").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]").replace(/\u0000/g, ".*")}(/.*)?$`);
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = negated ? raw.slice(1) : raw;
    if (toRegex(pattern).test(source)) excluded = !negated;
  }
  return excluded;
}

/**
 * Every datasource reference of a Grafana dashboard (panels, targets, template variables, at any
 * depth) that no provisioned datasource answers: a `{type, uid}` whose uid is not provisioned or
 * whose type differs, or a `${DS_…}` placeholder (an export for sharing, not for provisioning).
 * @returns one line per reference, with its JSON path.
 */
export function unprovisionedDatasources(dashboard: unknown, provisioned: Array<{ uid: string; type: string }>): string[] {
  const problems: string[] = [];
  const visit = (node: unknown, where: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${where}[${i}]`));
    if (!node || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "datasource" && value !== null) {
        const ref = typeof value === "string" ? { uid: value, type: undefined } : (value as { uid?: string; type?: string });
        const match = provisioned.find((d) => d.uid === ref.uid);
        if (!match) problems.push(`${where}.datasource: uid ${JSON.stringify(ref.uid)} is not a provisioned datasource (${provisioned.map((d) => d.uid).join(", ")})`);
        else if (ref.type !== undefined && ref.type !== match.type) problems.push(`${where}.datasource: type ${ref.type}, the provisioned ${match.uid} is ${match.type}`);
      } else visit(value, `${where}.${key}`);
    }
  };
  visit(dashboard, "$");
  return problems;
}
