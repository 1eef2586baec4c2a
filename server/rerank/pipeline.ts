import { randomUUID } from "node:crypto";
import { IN_PROCESS_CALLER } from "../auth/principal";
import type { ConstraintConfig, ConstraintOutcome } from "../domain/constraints/applyConstraints";
import { seedOfKey } from "../domain/hashing";
import { STAGE2_REASON } from "../domain/ranking/stages";
import { creditReasons } from "../domain/interleaving/credit";
import { teamDraftInterleave } from "../domain/interleaving/teamDraft";
import { inCanary, rolloutLogKey } from "../domain/rollouts/canary";
import { env } from "../config";
import { InvalidInputError } from "../errors";
import { inputSampler } from "../features/inputSampler";
import { featureStore } from "../features/store";
import { keyedHash } from "../redact";
import { surfaceConfigs, type ModelRef, type SurfaceConfig } from "../surfaces/configCache";
import { metrics } from "../telemetry/metrics";
import { serialiseRequestLogRow, telemetry } from "../telemetry/streams";
import { StageClock } from "../telemetry/tracing";
import type { Context } from "@opentelemetry/api";
import { assignExperiment, type ExperimentAssignment } from "./assignment";
import { RequestIdReusedError, requestFingerprint } from "./fingerprint";
import { pendingRequests, recentKey, recentRequests, recentResponse, rememberResponse, requestIdOwner } from "./recent";
import type { RerankRequest, RerankResponse, Stage2Outcome } from "./schema";
import { rankWithConstraints, retrievalOrder, scoreWithModels, type Scored, type ScoringInput, type TextInput } from "./scoring";
import { keepScoringRows } from "./scoringSample";
import { inShadowSample, mirrorToShadow } from "./shadow";
import { rescoreArm } from "./stage2";

// The rerank pipeline, one stage per line of `rerank()`:
//   plan        resolve the surface; pick the arm(s): an experiment's variant (two for interleaving), the canary, or the primary
//   enrich      item and user features from the online store (cached; only misses are awaited)
//   score       each arm's model in one onnxruntime run, down its cascade on faults (scoring.ts)
//   rescore     on a surface with a stage 2: the top rerankCount of each arm rescored by a heavier model (stage2.ts)
//   constrain   each arm's ordering through its constraints and the top k
//   interleave  two arms merge by team draft, each item credited to its ranker (one arm passes through)
//   record      recent responses, metrics, the request log, the scoring sample and the shadow mirror, after the response is built
// A model fault never fails the request: it is served by the cascade model or retrieval order, with
// the same constraints, and marked. The stage clock times each stage (the response's timings) and,
// when OTEL_EXPORTER_OTLP_ENDPOINT is set, turns them into a span per stage (telemetry/tracing.ts).

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/** Which arm of a running canary rollout served a request; logged so the analysis can compare the arms. */
interface CanaryArm {
  id: string;
  arm: "canary" | "baseline";
}

/** One ranking to compute: a model (null: none configured) and the constraints its list passes. */
interface Arm {
  key: string;
  model: ModelRef | null;
  constraints: ConstraintConfig;
}

/** What the request will be served with, decided before any feature is read. */
export interface Plan {
  requestId: string;
  surface: SurfaceConfig;
  assignment: ExperimentAssignment | null;
  canary: CanaryArm | null;
  /** One arm, or two (A, B) for an interleaving experiment. */
  arms: Arm[];
}

interface Enriched extends Omit<ScoringInput, "asOf"> {
  /** Candidates the catalog does not know. */
  unknownCandidates: number;
  /** Some candidates' or the user's features were not read in time (or the read failed): served with defaults. */
  timedOut: boolean;
}

export interface RerankOptions {
  /** Keep this request's full scoring rows whatever DEBUG_SAMPLE_RATE says (requests sent from the Debug page). */
  keepScoringRows?: boolean;
  /**
   * Who sent it (server/auth/principal.ts callerOf): a request id the client chose is that caller's
   * own (recent.ts requestIdOwner). Omitted: IN_PROCESS_CALLER (tests, benchmarks, simulations).
   */
  caller?: string;
  /** The caller's trace context (telemetry/tracing.ts incomingTraceContext): the request's spans join its trace. */
  traceParent?: Context;
  /** POST /v2/rerank's documents as sent (index-aligned with the candidates), rank_fields and max_tokens_per_doc, for cross-encoders. */
  text?: Omit<TextInput, "query">;
}

/**
 * Reranks one request (tRPC, in-process callers, POST /v2/rerank).
 * @throws RequestIdReusedError (409 on `requestId`) when its requestId was used for another request (answerOnce).
 */
export async function rerank(request: RerankRequest, options: RerankOptions = {}): Promise<RerankResponse> {
  const answer = await answerOnce(request, options);
  return answer.response ?? recentResponse(answer);
}

/**
 * Reranks one request and returns the response as JSON text (POST /api/v1/rerank): serialised once,
 * for the recent-response cache and the wire alike.
 * @throws RequestIdReusedError (409 on `requestId`) when its requestId was used for another request (answerOnce).
 */
export async function rerankJson(request: RerankRequest, caller: string, traceParent?: Context): Promise<string> {
  return (await answerOnce(request, { caller, traceParent })).json;
}

/** A served response (and its object when this call built it; a replay has only the text). */
interface Answer {
  response: RerankResponse | null;
  json: string;
}

/**
 * A request id its owner (requestIdOwner) chose is answered once per request: a repeat of the same
 * request (same fingerprint, fingerprint.ts) within the hour gets the first response again, also while
 * the first is still being served (it waits for it); the id with another request — another surface,
 * candidates, topK, context, user — is refused with RequestIdReusedError (409 naming `requestId`) and
 * nothing is served or logged; so is an id the server generated for an earlier request. What this
 * process no longer remembers (evicted, older than an hour, served by another worker or before a
 * restart) is served anew: README, Serving. Costs a fingerprint only when the request names its id.
 */
async function answerOnce(request: RerankRequest, options: RerankOptions): Promise<Answer> {
  if (request.requestId === undefined) return serve(request, options, null);
  const key = recentKey(request.requestId, requestIdOwner(request, options.caller ?? IN_PROCESS_CALLER));
  const fingerprint = requestFingerprint(request, options.text);
  const recent = recentRequests().get(key);
  if (recent) {
    if (recent.fingerprint !== fingerprint) throw new RequestIdReusedError(request.requestId);
    return { response: null, json: recent.json };
  }
  const pending = pendingRequests();
  const first = pending.get(key);
  if (first) {
    if (first.fingerprint !== fingerprint) throw new RequestIdReusedError(request.requestId);
    // The first failed (a bad surface, the database): nothing was kept, so this one is served on its own.
    const answer = await first.served.catch(() => null);
    return answer ? { response: null, json: answer.json } : answerOnce(request, options);
  }
  const served = serve(request, options, fingerprint);
  pending.set(key, { fingerprint, served });
  try {
    return await served;
  } finally {
    if (pending.get(key)?.served === served) pending.delete(key);
  }
}

/** Serves a request: plan, enrich, score, rescore, constrain, interleave, record. `fingerprint`: its request's when the caller chose its id (answerOnce). */
async function serve(request: RerankRequest, options: RerankOptions, fingerprint: string | null): Promise<Answer & { response: RerankResponse }> {
  const clock = new StageClock();
  const plan = clock.end("plan", await planRequest(request));
  const caller = options.caller ?? IN_PROCESS_CALLER;
  const inputs = clock.end("enrich", await enrich(request, plan.surface, options.text, caller));
  const stage1 = clock.end("score", await score(plan, inputs, caller));
  const { scored, stage2 } = plan.surface.stage2 ? clock.end("rescore", await rescore(plan, inputs, stage1, caller)) : { scored: stage1, stage2: null };
  const ranked = clock.end("constrain", constrain(plan, scored, inputs, request.topK, stage2));
  const served = clock.end("interleave", interleave(plan, ranked, request.topK, stage2));
  const response = respond(plan, inputs, scored, served, clock, stage2);
  const json = record(plan, request, inputs, scored, stage1, response, options, clock, fingerprint);
  clock.trace(() => ({ "rerank.request_id": response.requestId, "rerank.surface": response.surface, "rerank.model_version": modelVersionName(response) }), response.fallback.used, options.traceParent);
  return { response, json };
}

const modelVersionName = (r: RerankResponse) => (r.modelVersion ? `${r.modelVersion.name}@${r.modelVersion.version}` : "none");

/** Resolves the surface (cached config) and decides the arm(s): experiment variant(s), canary or primary. */
export async function planRequest(request: RerankRequest): Promise<Plan> {
  const configs = surfaceConfigs();
  const surface = configs.peek(request.surface) ?? (await configs.get(request.surface));
  if (request.candidates.length > surface.maxCandidates) {
    throw new InvalidInputError("candidates", `${request.candidates.length} candidates exceed surface "${surface.key}"'s limit of ${surface.maxCandidates}`);
  }
  const requestId = request.requestId ?? randomUUID();
  const assignment = assignExperiment(surface, request);
  if (assignment?.experiment.kind === "interleaving") {
    // Both rankers rank the same candidates; interleave() merges their served lists.
    const arms = assignment.experiment.variants.map((v) => ({ key: v.key, model: v.model, constraints: v.constraints }));
    return { requestId, surface, assignment, canary: null, arms };
  }
  if (assignment) {
    const v = assignment.variant;
    return { requestId, surface, assignment, canary: null, arms: [{ key: v.key, model: v.model ?? surface.primary, constraints: v.constraints }] };
  }
  // A canary rollout takes its share of the traffic that no experiment enrolled, sticky per unit.
  let canary: CanaryArm | null = null;
  if (surface.rollout) {
    const unit = request.userKey ?? request.sessionKey ?? requestId;
    canary = { id: surface.rollout.id, arm: inCanary(seedOfKey(`${surface.rollout.id}:${unit}`), surface.rollout.percent) ? "canary" : "baseline" };
  }
  const model = canary?.arm === "canary" ? surface.rollout!.canary : surface.primary;
  return { requestId, surface, assignment: null, canary, arms: [{ key: canary?.arm ?? "primary", model, constraints: surface.constraints }] };
}

/**
 * Item attributes and features of the candidates, and the user's features. Cache misses are awaited
 * at most FEATURE_READ_BUDGET_SHARE of the surface's budget (its timeoutMs): past it, or when the read
 * fails, the request goes on with defaults for what was not read, counted and marked (features.timedOut).
 * Candidates not read in time are treated as unknown ones are: default features, no attributes.
 * `caller`'s misses take their turn in the store's read queue (features/store.ts), fair among callers.
 */
async function enrich(request: RerankRequest, surface: SurfaceConfig, text: RerankOptions["text"], caller: string): Promise<Enriched> {
  const store = featureStore();
  const waitMs = env().FEATURE_READ_BUDGET_SHARE * surface.timeoutMs;
  const [read, user] = await Promise.all([store.readItems(request.candidates.map((c) => c.id), waitMs, caller), store.readUser(request.userKey, waitMs, caller)]);
  const timedOut = read.unread > 0 || user.unread;
  if (timedOut) metrics.featureReadTimeouts.inc({ surface: surface.key });
  return {
    candidates: request.candidates, items: read.items, user: user.user, unknownCandidates: request.candidates.length - read.items.size - read.unread, timedOut,
    text: { query: request.context?.query ?? "", ...text },
  };
}

/**
 * Scores the candidates once per arm (the kill switch stops every model run on the surface). A model
 * that, its features not read in time (features.timedOut), gave every candidate the same score ranked
 * nothing: request order serves, and the arm says so (fallback "timeout", servedBy "retrieval_order")
 * rather than "model" (break test: a request whose 500 items all defaulted was served in input order
 * as the model's ranking).
 */
async function score(plan: Plan, inputs: Enriched, caller: string): Promise<Scored[]> {
  const { surface } = plan;
  const scored: Scored[] = [];
  for (const arm of plan.arms) {
    if (surface.killSwitch) {
      scored.push(retrievalOrder(inputs.candidates.length, "kill_switch"));
      continue;
    }
    const result = await scoreWithModels(surface.key, arm.model ? [arm.model, surface.fallback] : [], surface.timeoutMs, { ...inputs, asOf: Date.now(), caller });
    if (result.handle) observeScored(surface.key, result.handle, result.matrix, result.runMs);
    const rankedNothing = inputs.timedOut && result.servedBy !== "retrieval_order" && inputs.candidates.length > 1 && allEqual(result.scores);
    // The matrix stays: the response's features.defaulted counts what the model was given.
    scored.push(rankedNothing ? { ...retrievalOrder(inputs.candidates.length, "timeout"), matrix: result.matrix } : result);
  }
  return scored;
}

/** Whether every score is the same (a model given no feature that tells the candidates apart). */
function allEqual(scores: Float32Array): boolean {
  for (let i = 1; i < scores.length; i++) if (scores[i] !== scores[0]) return false;
  return true;
}

/** Stage 2 of each arm, index-aligned with plan.arms (one entry, or two for an interleaving experiment). */
type ArmStage2 = Stage2Outcome[];

/** Stage 2 of the surface's cascade over each arm's stage-1 scores (both arms of an interleaving experiment at once). */
async function rescore(plan: Plan, inputs: Enriched, stage1: Scored[], caller: string): Promise<{ scored: Scored[]; stage2: ArmStage2 }> {
  const asOf = Date.now();
  const arms = await Promise.all(stage1.map((s, i) => rescoreArm(plan.surface, { ...inputs, asOf, caller }, s, plan.arms.length > 1 ? plan.arms[i]!.key : undefined)));
  return { scored: arms.map((a) => a.scored), stage2: arms.map((a) => a.stage2) };
}

/** Each arm's ordering through its constraints and the top k; the items its stage 2 rescored carry STAGE2_REASON. */
function constrain(plan: Plan, scored: Scored[], inputs: Enriched, topK: number, stage2: ArmStage2 | null): ConstraintOutcome[] {
  return plan.arms.map((arm, i) => {
    const ranked = rankWithConstraints(scored[i]!.scores, inputs, arm.constraints, topK);
    const rescored = new Set(stage2?.[i]?.reranked);
    if (rescored.size === 0) return ranked;
    return { ...ranked, items: ranked.items.map((item) => (rescored.has(item.id) ? { ...item, reasons: [...item.reasons, STAGE2_REASON] } : item)) };
  });
}

/**
 * Two arms: team-draft interleaving merges their served lists and credits each item to the ranker
 * that contributed it (server/domain/interleaving/credit.ts); one arm: its list as it is. With a
 * cascade, an item says "stage2" when the stage 2 of the arm it is credited to rescored it (A's for
 * shared items), before the credit, so the competitive flag stays the first item's last reason.
 */
function interleave(plan: Plan, ranked: ConstraintOutcome[], topK: number, stage2: ArmStage2 | null): ConstraintOutcome {
  const [left, right] = ranked;
  if (!right) return left!;
  const merged = teamDraftInterleave(left!.items.map((i) => i.id), right.items.map((i) => i.id), topK, plan.requestId);
  const byId = new Map([...right.items, ...left!.items].map((i) => [i.id, i]));
  const credits = creditReasons(merged, [plan.arms[0]!.key, plan.arms[1]!.key]);
  const rescoredBy = (stage2 ?? []).map((s) => new Set(s.reranked));
  return {
    ...left!,
    items: merged.ids.map((id, i) => {
      const item = byId.get(id)!;
      const own = item.reasons.filter((r) => r !== STAGE2_REASON);
      const placedByStage2 = rescoredBy[merged.teams[i] === "B" ? 1 : 0]?.has(id) ?? false;
      return { ...item, reasons: [...own, ...(placedByStage2 ? [STAGE2_REASON] : []), ...credits[i]!] };
    }),
  };
}

function respond(plan: Plan, inputs: Enriched, scored: Scored[], served: ConstraintOutcome, clock: StageClock, stage2: ArmStage2 | null): RerankResponse {
  const { assignment } = plan;
  // The first arm's model names the response; a fallback in either arm marks it.
  const first = scored[0]!;
  const fallbackReason = scored.find((s) => s.fallbackReason)?.fallbackReason ?? null;
  const text = textSummary(first, stage2?.[0]);
  return {
    requestId: plan.requestId,
    surface: plan.surface.key,
    items: served.items.map((item, i) => ({ id: item.id, score: Math.round(item.score * 1e6) / 1e6, position: i + 1, reasons: item.reasons })),
    modelVersion: first.handle && first.ref ? { id: first.handle.versionId, name: first.handle.name, version: first.handle.version, alias: first.ref.alias } : null,
    variant: assignment
      ? { experiment: assignment.experiment.key, key: assignment.experiment.kind === "interleaving" ? "interleaved" : assignment.variant.key, phase: assignment.experiment.phase }
      : null,
    fallback: { used: fallbackReason !== null, reason: fallbackReason, servedBy: first.servedBy },
    removed: served.removed,
    constraints: { capsFeasible: served.capsFeasible, floors: served.floors },
    features: { defaulted: first.matrix?.defaulted ?? 0, stale: first.matrix?.stale ?? 0, unknownCandidates: inputs.unknownCandidates, timedOut: inputs.timedOut },
    ...(text ? { text } : {}),
    timings: {
      resolve: round3(clock.ms("plan")),
      features: round3(clock.ms("enrich")),
      score: round3(clock.ms("score")),
      ...(stage2 ? { rescore: round3(clock.ms("rescore")) } : {}),
      constraints: round3(clock.ms("constrain") + clock.ms("interleave")),
      // Set by record() when its work is done: the client waits for it too.
      total: 0,
    },
    ...(stage2 ? { stage2: stage2[0]! } : {}),
    ...(stage2 && stage2.length > 1 ? { stage2Arms: Object.fromEntries(plan.arms.map((arm, i) => [arm.key, stage2[i]!])) } : {}),
  };
}

/**
 * The response's `text`, present when a cross-encoder scored the first arm in either stage:
 * `truncated` counts the documents cut to the model's length in stage 1 plus those cut in stage 2
 * (a document both stages cut counts twice; stage 2's alone is also `stage2.truncated`).
 */
function textSummary(first: Scored, stage2: Stage2Outcome | undefined): RerankResponse["text"] | null {
  const stage1Text = first.handle?.kind === "cross-encoder";
  const stage2Text = stage2?.truncated !== undefined;
  if (!stage1Text && !stage2Text) return null;
  return { truncated: (stage1Text ? first.truncated : 0) + (stage2?.truncated ?? 0) };
}

/**
 * After the response is built: the scoring sample and the shadow mirror, then the response's total
 * (the stage clock's end of `record`: the latency the client sees, which the trace's root span also
 * spans), then the JSON text, the recent-response cache, metrics and the request log, which carry
 * that total. Only the last serialisation and the log row's enqueue (microseconds) fall after it.
 * @returns the response's JSON text.
 */
function record(plan: Plan, request: RerankRequest, inputs: Enriched, scored: Scored[], stage1: Scored[], response: RerankResponse, options: RerankOptions, clock: StageClock, fingerprint: string | null): string {
  const { assignment, canary, surface } = plan;
  const ts = new Date();
  // Events are credited to the experiment's randomisation unit (its hash attribute), so a
  // session-randomised experiment counts sessions, not the user behind them.
  const unitKey = (assignment ? request[assignment.experiment.hashAttribute] : undefined) ?? request.userKey ?? request.sessionKey ?? null;
  // The cache, the log and the rows that hang off the request (scoring sample, shadow comparison) say
  // the same owner of the id (null: shared by whoever was given it): with the id and ts, its identity.
  const caller = options.caller ?? IN_PROCESS_CALLER;
  const owner = requestIdOwner(request, caller);
  keepScoringRows({ request, response, ts, owner, items: inputs.items, user: inputs.user, always: options.keepScoringRows });
  // Only requests the surface's serving model itself scored are compared (not an experiment's
  // variant or interleaved blend, not a fallback, not the canary arm), so every stored comparison
  // is against the same model. The kill switch stops every model run on the surface, the shadow's too.
  // On a cascade the candidate stands for the serving model, stage 1: it is compared with stage 1's own
  // scores and ranking (same constraints and top k), not with what stage 2 made of them (break test: a
  // candidate identical to the serving model read overlap@10 0.55 and τ 0.56 on product-search).
  const primary = stage1[0]!;
  if (!assignment && surface.shadow && !surface.killSwitch && primary.servedBy === "model" && canary?.arm !== "canary" && inShadowSample(response.requestId, surface.shadowSampleRate)) {
    const constraints = plan.arms[0]!.constraints;
    const served = surface.stage2
      ? rankWithConstraints(primary.scores, inputs, constraints, request.topK).items.map((item) => ({ id: item.id, score: Math.round(item.score * 1e6) / 1e6 }))
      : response.items.map((item) => ({ id: item.id, score: item.score }));
    mirrorToShadow({
      surface: surface.key, shadow: surface.shadow, constraints, request, requestId: response.requestId, owner, ts, items: inputs.items, user: inputs.user,
      served, primaryScores: primary.scores,
      primaryVersionId: response.modelVersion?.id ?? null, primaryScoreMs: response.timings.score, timeoutMs: surface.timeoutMs, text: options.text,
    });
  }
  clock.end("record", null);
  response.timings.total = round3(clock.totalMs());
  const json = JSON.stringify(response);
  // The response takes its sender's share of the cache, whoever owns the id (recent.ts recentRequests).
  rememberResponse(recentKey(response.requestId, owner), { json, surface: response.surface, ts: ts.getTime(), userKey: unitKey ? keyedHash(unitKey) : null, variant: response.variant, fingerprint, storedAt: Date.now(), caller });
  logRequest(request, response, ts, canary, owner, surface.sloLatencyP99Ms);
  return json;
}

/** The model's run time, which features defaulted or were stale, and a sample of the rows it saw (drift; not for a cross-encoder, which sees text). */
function observeScored(surface: string, handle: NonNullable<Scored["handle"]>, matrix: Scored["matrix"], runMs: number): void {
  metrics.inferenceMs.observe({ model: `${handle.name}@${handle.version}` }, runMs);
  if (!matrix) return;
  for (const [feature, count] of Object.entries(matrix.defaultedByFeature)) metrics.defaultedFeatures.inc({ surface, feature }, count);
  if (matrix.stale) metrics.staleFeatures.inc({ surface }, matrix.stale);
  if (matrix.unknownItems) metrics.unknownCandidates.inc({ surface }, matrix.unknownItems);
  metrics.featureAge.set({ surface }, matrix.maxAgeSeconds);
  inputSampler().observe(surface, handle.versionId, handle.featureSpec, matrix);
}

/**
 * Metrics and the request log's row; `owner` is the id's owner (requestIdOwner), the log's `caller` column.
 * `latencyTargetMs`: the surface's slo_latency_p99_ms; a total over it counts in rerank_requests_slow_total
 * (by 0 otherwise, so every served surface has the series), as the On-call page counts latency_ms > slo_latency_p99_ms.
 */
function logRequest(request: RerankRequest, response: RerankResponse, ts: Date, canary: CanaryArm | null, owner: string | null, latencyTargetMs: number): void {
  const surface = response.surface;
  metrics.requests.inc({ surface, outcome: response.fallback.used ? "fallback" : "model" });
  metrics.slowRequests.inc({ surface }, response.timings.total > latencyTargetMs ? 1 : 0);
  if (response.fallback.reason) metrics.fallbacks.inc({ surface, reason: response.fallback.reason });
  for (const stage of ["resolve", "features", "score", "rescore", "constraints", "total"] as const) {
    const ms = response.timings[stage];
    if (ms !== undefined) metrics.stageMs.observe({ surface, stage }, ms);
  }
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
    featuresTimedOut: response.features.timedOut,
    caller: owner,
  }));
}
