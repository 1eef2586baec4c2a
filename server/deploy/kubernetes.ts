import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import ts from "typescript";

// Validates rendered Kubernetes objects offline against the Kubernetes OpenAPI schemas, as shipped
// by the npm package kubernetes-models (validators generated from the API's OpenAPI spec, plus the
// Prometheus Operator's CRDs in @kubernetes-models/prometheus-operator). Two passes:
//   1. the schema validators: types, required fields, enums, formats (int-or-string, quantities…);
//   2. strict fields: the same package's TypeScript interfaces, type-checked with excess-property
//      checks, so a misspelt field (`readinessProbe.httpget`) is an error, as kubeconform -strict
//      and kubectl's strict field validation make it. The schema validators allow unknown fields.

interface KubeObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}

/** The kinds the chart may render: apiVersion/kind → the model (validator) and its interface's module. */
const KINDS: Record<string, { model: { new (data: never): { validate(): void } }; module: string; iface: string }> = {
  "v1/ConfigMap": { model: ConfigMap as never, module: "kubernetes-models/v1/ConfigMap", iface: "IConfigMap" },
  "v1/Secret": { model: Secret as never, module: "kubernetes-models/v1/Secret", iface: "ISecret" },
  "v1/Service": { model: Service as never, module: "kubernetes-models/v1/Service", iface: "IService" },
  "apps/v1/Deployment": { model: Deployment as never, module: "kubernetes-models/apps/v1/Deployment", iface: "IDeployment" },
  "batch/v1/Job": { model: Job as never, module: "kubernetes-models/batch/v1/Job", iface: "IJob" },
  "autoscaling/v2/HorizontalPodAutoscaler": { model: HorizontalPodAutoscaler as never, module: "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler", iface: "IHorizontalPodAutoscaler" },
  "policy/v1/PodDisruptionBudget": { model: PodDisruptionBudget as never, module: "kubernetes-models/policy/v1/PodDisruptionBudget", iface: "IPodDisruptionBudget" },
  "monitoring.coreos.com/v1/ServiceMonitor": { model: ServiceMonitor as never, module: "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", iface: "IServiceMonitor" },
};

export const kindOf = (o: KubeObject) => `${String(o.apiVersion)}/${String(o.kind)}`;
const nameOf = (o: KubeObject) => `${String(o.kind)} ${String(o.metadata?.name ?? "(no name)")}`;

/**
 * Problems of each object against its schema, one line each ("Deployment r-rerank-console:
 * data/spec/replicas must be integer"); an empty list when all are valid.
 * @param objects parsed manifests (e.g. helm template's documents)
 */
export function schemaProblems(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const kind = KINDS[kindOf(object)];
    if (!kind) {
      problems.push(`${nameOf(object)}: no schema for ${kindOf(object)} (add it to server/deploy/kubernetes.ts)`);
      continue;
    }
    try {
      new kind.model(object as never).validate();
    } catch (error) {
      problems.push(`${nameOf(object)}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/**
 * Fields the Kubernetes API does not define, found by type-checking each object as a literal of
 * its kubernetes-models interface (excess-property checks reach every nested object).
 * @returns one line per unknown or mistyped field, naming the object and the field.
 */
export function strictFieldProblems(objects: KubeObject[]): string[] {
  const known = objects.filter((o) => KINDS[kindOf(o)]);
  if (known.length === 0) return [];
  const dir = mkdtempSync(path.join(os.tmpdir(), "rerank-kube-"));
  try {
    const imports = [...new Set(known.map((o) => KINDS[kindOf(o)]!))].map((k) => `import type { ${k.iface} } from "${k.module}";`);
    const lines = known.map((o, i) => `// ${i}\nexport const o${i}: ${KINDS[kindOf(o)]!.iface} = ${JSON.stringify(o, null, 1)};`);
    const file = path.join(dir, "manifests.ts");
    writeFileSync(file, [...imports, ...lines].join("\n"));
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022,
      baseUrl: process.cwd(), typeRoots: [], types: [],
      // Resolve the packages from this project's node_modules.
      paths: { "*": [path.join(process.cwd(), "node_modules", "*")] },
    });
    const source = program.getSourceFile(file)!;
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
      if (d.file !== source || d.start === undefined) return message;
      // Which object: the nearest "// i" marker above the error.
      const before = source.text.slice(0, d.start);
      const index = Number(/\/\/ (\d+)\n[^]*$/.exec(before)?.[1] ?? -1);
      const object = known[index];
      return `${object ? nameOf(object) : "manifest"}: ${message.replace(/\s+/g, " ").slice(0, 400)}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
