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
      // (JSON.stringify escapes newlines in strings, so a line "// i" can only be a marker.)
      const before = source.text.slice(0, d.start);
      const index = Number([...before.matchAll(/^\/\/ (\d+)$/gm)].at(-1)?.[1] ?? -1);
      const object = known[index];
      return `${object ? nameOf(object) : "manifest"}: ${message.replace(/\s+/g, " ").slice(0, 400)}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered YAML

const matchesLabels = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

/** The pod template of a workload (Deployment, StatefulSet, DaemonSet, Job), or undefined. */
const podTemplateOf = (o: Obj): Obj | undefined => o.spec?.template;

/**
 * What the schemas let through but a cluster refuses, or accepts and cannot run, one line per
 * problem naming the object:
 * - a Deployment whose selector does not match its template's labels (the API refuses it);
 * - a Job whose pod's restartPolicy is not Never or OnFailure (refused), a Deployment's not Always;
 * - an HPA with maxReplicas below minReplicas (default 1) (refused);
 * - a container without an image (a pod that cannot start);
 * - a probe or a Service targetPort naming a container port that does not exist, or a Service's
 *   numeric targetPort no selected container declares (probes fail, the Service has no endpoints).
 * @param objects parsed manifests (e.g. helm template's documents)
 */
export function semanticProblems(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  const all = objects as Obj[];
  for (const o of all) {
    const name = nameOf(o);
    const pod = podTemplateOf(o);
    if (o.kind === "Deployment" && pod) {
      const selector = o.spec?.selector?.matchLabels as Record<string, string> | undefined;
      if (!selector || Object.keys(selector).length === 0 || !matchesLabels(selector, pod.metadata?.labels)) {
        problems.push(`${name}: spec.selector.matchLabels ${JSON.stringify(selector ?? {})} does not match the template's labels ${JSON.stringify(pod.metadata?.labels ?? {})}`);
      }
      const restart = pod.spec?.restartPolicy;
      if (restart !== undefined && restart !== "Always") problems.push(`${name}: a Deployment's pods must have restartPolicy Always, not ${restart}`);
    }
    if (o.kind === "Job" && pod) {
      const restart = pod.spec?.restartPolicy;
      if (restart !== "Never" && restart !== "OnFailure") problems.push(`${name}: a Job's pods must have restartPolicy Never or OnFailure, not ${restart ?? "unset (Always)"}`);
    }
    if (o.kind === "HorizontalPodAutoscaler") {
      const min = o.spec?.minReplicas ?? 1;
      if (typeof o.spec?.maxReplicas === "number" && o.spec.maxReplicas < min) problems.push(`${name}: maxReplicas ${o.spec.maxReplicas} is below minReplicas ${min}`);
    }
    for (const container of [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])] as Obj[]) {
      if (!container.image) problems.push(`${name}: container ${container.name} has no image`);
      const portNames = new Set((container.ports ?? []).map((p: Obj) => p.name).filter(Boolean));
      for (const probeName of ["readinessProbe", "livenessProbe", "startupProbe"]) {
        const probe = container[probeName];
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
        if (typeof port === "string" && !portNames.has(port)) problems.push(`${name}: container ${container.name}'s ${probeName} names port "${port}", which the container does not declare`);
      }
    }
  }
  for (const service of all.filter((o) => o.kind === "Service" && o.spec?.selector)) {
    const pods = all.map(podTemplateOf).filter((p): p is Obj => p !== undefined && matchesLabels(service.spec.selector, p.metadata?.labels));
    if (pods.length === 0) continue; // a Service selecting nothing here may select pods made elsewhere
    const ports = pods.flatMap((p) => (p.spec?.containers ?? []) as Obj[]).flatMap((c) => (c.ports ?? []) as Obj[]);
    for (const port of (service.spec.ports ?? []) as Obj[]) {
      const target = port.targetPort ?? port.port;
      const found = typeof target === "string" ? ports.some((p) => p.name === target) : ports.some((p) => p.containerPort === target);
      if (!found) problems.push(`${nameOf(service)}: port ${port.name ?? port.port} targets ${typeof target === "string" ? `"${target}"` : target}, which no selected container declares`);
    }
  }
  return problems;
}
