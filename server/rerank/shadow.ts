import type { ConstraintConfig } from "../domain/constraints/applyConstraints";
import { featureVector } from "../domain/features/featureRows";
import type { FeatureLookup, StoredFeatures } from "../domain/features/featureSpec";
import { seedOfKey } from "../domain/hashing";
import { rankingAgreement, sampledForShadow } from "../domain/ranking/agreement";
import { largestMoves } from "../domain/ranking/moves";
import { openModel, type ModelHandle } from "../inference/sessions";
import type { ModelRef } from "../surfaces/configCache";
import { metrics } from "../telemetry/metrics";
import { serialiseShadowRow, telemetry, type ShadowMove } from "../telemetry/streams";
import type { RerankRequest } from "./schema";
import { rankWithConstraints, scoreWithModels, type ItemLookup, type TextInput } from "./scoring";
import { env } from "../config";

// Shadow traffic: a sample of live requests is scored again by a candidate model after the
// response has gone out, with the same features and constraints, and the two rankings are compared
// (overlap@10 of the served lists, Kendall's τ and Spearman's ρ of the full orderings, score and
// latency). Nothing here can touch the response: jobs wait in a bounded queue drained one at a time
// from setImmediate (between requests, not inside one); a full queue drops the mirror and counts it,
// and a shadow model's fault is recorded on its row, never raised. Each row also keeps the items the
// two models disagree about most, with the features each model saw for them, so a disagreement can
// be read item by item.

/** Items of a comparison whose features are kept (largest rank moves first). */
const MOVES_KEPT = 5;

export interface ShadowJob {
  surface: string;
  shadow: ModelRef;
  constraints: ConstraintConfig;
  request: RerankRequest;
  requestId: string;
  /** The id's owner (requestIdOwner; null: shared): with the id and ts, the request's identity. */
  owner: string | null;
  ts: Date;
  items: ItemLookup;
  user: StoredFeatures | undefined;
  /** What was served (after constraints), best first. */
  served: Array<{ id: string; score: number }>;
  /** The serving model's scores, index-aligned with request.candidates (retrieval order when it fell back). */
  primaryScores: Float32Array;
  primaryVersionId: string | null;
  primaryScoreMs: number;
  /** The surface's scoring budget, which the shadow model gets too. */
  timeoutMs: number;
  /** POST /v2/rerank's documents, rank_fields and max_tokens_per_doc, for a cross-encoder shadow. */
  text?: Omit<TextInput, "query">;
}

// One queue per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankShadowQueue?: { jobs: ShadowJob[]; draining: boolean; idle: Array<() => void> } };
const mirrors = (holder.__rerankShadowQueue ??= { jobs: [], draining: false, idle: [] });

/** Whether this request is in the surface's shadow sample (deterministic in the request id). */
export function inShadowSample(requestId: string, rate: number): boolean {
  return sampledForShadow(seedOfKey(`shadow:${requestId}`), rate);
}

/** Queues a mirrored request; returns false (and counts it) when the queue is full. */
export function mirrorToShadow(job: ShadowJob): boolean {
  if (mirrors.jobs.length >= env().SHADOW_QUEUE_MAX) {
    metrics.shadowRequests.inc({ surface: job.surface, outcome: "dropped_queue_full" });
    return false;
  }
  mirrors.jobs.push(job);
  if (!mirrors.draining) {
    mirrors.draining = true;
    setImmediate(drain);
  }
  return true;
}

/** Resolves once every queued mirror has been scored and handed to the telemetry buffer (tests, shutdown). */
export function shadowIdle(): Promise<void> {
  return mirrors.draining ? new Promise((resolve) => mirrors.idle.push(resolve)) : Promise.resolve();
}

async function drain(): Promise<void> {
  const job = mirrors.jobs.shift();
  if (!job) {
    mirrors.draining = false;
    for (const resolve of mirrors.idle.splice(0)) resolve();
    return;
  }
  await runShadow(job).catch(() => {});
  setImmediate(drain);
}

async function runShadow(job: ShadowJob): Promise<void> {
  const started = performance.now();
  const base = {
    requestId: job.requestId, ts: job.ts, surface: job.surface, primaryVersionId: job.primaryVersionId, shadowVersionId: job.shadow.versionId,
    primaryRanking: job.served, primaryLatencyMs: job.primaryScoreMs, caller: job.owner,
  };
  const streams = telemetry();
  try {
    // Features as of the request, so staleness is judged as it was for the serving model. The
    // surface's budget and a breaker of its own: a slow or failing candidate soon stops being run
    // at all (its rows record why), instead of taking the thread from live requests. No cascade:
    // a shadow model's fault is its result.
    const input = { candidates: job.request.candidates, items: job.items, user: job.user, asOf: job.ts.getTime(), text: { query: job.request.context?.query ?? "", ...job.text } };
    const scored = await scoreWithModels(`${job.surface}#shadow`, [job.shadow], job.timeoutMs, input);
    if (scored.servedBy !== "model") throw scored.failure;
    const shadowLatencyMs = performance.now() - started;
    const shadowRanking = rankWithConstraints(scored.scores, input, job.constraints, job.request.topK).items.map((item) => ({ id: item.id, score: round6(item.score) }));
    const agreement = rankingAgreement(job.served.map((s) => s.id), shadowRanking.map((s) => s.id), job.primaryScores, scored.scores);
    const moves = await movesWithFeatures(job, scored.handle!, scored.scores, shadowRanking);
    metrics.shadowRequests.inc({ surface: job.surface, outcome: "compared" });
    if (streams.enabled) streams.shadow.enqueue(serialiseShadowRow({ ...base, shadowRanking, ...agreement, shadowLatencyMs, moves, error: null }));
  } catch (error) {
    metrics.shadowRequests.inc({ surface: job.surface, outcome: "shadow_error" });
    const message = String((error as Error).message ?? error).split("\n")[0]!.slice(0, 500);
    if (streams.enabled) {
      streams.shadow.enqueue(serialiseShadowRow({ ...base, shadowRanking: [], overlapAt10: null, rbo: null, kendallTau: null, spearmanRho: null, shadowLatencyMs: null, moves: null, error: message }));
    }
  }
}

/**
 * The items shown by either side whose ranks the two models disagree about most, with the features
 * both models saw for them (the serving model's value where both use a feature; a feature only the
 * candidate uses is added). Features as of the request's time, so staleness is judged as it was.
 */
async function movesWithFeatures(job: ShadowJob, shadow: ModelHandle, shadowScores: Float32Array, shadowRanking: Array<{ id: string }>): Promise<ShadowMove[]> {
  const ids = job.request.candidates.map((c) => c.id);
  const shown = [...job.served.map((s) => s.id), ...shadowRanking.map((s) => s.id)];
  const moved = largestMoves(ids, job.primaryScores, shadowScores, shown, MOVES_KEPT);
  const lookup: FeatureLookup = { item: (id) => job.items.get(id)?.features, user: job.user };
  // The serving model is open (it just served this request); one that failed to open is skipped.
  const primary = job.primaryVersionId ? await openModel({ versionId: job.primaryVersionId }).catch(() => null) : null;
  const specs = primary ? [primary.featureSpec, shadow.featureSpec] : [shadow.featureSpec];
  return moved.map((m) => {
    // No prototype: `in` must not find "constructor" or "toString" on Object.prototype and skip that feature.
    const features: Record<string, number | null> = Object.create(null) as Record<string, number | null>;
    const defaulted = new Set<string>();
    for (const spec of specs) {
      const vector = featureVector(spec, job.request.candidates[m.index]!, lookup, job.ts.getTime());
      spec.forEach((def, i) => {
        if (def.name in features) return;
        features[def.name] = vector.values[i]!;
        if (vector.defaulted.includes(def.name)) defaulted.add(def.name);
      });
    }
    return {
      id: m.id, primaryRank: m.primaryRank, shadowRank: m.shadowRank, move: m.move,
      primaryScore: round6(job.primaryScores[m.index]!), shadowScore: round6(shadowScores[m.index]!), features, defaulted: [...defaulted],
    };
  });
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
