import { existsSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "../config";
import { routeOf } from "../http/frontDoor";
import { unknownVariables } from "./files";

// What the console needs of a rendered Helm release (deploy/helm/rerank-console), beyond the
// Kubernetes schemas and semantics (server/deploy/kubernetes.ts). Run by npm run deploy:check on
// every rendered value set; release.test.ts breaks a rendered release one way at a time.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered YAML

const find = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.keys(selector ?? {}).length > 0 && Object.entries(selector!).every(([k, v]) => labels?.[k] === v);
const isHook = (o: Obj) => o.metadata?.annotations?.["helm.sh/hook"] !== undefined;
const weightOf = (o: Obj) => Number(o.metadata?.annotations?.["helm.sh/hook-weight"] ?? 0);

/** PostgreSQL's default max_connections less headroom (superuser slots, the migration Job, a psql). */
export const CONNECTION_BUDGET = 90;

/**
 * The connections one server process opens at most (the pools' maxima): the Prisma pool
 * (DATABASE_POOL_SIZE), the job queue (graphile-worker: JOBS_CONCURRENCY + 2, server/jobs/runner.ts;
 * none with JOBS_ENABLED=0), the log writer's pool (2, server/telemetry/streams.ts) and the config
 * listener (1, server/db/configChanges.ts). Multiply by WORKERS for a container.
 */
export function connectionsPerProcess(env: { DATABASE_POOL_SIZE: number; JOBS_CONCURRENCY: number; JOBS_ENABLED: boolean }): number {
  return env.DATABASE_POOL_SIZE + (env.JOBS_ENABLED ? env.JOBS_CONCURRENCY + 2 : 0) + 2 + 1;
}

/**
 * Problems of a rendered release for the console, one line each (an empty list when it fits):
 * probes on routes that exist, non-root pods, the settings (known to server/config.ts and accepted
 * by it), the regular ConfigMap/Secret the pods read (not hooks: `helm rollback` restores them,
 * `helm uninstall` removes them), the migration hook Job (its own hook copies of them, created
 * first and deleted after; pod labels no selector of the release matches), selectors, the HPA,
 * the ServiceMonitor, and the database connections at the most replicas (≤ CONNECTION_BUDGET).
 * @param options.existingSecret the Secret name the release was rendered with, if any.
 */
export function consoleProblems(objects: Obj[], options: { existingSecret?: string; root?: string } = {}): string[] {
  const root = options.root ?? process.cwd();
  const problems: string[] = [];
  const [deployment] = find(objects, "Deployment");
  if (!deployment) return ["no Deployment rendered"];
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const probe = (p: string) => container[p]?.httpGet?.path;
  if (probe("readinessProbe") !== "/api/health") problems.push(`readinessProbe path is ${probe("readinessProbe")}, expected /api/health`);
  if (probe("livenessProbe") !== "/api/v1/ping") problems.push(`livenessProbe path is ${probe("livenessProbe")}, expected /api/v1/ping`);
  // /api/health is the front door's own (server/http/frontDoor.ts routeOf); the ping is a Next.js route handler.
  if (routeOf("GET", "/api/health").kind !== "health") problems.push("the front door no longer answers /api/health: the readiness probe would fail");
  if (!existsSync(path.join(root, "app/api/v1/ping/route.ts"))) problems.push("app/api/v1/ping/route.ts is missing: the liveness probe would fail");
  if (pod.spec.securityContext?.runAsNonRoot !== true) problems.push("the pod must run as non-root (securityContext.runAsNonRoot)");

  const refsOf = (spec: Obj | undefined) => (spec?.containers?.[0]?.envFrom ?? []) as Obj[];
  const podRefs = refsOf(pod.spec);
  const configMap = find(objects, "ConfigMap").find((c) => podRefs.some((r) => r.configMapRef?.name === c.metadata.name));
  const secret = find(objects, "Secret").find((c) => podRefs.some((r) => r.secretRef?.name === c.metadata.name));
  if (!configMap) problems.push("the Deployment reads no ConfigMap of the release");
  const secretName = options.existingSecret ?? secret?.metadata.name;
  if (options.existingSecret && find(objects, "Secret").some((s) => !isHook(s))) problems.push("a Secret was rendered although existingSecret is set");
  if (!podRefs.some((r) => r.secretRef?.name === secretName)) problems.push(`the Deployment does not read the Secret ${secretName}`);
  for (const o of [configMap, secret].filter(Boolean) as Obj[]) {
    if (isHook(o)) problems.push(`the ${o.kind} ${o.metadata.name} the pods read is a Helm hook: helm rollback would not restore it${o.kind === "Secret" ? " and helm uninstall would leave it" : ""}`);
  }
  const env: Record<string, string> = { ...configMap?.data, ...secret?.stringData };
  const unknown = unknownVariables(Object.keys(env));
  if (unknown.length) problems.push(`settings server/config.ts does not know: ${unknown.join(", ")}`);
  let parsed: ReturnType<typeof parseEnv> | undefined;
  try {
    parsed = parseEnv(env);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (container.ports?.[0]?.containerPort !== Number(env.PORT)) problems.push(`containerPort ${container.ports?.[0]?.containerPort} differs from PORT ${env.PORT}`);

  const job = find(objects, "Job")[0];
  if (job) {
    const hooks = job.metadata.annotations?.["helm.sh/hook"];
    if (hooks !== "pre-install,pre-upgrade") problems.push(`the migration Job's hook is ${hooks}, expected pre-install,pre-upgrade`);
    if (!job.spec.template.spec.containers[0].command.join(" ").includes("npm run db:migrate")) problems.push("the migration Job does not run npm run db:migrate");
    // A pre-install hook runs before the release's regular objects exist: what it reads must be a hook of a lower weight (or the operator's Secret).
    for (const ref of refsOf(job.spec.template.spec)) {
      const [kind, name] = ref.configMapRef ? ["ConfigMap", ref.configMapRef.name] : ["Secret", ref.secretRef?.name];
      if (kind === "Secret" && name === options.existingSecret) continue;
      const read = find(objects, kind).find((o) => o.metadata.name === name);
      if (!read) problems.push(`the migration Job reads the ${kind} ${name}, which the release does not render`);
      else if (!isHook(read) || !(weightOf(read) < weightOf(job))) problems.push(`the migration Job reads the ${kind} ${name}, which is not a hook created before it (a pre-install hook runs before the regular objects exist)`);
      else if (!String(read.metadata.annotations["helm.sh/hook-delete-policy"] ?? "").includes("hook-succeeded")) problems.push(`the hook ${kind} ${name} outlives the hook (hook-delete-policy hook-succeeded missing)`);
    }
    if (!refsOf(job.spec.template.spec).some((r) => r.configMapRef)) problems.push("the migration Job reads no ConfigMap");
    if (!refsOf(job.spec.template.spec).some((r) => r.secretRef)) problems.push("the migration Job reads no Secret");
    const jobLabels = job.spec.template.metadata?.labels;
    const selectors: Array<[string, Record<string, string> | undefined]> = [
      [`Deployment ${deployment.metadata.name}`, deployment.spec.selector?.matchLabels],
      ...find(objects, "Service").map((s): [string, Record<string, string>] => [`Service ${s.metadata.name}`, s.spec.selector]),
      ...find(objects, "PodDisruptionBudget").map((s): [string, Record<string, string>] => [`PodDisruptionBudget ${s.metadata.name}`, s.spec.selector?.matchLabels]),
    ];
    for (const [who, selector] of selectors) if (matches(selector, jobLabels)) problems.push(`${who} selects the migration Job's pod (give it labels of its own)`);
  }
  const labels = pod.metadata.labels;
  for (const o of [...find(objects, "Service"), ...find(objects, "PodDisruptionBudget")]) {
    const selector = o.kind === "Service" ? o.spec.selector : o.spec.selector.matchLabels;
    if (!matches(selector, labels)) problems.push(`${o.kind} ${o.metadata.name} selects no pod of the Deployment`);
  }
  const hpas = find(objects, "HorizontalPodAutoscaler");
  for (const hpa of hpas) {
    if (hpa.spec.scaleTargetRef.name !== deployment.metadata.name || hpa.spec.scaleTargetRef.kind !== "Deployment") problems.push("the HPA does not scale the Deployment");
    if (deployment.spec.replicas !== undefined) problems.push("the Deployment sets replicas although the HPA scales it (each upgrade would reset the count)");
  }
  if (parsed) {
    const replicas = hpas[0]?.spec.maxReplicas ?? deployment.spec.replicas ?? 1;
    const perPod = connectionsPerProcess(parsed) * parsed.WORKERS;
    if (parsed.WORKERS !== 1) problems.push(`WORKERS is ${parsed.WORKERS}: run one server process per pod (WORKERS=1, each holds its models) and scale with replicas`);
    if (perPod * replicas > CONNECTION_BUDGET) problems.push(`${replicas} pods × ${perPod} database connections = ${perPod * replicas}, over the budget of ${CONNECTION_BUDGET} (PostgreSQL's default max_connections 100): lower DATABASE_POOL_SIZE, JOBS_CONCURRENCY or the replicas`);
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
