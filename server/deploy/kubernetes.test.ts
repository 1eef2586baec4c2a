import { describe, expect, it } from "vitest";
import { schemaProblems, semanticProblems, strictFieldProblems } from "./kubernetes";

// The validators npm run deploy:check runs on the rendered chart: they must refuse what a cluster refuses.

const deployment = () => ({
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "web", image: "web:1", ports: [{ containerPort: 3000 }], readinessProbe: { httpGet: { path: "/api/health", port: "http" } } }] },
    },
  },
});

// Type-checking against the interfaces takes seconds on a busy machine.
describe("Kubernetes validation", { timeout: 60_000 }, () => {
  it("accepts a valid object", () => {
    expect(schemaProblems([deployment()])).toEqual([]);
    expect(strictFieldProblems([deployment()])).toEqual([]);
  });

  it("refuses wrong types and missing required fields, naming the object and the field", () => {
    const wrongType = deployment() as ReturnType<typeof deployment> & { spec: { replicas?: unknown } };
    wrongType.spec.replicas = "two";
    expect(schemaProblems([wrongType])).toEqual(["Deployment web: data/spec/replicas must be integer"]);
    const noSelector = deployment() as { spec: { selector?: unknown } };
    delete noSelector.spec.selector;
    expect(schemaProblems([noSelector as never])[0]).toMatch(/^Deployment web: .*selector/);
  });

  it("refuses a misspelt field, which the schemas alone let through", () => {
    const typo = deployment();
    (typo.spec.template.spec.containers[0]!.readinessProbe as Record<string, unknown>).httpget = { path: "/" };
    expect(schemaProblems([typo])).toEqual([]);
    expect(strictFieldProblems([typo])).toEqual([expect.stringMatching(/^Deployment web: .*'"httpget"' does not exist in type 'IProbe'/)]);
  });

  it("refuses a kind it has no schema for", () => {
    expect(schemaProblems([{ apiVersion: "networking.k8s.io/v1", kind: "Ingres", metadata: { name: "x" } }])).toEqual([
      "Ingres x: no schema for networking.k8s.io/v1/Ingres (add it to server/deploy/kubernetes.ts)",
    ]);
  });
});

// What the schemas let through and a cluster refuses or cannot run: one breakage at a time.
describe("semantic checks", () => {
  const service = () => ({ apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] } });
  const named = () => {
    const d = deployment();
    d.spec.template.spec.containers[0]!.ports = [{ containerPort: 3000, name: "http" } as never];
    return d;
  };
  const job = () => ({
    apiVersion: "batch/v1", kind: "Job", metadata: { name: "migrate" },
    spec: { template: { metadata: { labels: { job: "migrate" } }, spec: { restartPolicy: "Never", containers: [{ name: "m", image: "web:1" }] } } },
  });
  const hpa = (min: number, max: number) => ({
    apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "web" },
    spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: min, maxReplicas: max },
  });

  it("passes a consistent set", () => {
    expect(semanticProblems([named(), service(), job(), hpa(2, 4)])).toEqual([]);
  });

  it("refuses a Deployment selector that does not match the template's labels", () => {
    const d = named();
    d.spec.selector.matchLabels = { app: "api" };
    expect(schemaProblems([d])).toEqual([]);
    expect(semanticProblems([d])).toEqual([expect.stringMatching(/^Deployment web: spec.selector.matchLabels \{"app":"api"\} does not match/)]);
  });

  it("refuses a Job whose pods restart Always", () => {
    const j = job();
    j.spec.template.spec.restartPolicy = "Always";
    expect(schemaProblems([j])).toEqual([]);
    expect(semanticProblems([j])).toEqual(["Job migrate: a Job's pods must have restartPolicy Never or OnFailure, not Always"]);
  });

  it("refuses an HPA whose maxReplicas is below minReplicas", () => {
    expect(schemaProblems([hpa(5, 3)])).toEqual([]);
    expect(semanticProblems([named(), hpa(5, 3)])).toEqual(["HorizontalPodAutoscaler web: maxReplicas 3 is below minReplicas 5"]);
  });

  it("refuses a container without an image", () => {
    const d = named();
    delete (d.spec.template.spec.containers[0] as { image?: string }).image;
    expect(semanticProblems([d])).toEqual(["Deployment web: container web has no image"]);
  });

  it("refuses a probe port or a Service targetPort that names no container port", () => {
    const d = named();
    d.spec.template.spec.containers[0]!.readinessProbe.httpGet.port = "htp";
    expect(semanticProblems([d])).toEqual(["Deployment web: container web's readinessProbe names port \"htp\", which the container does not declare"]);
    const s = service();
    s.spec.ports[0]!.targetPort = "metrics";
    expect(semanticProblems([named(), s])).toEqual(['Service web: port http targets "metrics", which no selected container declares']);
    const numeric = service() as { spec: { ports: Array<{ targetPort: unknown }> } };
    numeric.spec.ports[0]!.targetPort = 8080;
    expect(semanticProblems([named(), numeric as never])).toEqual(["Service web: port http targets 8080, which no selected container declares"]);
  });
});

describe("strict field errors name the object they are in", () => {
  it("reports a typo in the third object against the third object, not the first", () => {
    const first = deployment();
    const second = { ...deployment(), metadata: { name: "second" } };
    const third = { ...deployment(), metadata: { name: "third" } };
    (third.spec.template.spec.containers[0]!.readinessProbe as Record<string, unknown>).httpget = { path: "/" };
    expect(strictFieldProblems([first, second, third])).toEqual([expect.stringMatching(/^Deployment third: .*httpget/)]);
  });
});
