import { describe, expect, it } from "vitest";
import { schemaProblems, strictFieldProblems } from "./kubernetes";

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
