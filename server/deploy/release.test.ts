import { describe, expect, it } from "vitest";
import { CONNECTION_BUDGET, connectionsPerProcess, consoleProblems } from "./release";

// The console's checks of a rendered Helm release (npm run deploy:check): a release shaped as the
// chart renders it passes; each breakage the issue 15 break test found is refused, one at a time.

const selector = { "app.kubernetes.io/name": "rerank-console", "app.kubernetes.io/instance": "rel" };
const hook = (weight: number, extra: Record<string, string> = {}) => ({ "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": String(weight), ...extra });
const hookCopy = { "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded,hook-failed" };
const config = { HOST: "0.0.0.0", PORT: "3000", WORKERS: "1", DATABASE_POOL_SIZE: "8", JOBS_CONCURRENCY: "2", ALLOWED_HOSTS: "*" };
const secrets = { DATABASE_URL: "postgresql://rerank:pw@postgres:5432/rerank", AUTH_SECRET: "s".repeat(44) };

function release() {
  const envFrom = (name: string) => [{ configMapRef: { name } }, { secretRef: { name } }];
  return [
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "rel-rerank-console" }, data: { ...config } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "rel-rerank-console" }, stringData: { ...secrets } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "rel-rerank-console-migration", annotations: hook(-10, hookCopy) }, data: { ...config } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "rel-rerank-console-migration", annotations: hook(-10, hookCopy) }, stringData: { ...secrets } },
    {
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "rel-rerank-console" },
      spec: {
        selector: { matchLabels: { ...selector } },
        template: {
          metadata: { labels: { ...selector } },
          spec: {
            securityContext: { runAsNonRoot: true },
            containers: [{
              name: "console", image: "rerank-console:0.1.0", ports: [{ name: "http", containerPort: 3000 }], envFrom: envFrom("rel-rerank-console"),
              readinessProbe: { httpGet: { path: "/api/health", port: "http" } }, livenessProbe: { httpGet: { path: "/api/v1/ping", port: "http" } },
            }],
          },
        },
      },
    },
    { apiVersion: "v1", kind: "Service", metadata: { name: "rel-rerank-console", labels: { ...selector } }, spec: { selector: { ...selector }, ports: [{ name: "http", port: 80, targetPort: "http" }] } },
    { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "rel-rerank-console" }, spec: { minAvailable: 1, selector: { matchLabels: { ...selector } } } },
    { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "rel-rerank-console" }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "rel-rerank-console" }, minReplicas: 2, maxReplicas: 6 } },
    {
      apiVersion: "batch/v1", kind: "Job", metadata: { name: "rel-rerank-console-migrate", annotations: hook(0) },
      spec: {
        template: {
          metadata: { labels: { "app.kubernetes.io/name": "rerank-console-migration", "app.kubernetes.io/instance": "rel" } },
          spec: { restartPolicy: "Never", containers: [{ name: "migrate", image: "rerank-console:0.1.0", command: ["npm", "run", "db:migrate"], envFrom: envFrom("rel-rerank-console-migration") }] },
        },
      },
    },
  ] as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered YAML
}
const byKind = (objects: ReturnType<typeof release>, kind: string, name?: string) => objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name))!;

describe("consoleProblems", () => {
  it("passes the release as the chart renders it", () => {
    expect(consoleProblems(release())).toEqual([]);
  });

  it("refuses a migration Job whose pod the Deployment, Service and PDB select", () => {
    const objects = release();
    byKind(objects, "Job").spec.template.metadata.labels = { ...selector, "app.kubernetes.io/component": "migration" };
    expect(consoleProblems(objects)).toEqual([
      "Deployment rel-rerank-console selects the migration Job's pod (give it labels of its own)",
      "Service rel-rerank-console selects the migration Job's pod (give it labels of its own)",
      "PodDisruptionBudget rel-rerank-console selects the migration Job's pod (give it labels of its own)",
    ]);
  });

  it("refuses a ConfigMap or Secret the pods read that is a Helm hook (not rolled back, Secret left by uninstall)", () => {
    const objects = release();
    byKind(objects, "ConfigMap", "rel-rerank-console").metadata.annotations = hook(-10);
    byKind(objects, "Secret", "rel-rerank-console").metadata.annotations = hook(-10);
    expect(consoleProblems(objects)).toEqual([
      "the ConfigMap rel-rerank-console the pods read is a Helm hook: helm rollback would not restore it",
      "the Secret rel-rerank-console the pods read is a Helm hook: helm rollback would not restore it and helm uninstall would leave it",
    ]);
  });

  it("refuses a migration Job that reads regular objects (absent when a pre-install hook runs) or hook copies that outlive it", () => {
    const objects = release();
    byKind(objects, "Job").spec.template.spec.containers[0].envFrom = [{ configMapRef: { name: "rel-rerank-console" } }, { secretRef: { name: "rel-rerank-console" } }];
    expect(consoleProblems(objects)).toEqual([
      "the migration Job reads the ConfigMap rel-rerank-console, which is not a hook created before it (a pre-install hook runs before the regular objects exist)",
      "the migration Job reads the Secret rel-rerank-console, which is not a hook created before it (a pre-install hook runs before the regular objects exist)",
    ]);
    const kept = release();
    byKind(kept, "Secret", "rel-rerank-console-migration").metadata.annotations = hook(-10, { "helm.sh/hook-delete-policy": "before-hook-creation" });
    expect(consoleProblems(kept)).toEqual(["the hook Secret rel-rerank-console-migration outlives the hook (hook-delete-policy hook-succeeded missing)"]);
  });

  it("refuses more than one server process per pod, and more connections at maxReplicas than PostgreSQL's budget", () => {
    const workers = release();
    byKind(workers, "ConfigMap", "rel-rerank-console").data.WORKERS = "2";
    expect(consoleProblems(workers)).toEqual([
      "WORKERS is 2: run one server process per pod (WORKERS=1, each holds its models) and scale with replicas",
      `6 pods × 30 database connections = 180, over the budget of ${CONNECTION_BUDGET} (PostgreSQL's default max_connections 100): lower DATABASE_POOL_SIZE, JOBS_CONCURRENCY or the replicas`,
    ]);
    const many = release();
    byKind(many, "HorizontalPodAutoscaler").spec.maxReplicas = 10;
    expect(consoleProblems(many)).toEqual([`10 pods × 15 database connections = 150, over the budget of ${CONNECTION_BUDGET} (PostgreSQL's default max_connections 100): lower DATABASE_POOL_SIZE, JOBS_CONCURRENCY or the replicas`]);
  });

  it("counts a process's connections: pool + job queue (concurrency + 2) + log writer (2) + listener (1)", () => {
    expect(connectionsPerProcess({ DATABASE_POOL_SIZE: 8, JOBS_CONCURRENCY: 2, JOBS_ENABLED: true })).toBe(15);
    expect(connectionsPerProcess({ DATABASE_POOL_SIZE: 10, JOBS_CONCURRENCY: 4, JOBS_ENABLED: true })).toBe(19);
    expect(connectionsPerProcess({ DATABASE_POOL_SIZE: 10, JOBS_CONCURRENCY: 4, JOBS_ENABLED: false })).toBe(13);
  });
});
