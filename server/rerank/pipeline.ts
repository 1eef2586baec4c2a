import { keyedHash } from "../redact";
import { randomUUID } from "node:crypto";
import { applyConstraints, type ConstraintConfig, type ConstraintOutcome, type RankedCandidate } from "../domain/constraints/applyConstraints";
import { teamDraftInterleave } from "../domain/interleaving/teamDraft";
import { buildFeatureMatrix } from "../domain/features/featureSpec";
import { orderByScore, retrievalOrderScores } from "../domain/ranking/order";
import { InvalidInputError } from "../errors";
import { getModel, type ModelHandle } from "../inference/sessions";
import { metrics } from "../telemetry/metrics";
import { serialiseRequestLogRow, telemetry } from "../telemetry/streams";
import { fetchArtifact } from "./artifacts";
import { assignExperiment } from "./assignment";
import { failureReason, scoringBreaker } from "./breakers";
import type { FallbackReason, RerankRequest, RerankResponse } from "./schema";
import { inCanary, rolloutLogKey } from "../domain/rollouts/canary";
import { seedOfKey } from "../domain/hashing";
import { keepScoringRows } from "./scoringSample";
import { inShadowSample, mirrorToShadow, type ItemLookup } from "./shadow";
import { recentResponse, servingState } from "./state";
import type { ModelRef, SurfaceConfig } from "./surfaceConfig";

// The rerank pipeline: resolve the surface → enrich features → score all candidates in one
// onnxruntime run → constraints → top k → respond; the log is written after the response.
// A model fault never fails the request: it is served by the cascade model or retrieval order,
// with the same constraints, and marked.

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

interface Scored {
  scores: Float32Array;
  handle: ModelHandle | null;
  ref: ModelRef | null;
  fallbackReason: FallbackReason | null;
  servedBy: RerankResponse["fallback"]["servedBy"];
  defaulted: number;
  stale: number;
  scoreMs: number;
}

export interface RerankOptions {
  /** Keep this request's full scoring rows whatever DEBUG_SAMPLE_RATE says (requests sent from the Debug page). */
  keepScoringRows?: boolean;
}

export async function rerank(request: RerankRequest, options: RerankOptions = {}): Promise<RerankResponse> {
  const started = performance.now();
  const state = servingState();
  const requestId = request.requestId ?? randomUUID();
  if (request.requestId) {
    const replay = state.recent.get(request.requestId);
    if (replay && replay.surface === request.surface) return recentResponse(replay);
  }

  const surface = await state.surfaces.get(request.surface);
  if (request.candidates.length > surface.maxCandidates) {
    throw new InvalidInputError("candidates", `${request.candidates.length} candidates exceed surface "${surface.key}"'s limit of ${surface.maxCandidates}`);
  }
  const tResolve = performance.now();

  const ids = request.candidates.map((c) => c.id);
  const [items, user] = await Promise.all([state.features.getItems(ids), state.features.getUser(request.userKey)]);
  const tFeatures = performance.now();

  const assignment = assignExperiment(surface, request);
  let scored: Scored;
  let outcome: ConstraintOutcome;
  let scoreMs: number;
  let constraintsMs: number;
  let shadowInput: { constraints: ConstraintConfig; scores: Float32Array } | null = null;
  let canary: CanaryArm | null = null;
  if (assignment?.experiment.kind === "interleaving") {
    // Both rankers rank the same candidates; team-draft interleaving merges their served lists and
    // credits each item to the ranker that contributed it.
    const [a, b] = assignment.experiment.variants;
    const [left, right] = [await rankWith(surface, a!.model, a!.constraints, request, items, user), await rankWith(surface, b!.model, b!.constraints, request, items, user)];
    const mergeStarted = performance.now();
    const merged = teamDraftInterleave(left.outcome.items.map((i) => i.id), right.outcome.items.map((i) => i.id), request.topK, requestId);
    const byId = new Map([...right.outcome.items, ...left.outcome.items].map((i) => [i.id, i]));
    outcome = {
      ...left.outcome,
      removed: left.outcome.removed,
      items: merged.ids.map((id, i) => {
        const item = byId.get(id)!;
        const team = merged.teams[i]!;
        // The first item also records whether the two rankings differed (only those requests can discriminate).
        const extra = i === 0 && merged.competitive ? ["interleaving:competitive"] : [];
        // Items both rankings put in the same leading positions belong to neither variant.
        const credit = team === "shared" ? "interleaving-shared" : `interleaving:${team === "A" ? a!.key : b!.key}`;
        return { ...item, reasons: [...item.reasons, credit, ...extra] };
      }),
    };
    scored = { ...left.scored, fallbackReason: left.scored.fallbackReason ?? right.scored.fallbackReason };
    scoreMs = left.scored.scoreMs + right.scored.scoreMs;
    constraintsMs = left.constraintsMs + right.constraintsMs + (performance.now() - mergeStarted);
  } else {
    // A canary rollout takes its share of the traffic that no experiment enrolled, sticky per unit.
    if (!assignment && surface.rollout) {
      const unit = request.userKey ?? request.sessionKey ?? requestId;
      canary = { id: surface.rollout.id, arm: inCanary(seedOfKey(`${surface.rollout.id}:${unit}`), surface.rollout.percent) ? "canary" : "baseline" };
    }
    const model = assignment ? assignment.variant.model ?? surface.primary : canary?.arm === "canary" ? surface.rollout!.canary : surface.primary;
    const constraints = assignment ? assignment.variant.constraints : surface.constraints;
    const ranked = await rankWith(surface, model, constraints, request, items, user);
    scored = ranked.scored;
    outcome = ranked.outcome;
    shadowInput = { constraints, scores: scored.scores };
    scoreMs = scored.scoreMs;
    constraintsMs = ranked.constraintsMs;
  }

  const unknownCandidates = ids.length - items.size;
  const response: RerankResponse = {
    requestId,
    surface: surface.key,
    items: outcome.items.map((item, i) => ({ id: item.id, score: Math.round(item.score * 1e6) / 1e6, position: i + 1, reasons: item.reasons })),
    modelVersion: scored.handle && scored.ref ? { id: scored.handle.versionId, name: scored.handle.name, version: scored.handle.version, alias: scored.ref.alias } : null,
    variant: assignment
      ? { experiment: assignment.experiment.key, key: assignment.experiment.kind === "interleaving" ? "interleaved" : assignment.variant.key, phase: assignment.experiment.phase }
      : null,
    fallback: { used: scored.fallbackReason !== null, reason: scored.fallbackReason, servedBy: scored.servedBy },
    removed: outcome.removed,
    constraints: { capsFeasible: outcome.capsFeasible, floors: outcome.floors },
    features: { defaulted: scored.defaulted, stale: scored.stale, unknownCandidates },
    timings: {
      resolve: round3(tResolve - started),
      features: round3(tFeatures - tResolve),
      score: round3(scoreMs),
      constraints: round3(constraintsMs),
      total: round3(performance.now() - started),
    },
  };
  const ts = new Date();
  // Events are credited to the experiment's randomisation unit (its hash attribute), so a
  // session-randomised experiment counts sessions, not the user behind them.
  const unitKey = (assignment ? request[assignment.experiment.hashAttribute] : undefined) ?? request.userKey ?? request.sessionKey ?? null;
  state.recent.set(requestId, { json: JSON.stringify(response), surface: response.surface, ts: ts.getTime(), userKey: unitKey ? keyedHash(unitKey) : null });
  record(request, response, ts, canary);
  keepScoringRows({ request, response, ts, items, user, always: options.keepScoringRows });
  // Only requests the surface's serving model itself scored are compared (not an experiment's
  // variant or interleaved blend, not a fallback, not the canary arm), so every stored comparison
  // is against the same model. The kill switch stops every model run on the surface, the shadow's too.
  if (shadowInput && !assignment && surface.shadow && !surface.killSwitch && scored.servedBy === "model" && canary?.arm !== "canary" && inShadowSample(requestId, surface.shadowSampleRate)) {
    mirrorToShadow({
      surface: surface.key, shadow: surface.shadow, constraints: shadowInput.constraints, request, requestId, ts, items, user,
      served: response.items.map((item) => ({ id: item.id, score: item.score })), primaryScores: shadowInput.scores,
      primaryVersionId: response.modelVersion?.id ?? null, primaryScoreMs: response.timings.score, timeoutMs: surface.timeoutMs,
    });
  }
  return response;
}


/** Scores with one model (or its fallbacks) and applies one set of constraints. */
async function rankWith(
  surface: SurfaceConfig,
  model: ModelRef | null,
  constraints: ConstraintConfig,
  request: RerankRequest,
  items: ItemLookup,
  user: { values: Record<string, unknown>; updatedAt: number } | undefined,
): Promise<{ scored: Scored; outcome: ConstraintOutcome; constraintsMs: number }> {
  const started = performance.now();
  const scored = await scoreCandidates(surface, model, request, items, user);
  const scoredAt = performance.now();
  scored.scoreMs = scoredAt - started;
  const ranked: RankedCandidate[] = orderByScore(scored.scores).map((i) => {
    const c = request.candidates[i]!;
    return { id: c.id, score: scored.scores[i]!, attrs: items.get(c.id)?.attrs ?? {} };
  });
  const outcome = applyConstraints(ranked, constraints, request.topK);
  return { scored, outcome, constraintsMs: performance.now() - scoredAt };
}

async function scoreCandidates(
  surface: SurfaceConfig,
  primary: ModelRef | null,
  request: RerankRequest,
  items: ItemLookup,
  user: { values: Record<string, unknown>; updatedAt: number } | undefined,
): Promise<Scored> {
  const n = request.candidates.length;
  const retrieval = (reason: FallbackReason): Scored => ({
    scores: retrievalOrderScores(n), handle: null, ref: null, fallbackReason: reason, servedBy: "retrieval_order", defaulted: 0, stale: 0, scoreMs: 0,
  });
  if (surface.killSwitch) return retrieval("kill_switch");
  if (!primary) return retrieval("no_model");

  let reason: FallbackReason | null = null;
  for (const ref of [primary, surface.fallback]) {
    if (!ref) continue;
    let handle: ModelHandle;
    try {
      handle = await getModel(ref.versionId, fetchArtifact);
    } catch {
      reason ??= "model_load_error";
      continue;
    }
    const matrix = buildFeatureMatrix(handle.featureSpec, request.candidates, { item: (id) => items.get(id)?.features, user }, Date.now());
    const runStarted = performance.now();
    try {
      const scores = await scoringBreaker(surface.key, handle, surface.timeoutMs).fire(handle, matrix.data, matrix.rows, matrix.cols);
      metrics.inferenceMs.observe({ model: `${handle.name}@${handle.version}` }, performance.now() - runStarted);
      observeFeatures(surface.key, matrix);
      servingState().inputs.observe(surface.key, handle.versionId, handle.featureSpec, matrix);
      return {
        scores, handle, ref, fallbackReason: reason, servedBy: reason ? "cascade" : "model", defaulted: matrix.defaulted, stale: matrix.stale, scoreMs: 0,
      };
    } catch (error) {
      reason ??= failureReason(error);
    }
  }
  return retrieval(reason ?? "model_error");
}

function observeFeatures(surface: string, matrix: ReturnType<typeof buildFeatureMatrix>) {
  for (const [feature, count] of Object.entries(matrix.defaultedByFeature)) metrics.defaultedFeatures.inc({ surface, feature }, count);
  if (matrix.stale) metrics.staleFeatures.inc({ surface }, matrix.stale);
  if (matrix.unknownItems) metrics.unknownCandidates.inc({ surface }, matrix.unknownItems);
  metrics.featureAge.set({ surface }, matrix.maxAgeSeconds);
}

/** Which arm of a running canary rollout served a request; logged so the analysis can compare the arms. */
interface CanaryArm {
  id: string;
  arm: "canary" | "baseline";
}


function record(request: RerankRequest, response: RerankResponse, ts: Date, canary: CanaryArm | null) {
  const surface = response.surface;
  metrics.requests.inc({ surface, outcome: response.fallback.used ? "fallback" : "model" });
  if (response.fallback.reason) metrics.fallbacks.inc({ surface, reason: response.fallback.reason });
  for (const stage of ["resolve", "features", "score", "constraints", "total"] as const) metrics.stageMs.observe({ surface, stage }, response.timings[stage]);
  metrics.candidates.observe({ surface }, request.candidates.length);
  const streams = telemetry();
  if (!streams.enabled) return;
  streams.requests.enqueue(serialiseRequestLogRow({
    requestId: response.requestId,
    ts,
    surface,
    // The log keeps keyed hashes (HMAC-SHA256 under AUTH_SECRET), never the caller's raw keys: units
    // still count and join, but the log names nobody.
    userKey: request.userKey ? keyedHash(request.userKey) : null,
    sessionKey: request.sessionKey ? keyedHash(request.sessionKey) : null,
    context: request.context ?? {},
    experimentKey: response.variant?.experiment ?? (canary ? rolloutLogKey(canary.id) : null),
    experimentPhase: response.variant?.phase ?? null,
    variantKey: response.variant?.key ?? canary?.arm ?? null,
    exposed: response.variant !== null,
    modelVersionId: response.modelVersion?.id ?? null,
    fallbackUsed: response.fallback.used,
    fallbackReason: response.fallback.reason,
    candidateCount: request.candidates.length,
    topK: request.topK,
    served: response.items,
    timings: response.timings,
    latencyMs: response.timings.total,
    defaultedFeatures: response.features.defaulted,
  }));
}
