import type { Db } from "../db/client";
import { seedDemo } from "../db/seed";
import { experimentInputSchema, type ExperimentInput } from "../experiments/schema";
import { surfaceConfigs } from "../surfaces/configCache";
import { telemetry, type RequestLogRow } from "../telemetry/streams";
import { callerAs } from "./callers";

/** An A/B definition on `surface`: control on its fallback alias, treatment on production, 50/50 (owner pm@rerank.local). */
export function abDefinition(key: string, surface: string, overrides: Partial<ExperimentInput> = {}): ExperimentInput {
  return experimentInputSchema.parse({
    key, name: `Experiment ${key}`, surface, owner: "pm@rerank.local",
    variants: [
      { key: "control", name: "v1", weight: 0.5, isControl: true, modelAlias: "fallback" },
      { key: "treatment", name: "v2", weight: 0.5, modelAlias: "production" },
    ],
    ...overrides,
  });
}

/** Writes the telemetry the process has buffered: requests, then events. */
export async function flushTelemetry(): Promise<void> {
  await telemetry().requests.flush();
  await telemetry().events.flush();
}

/** A request log row as the serving path writes it (exposed, phase 1, 5 ms), for arms the hash would not produce on demand. */
export function experimentLogRow(experimentKey: string, surface: string, unit: string, variantKey: string, i: number, overrides: Partial<RequestLogRow> = {}): RequestLogRow {
  return {
    requestId: `${experimentKey}-${unit}-${i}`, ts: new Date(), surface, userKey: unit, sessionKey: null, context: {}, experimentKey, experimentPhase: 1, variantKey,
    exposed: true, modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 10, topK: 10, served: [], timings: {}, latencyMs: 5, defaultedFeatures: 0,
    ...overrides,
  };
}

/**
 * Creates and starts an interleaving experiment on `surface` through tRPC (as an admin), then
 * refreshes the serving config so the next rerank is enrolled.
 * @param variants the two variants, A (control) first: each a registry alias of the surface's model or a version id.
 */
export async function startInterleaving(key: string, surface: string, variants: [InterleavingVariant, InterleavingVariant]): Promise<void> {
  const pm = callerAs(["admin"], "pm@rerank.local");
  await pm.experiments.create({
    key, name: `${variants[0].name} vs ${variants[1].name}`, surface, kind: "interleaving", owner: "pm@rerank.local",
    variants: variants.map((v, i) => ({ weight: 0.5, isControl: i === 0, ...v })),
  } as Parameters<typeof pm.experiments.create>[0]);
  await pm.experiments.start({ key });
  await surfaceConfigs().refresh();
}

/** One arm of an interleaving experiment: its key, a display name, and which model it serves. */
export type InterleavingVariant = { key: string; name: string } & ({ modelAlias: string } | { modelVersionId: string });

/** Seeds the demo data (idempotent) and adds surfaces `keys` ranked by search-ranker's production alias, with no constraints. */
export async function seedSurfacesOnDemoModel(db: Db, keys: readonly string[]): Promise<void> {
  await seedDemo(db);
  const model = await db.model.findUniqueOrThrow({ where: { name: "search-ranker" } });
  for (const key of keys) await db.surface.create({ data: { key, name: key, modelId: model.id, modelAlias: "production", constraints: {} } });
}
