import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseEnv } from "../config";
import { contextSources, dockerignoreExcludes, envOf, interpolate, parseDockerfile, unknownVariables, unprovisionedDatasources } from "./files";
import { CONNECTION_BUDGET, connectionsPerProcess } from "./release";

// Docker cannot run on the machines that test this project: the Dockerfile and docker-compose.yml
// are read here the way their engines read them and checked for what a broken deployment would
// show first — services, ports, healthchecks, mounts — and every variable they set for the console
// must be one of server/config.ts, with a value it accepts.

const root = process.cwd();
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

interface Service {
  build?: string | { context: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }> | string[];
}
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const ours = Object.entries(services).filter(([, s]) => s.build === ".");
// What an operator exports before `docker compose up` (the `:?` variables).
const shell = { AUTH_SECRET: "x".repeat(44), ADMIN_PASSWORD: "correct-horse-battery" };

describe("docker-compose.yml", () => {
  it("runs PostgreSQL, the migration, two console replicas, nginx, Prometheus and Grafana", () => {
    expect(Object.keys(services).sort()).toEqual(["console-1", "console-2", "grafana", "migrate", "nginx", "postgres", "prometheus"]);
    expect(ours.map(([name]) => name).sort()).toEqual(["console-1", "console-2", "migrate"]);
    expect(services.migrate!.command).toEqual(["npm", "run", "db:migrate", "--", "--first-admin"]);
    expect(JSON.parse(read("package.json")).scripts["db:migrate"]).toBe("exec tsx server/cli/migrate.ts");
  });

  it("starts the replicas after the migration and nginx after healthy replicas", () => {
    for (const name of ["console-1", "console-2"]) {
      expect(services[name]!.depends_on).toEqual({ migrate: { condition: "service_completed_successfully" } });
      expect(services[name]!.healthcheck!.test.join(" ")).toContain("http://127.0.0.1:3000/api/health");
      expect(services[name]!.ports).toBeUndefined(); // reached through nginx only
    }
    expect(services.migrate!.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    expect(services.nginx!.depends_on).toEqual({ "console-1": { condition: "service_healthy" }, "console-2": { condition: "service_healthy" } });
    for (const name of ["postgres", "nginx", "prometheus", "grafana"]) expect(services[name]!.healthcheck, name).toBeDefined();
    expect(services.nginx!.ports).toEqual(["8080:8080"]);
    expect(services.prometheus!.ports).toEqual(["9090:9090"]);
    expect(services.grafana!.ports).toEqual(["3001:3000"]);
  });

  it("sets only variables of server/config.ts on the console, with values it accepts", () => {
    for (const [name, service] of ours) {
      const environment = service.environment ?? {};
      expect(unknownVariables(Object.keys(environment)), name).toEqual([]);
      const values = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), shell)]));
      expect(() => parseEnv(values), name).not.toThrow();
    }
    const env = parseEnv(Object.fromEntries(Object.entries(services["console-1"]!.environment!).map(([k, v]) => [k, interpolate(String(v), shell)])));
    expect(env).toMatchObject({ HOST: "0.0.0.0", PORT: 3000, TRUST_PROXY: "on" });
    // The Host headers the replicas see: nginx passes the client's (localhost) and the healthcheck's.
    expect(env.ALLOWED_HOSTS).toEqual(expect.arrayContaining(["localhost", "127.0.0.1"]));
    // Without AUTH_SECRET the replicas would each generate their own and sessions would not cross them.
    expect(() => interpolate(String(services["console-1"]!.environment!.AUTH_SECRET), {})).toThrow("AUTH_SECRET: set AUTH_SECRET");
  });

  it("runs one server process per container, within PostgreSQL's connections (issue 15 break test)", () => {
    const env = parseEnv(Object.fromEntries(Object.entries(services["console-1"]!.environment!).map(([k, v]) => [k, interpolate(String(v), shell)])));
    expect(env.WORKERS).toBe(1);
    const replicas = ours.filter(([name]) => name.startsWith("console-")).length;
    expect(replicas * connectionsPerProcess(env) * env.WORKERS).toBeLessThanOrEqual(CONNECTION_BUDGET);
  });

  it("points every datasource of the dashboards at the provisioned one", () => {
    const provisioned = (parse(read("deploy/grafana/provisioning/datasources/prometheus.yml")) as { datasources: Array<{ uid: string; type: string }> }).datasources;
    const dashboard = JSON.parse(read("deploy/grafana/dashboards/rerank-oncall.json")) as unknown;
    expect(unprovisionedDatasources(dashboard, provisioned)).toEqual([]);
    // The check itself: a panel naming another uid, or another type, is caught.
    const broken = { panels: [{ datasource: { type: "prometheus", uid: "prom" } }, { targets: [{ datasource: { type: "loki", uid: "prometheus" } }] }] };
    expect(unprovisionedDatasources(broken, provisioned)).toEqual([
      '$.panels[0].datasource: uid "prom" is not a provisioned datasource (prometheus)',
      "$.panels[1].targets[0].datasource: type loki, the provisioned prometheus is prometheus",
    ]);
  });

  it("balances over both replicas and scrapes each one directly", () => {
    const nginx = read("deploy/nginx/compose.conf");
    expect([...nginx.matchAll(/server (console-\d):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`)).toEqual(["console-1:3000", "console-2:3000"]);
    const prometheus = parse(read("deploy/prometheus/prometheus.yml")) as { rule_files: string[]; scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }> };
    const job = prometheus.scrape_configs.find((j) => j.job_name === "rerank-console")!;
    expect(job.metrics_path).toBe("/api/metrics");
    expect(job.static_configs.flatMap((c) => c.targets)).toEqual(["console-1:3000", "console-2:3000"]);
    expect(prometheus.rule_files).toEqual(["/etc/prometheus/alerts.yml"]);
  });

  it("mounts files that exist in the repository", () => {
    const mounts = Object.values(services).flatMap((s) => s.volumes ?? []).filter((v) => v.startsWith("./"));
    expect(mounts).toEqual(expect.arrayContaining([
      "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro",
      "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro",
      "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro",
    ]));
    for (const mount of mounts) expect(existsSync(path.join(root, mount.split(":")[0]!)), mount).toBe(true);
    const dashboard = JSON.parse(read("deploy/grafana/dashboards/rerank-oncall.json")) as { uid: string; panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    expect(dashboard.uid).toBe("rerank-oncall");
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr).join("\n");
    for (const metric of ["rerank_stage_duration_ms_bucket", "rerank_fallbacks_total", "surface:rerank_fallback:ratio_rate1h", "surface:rerank_slow:ratio_rate6h", "ALERTS"]) expect(exprs).toContain(metric);
  });
});

describe("Dockerfile", () => {
  const { globalArgs, stages } = parseDockerfile(read("Dockerfile"));
  const runtime = stages.at(-1)!;
  const ops = (stage: typeof runtime, op: string) => stage.instructions.filter((i) => i.op === op);

  it("builds in stages and ships production dependencies only", () => {
    expect(stages.map((s) => s.name)).toEqual(["deps", "build", "prod-deps", "runtime"]);
    expect(globalArgs.NODE_IMAGE).toMatch(/^node:20[.\d]*-bookworm-slim$/); // glibc: onnxruntime-node's binaries
    const prodDeps = stages.find((s) => s.name === "prod-deps")!;
    expect(ops(prodDeps, "RUN").map((r) => r.args).join(" ")).toContain("npm ci --omit=dev");
    const copies = ops(runtime, "COPY").map((c) => c.args);
    expect(copies.find((c) => c.includes("/app/node_modules"))).toContain("--from=prod-deps");
    expect(copies.find((c) => c.includes("/app/.next"))).toContain("--from=build");
    expect(copies.some((c) => c.includes("--from=deps"))).toBe(false);
  });

  it("runs as a non-root user with a healthcheck, the server as its command and migrations as their own", () => {
    const user = ops(runtime, "USER").at(-1)?.args;
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
    expect(ops(runtime, "HEALTHCHECK")[0]?.args).toMatch(/--start-period=\d+s.*CMD .*\/api\/health/);
    expect(ops(runtime, "CMD").at(-1)?.args).toBe('["node", "--import", "tsx", "server/http/main.ts"]');
    // The migration is a command of the same image (compose's migrate service, the Helm hook Job).
    expect(read("Dockerfile")).toContain("npm run db:migrate");
  });

  it("sets only variables of server/config.ts, with values it accepts, and exposes the port it listens on", () => {
    const env = Object.assign({}, ...ops(runtime, "ENV").map(envOf)) as Record<string, string>;
    expect(unknownVariables(Object.keys(env))).toEqual([]);
    expect(() => parseEnv(env)).not.toThrow();
    expect(ops(runtime, "EXPOSE").map((e) => e.args)).toEqual([env.PORT]);
    expect(env).toMatchObject({ NODE_ENV: "production", HOST: "0.0.0.0" });
  });

  const ignored = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

  it("leaves local state, dependencies and builds out of the build context", () => {
    for (const entry of ["node_modules", ".next", ".data", ".git", "server/db/generated", ".env"]) expect(ignored).toContain(entry);
  });

  it("copies only paths that exist in the repository and that .dockerignore keeps in the context (issue 15 break test)", () => {
    const sources = contextSources(stages);
    expect(sources.map((s) => s.source)).toEqual(expect.arrayContaining(["package.json", "prisma", "app", "server", "models", "."]));
    for (const { source, line } of sources) {
      expect(existsSync(path.join(root, source)), `Dockerfile line ${line}: COPY ${source}`).toBe(true);
      if (source !== ".") expect(dockerignoreExcludes(ignored, source), `Dockerfile line ${line}: COPY ${source} is excluded by .dockerignore`).toBe(false);
    }
  });

  it("needs the npm registry only: no install scripts, the Prisma client generated without engines (issue 15 break test)", () => {
    // The image's npm 10 ignores package.json's allowScripts: onnxruntime-node's script would fetch CUDA files, @prisma/engines its engines.
    const installs = stages.flatMap((s) => ops(s, "RUN")).map((r) => r.args).flatMap((a) => a.split("&&").map((c) => c.trim())).filter((c) => /^npm (ci|install|i)\b/.test(c));
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const install of installs) expect(install).toContain("--ignore-scripts");
    const deps = stages.find((s) => s.name === "deps")!;
    expect(ops(deps, "RUN").map((r) => r.args).join(" ")).toMatch(/PRISMA_SCHEMA_ENGINE_BINARY=\S+ npx prisma generate/);
    expect(ops(runtime, "COPY").map((c) => c.args)).toContain("--from=build --chown=node:node /app/server/db/generated ./server/db/generated");
  });

  it("runs one server process per container (WORKERS=1: scale with replicas)", () => {
    const env = Object.assign({}, ...ops(runtime, "ENV").map(envOf)) as Record<string, string>;
    expect(env.WORKERS).toBe("1");
  });
});

describe("the deployment file readers", () => {
  it("joins continuations and groups a Dockerfile by stage", () => {
    const parsed = parseDockerfile("ARG BASE=node:20\n# comment\nFROM ${BASE} AS a\nRUN echo 1 \\\n  && echo 2\nFROM a\nENV A=1 B=\"two words\"\nENV C 3\n");
    expect(parsed.globalArgs).toEqual({ BASE: "node:20" });
    expect(parsed.stages.map((s) => [s.name, s.from])).toEqual([["a", "${BASE}"], ["1", "a"]]);
    expect(parsed.stages[0]!.instructions).toEqual([{ op: "RUN", args: "echo 1 && echo 2", line: 4 }]);
    expect(envOf(parsed.stages[1]!.instructions[0]!)).toEqual({ A: "1", B: "two words" });
    expect(envOf(parsed.stages[1]!.instructions[1]!)).toEqual({ C: "3" });
    expect(() => parseDockerfile("RUN x\nFROM y")).toThrow("Dockerfile line 1: RUN before FROM");
  });

  it("interpolates like compose", () => {
    expect(interpolate("a ${X:-d} ${Y-e} $Z $$HOME", { X: "", Z: "z" })).toBe("a d e z $HOME");
    expect(interpolate("${X-d}", { X: "" })).toBe("");
    expect(() => interpolate("${X:?say why}", {})).toThrow("X: say why");
  });

  it("reads the build-context sources of COPY and matches .dockerignore as Docker does", () => {
    const { stages } = parseDockerfile("FROM a AS x\nCOPY package.json package-lock.json ./\nCOPY --chown=n:n ./app ./app\nCOPY --from=x /a /b\nCOPY [\"models/\", \"./models\"]\n");
    expect(contextSources(stages).map((s) => s.source)).toEqual(["package.json", "package-lock.json", "app", "models"]);
    const patterns = ["node_modules", "server/db/generated", "*.log", "docs/**/draft", "models", "!models/keep"];
    expect(dockerignoreExcludes(patterns, "node_modules")).toBe(true);
    expect(dockerignoreExcludes(patterns, "node_modules/x/y")).toBe(true);
    expect(dockerignoreExcludes(patterns, "server")).toBe(false);
    expect(dockerignoreExcludes(patterns, "server/db/generated/index.ts")).toBe(true);
    expect(dockerignoreExcludes(patterns, "a.log")).toBe(true);
    expect(dockerignoreExcludes(patterns, "x/a.log")).toBe(false);
    expect(dockerignoreExcludes(patterns, "docs/a/b/draft")).toBe(true);
    expect(dockerignoreExcludes(patterns, "models")).toBe(true);
    expect(dockerignoreExcludes(patterns, "models/keep")).toBe(false);
  });

  it("knows every variable of server/config.ts and nothing else", () => {
    expect(unknownVariables(["DATABASE_URL", "NODE_ENV", "NEXT_TELEMETRY_DISABLED", "DATABASE_URI"])).toEqual(["DATABASE_URI"]);
  });
});
