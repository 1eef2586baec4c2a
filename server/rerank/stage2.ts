import { mergeStageScores, stage2Cut } from "../domain/ranking/stages";
import { withDeadline } from "../domain/time/deadline";
import { errorForLog } from "../redact";
import type { SurfaceConfig } from "../surfaces/configCache";
import { metrics } from "../telemetry/metrics";
import type { FallbackReason, Stage2Outcome } from "./schema";
import { scoreWithModels, type Scored, type ScoringInput } from "./scoring";

// Stage 2 of a surface's cascade: the top `rerankCount` of stage 1's order are rescored by a heavier
// model through the one scoring path (scoreWithModels: its breaker, scoped `<surface>#stage2` so a
// sick stage 2 never opens stage 1's; its model-time budget), and the two stages' scores are joined
// by server/domain/ranking/stages.ts (stage-2 items above every stage-1-only item, monotone scores).
// The stage's wall time is budgeted too (budgetMs): a cross-encoder in the worker pool can be
// queued behind others. Over budget, a fault, an open breaker or a kill switch: stage 1's scores
// serve, marked in the response's stage2 and counted (rerank_stage2_total), never a 5xx.
// The rule stage 1 follows (pipeline.ts, score()) holds here too: a stage 2 whose inputs were not
// read in time (features.timedOut) and that gave every rescored item the same score ranked nothing
// (a cross-encoder given no item text): stage 1's order serves, status "timeout" (re-break 2026-12:
// it said "served" with six scores of −2.681094 and marked every item "stage2").

/** What stage 2 did for one arm, and the scores the arm is served by. */
export interface Rescored {
  scored: Scored;
  stage2: Stage2Outcome;
}

/**
 * Rescores one arm's stage-1 result with the surface's stage 2.
 * @param surface a surface whose `stage2` is set.
 * @param input the request's candidates (index-aligned with `stage1.scores`), features and query;
 *   `timedOut` when some of the features or item attributes were not read in time (enrich in pipeline.ts).
 * @param arm the interleaving experiment's variant key this arm ranks for (named in the log line); undefined with one arm.
 * @returns the joined scores (status "served") or stage 1's as they were, with what happened; `truncated`
 *   (documents cut to the model's length) when stage 2's model is a cross-encoder that ran. Status
 *   "timeout" also when the inputs timed out and stage 2 scored every item of its cut (2 or more) the same.
 */
export async function rescoreArm(surface: SurfaceConfig, input: ScoringInput & { timedOut?: boolean }, stage1: Scored, arm?: string): Promise<Rescored> {
  const config = surface.stage2!;
  const started = performance.now();
  const done = (status: Stage2Outcome["status"], reason: Stage2Outcome["reason"], extra: Partial<Stage2Outcome> = {}): Stage2Outcome => {
    const outcome: Stage2Outcome = { status, reason, model: null, rerankCount: config.rerankCount, reranked: [], ms: Math.round((performance.now() - started) * 1000) / 1000, ...extra };
    metrics.stage2.inc({ surface: surface.key, outcome: status });
    return outcome;
  };
  if (surface.killSwitch) return { scored: stage1, stage2: done("skipped", "kill_switch") };
  if (!config.ref) {
    logFault(surface.key, arm, "no_model", `${config.model} has no alias "${config.alias}"`);
    return { scored: stage1, stage2: done("error", "no_model") };
  }
  const cut = stage2Cut(stage1.scores, config.rerankCount);
  // The documents a text request sent are index-aligned with the candidates: cut them alike.
  const documents = input.text?.documents;
  const subset: ScoringInput = {
    ...input, candidates: cut.map((i) => input.candidates[i]!), text: input.text && { ...input.text, documents: documents && cut.map((i) => documents[i]!) },
  };
  const ref = config.ref;
  const model = { name: config.model, version: ref.version, alias: ref.alias };
  // Past budgetMs of wall time the run is left to finish and its result dropped.
  const result = await withDeadline(scoreWithModels(`${surface.key}#stage2`, [ref], config.budgetMs, subset), config.budgetMs, () => "over_budget" as const);
  if (result === "over_budget") {
    logFault(surface.key, arm, "timeout", `stage 2 passed its ${config.budgetMs} ms budget`);
    return { scored: stage1, stage2: done("timeout", "timeout", { model }) };
  }
  if (result.servedBy !== "model") {
    const reason = result.fallbackReason ?? "model_error";
    const status = statusOf(reason);
    if (status !== "skipped") logFault(surface.key, arm, reason, errorForLog(result.failure));
    return { scored: stage1, stage2: done(status, reason, { model }) };
  }
  // A cross-encoder's truncations count whether or not its scores serve (they were cut either way).
  const text = result.handle?.kind === "cross-encoder" ? { truncated: result.truncated } : {};
  if (input.timedOut && cut.length > 1 && allEqual(result.scores)) {
    logFault(surface.key, arm, "timeout", `its inputs were not read in time and it scored all ${cut.length} items ${result.scores[0]}: it ranked nothing`);
    return { scored: stage1, stage2: done("timeout", "timeout", { model, ...text }) };
  }
  let scores: Float32Array;
  try {
    scores = mergeStageScores(stage1.scores, cut, result.scores);
  } catch (error) {
    logFault(surface.key, arm, "model_error", errorForLog(error));
    return { scored: stage1, stage2: done("error", "model_error", { model, ...text }) };
  }
  // Stage 2's order of the items it rescored (their joined scores fall in that order).
  const order = cut.map((_, k) => k).sort((a, b) => scores[cut[b]!]! - scores[cut[a]!]!);
  const reranked = order.map((k) => input.candidates[cut[k]!]!.id);
  // Stage 2's own scores of those items (its model's output, before they were placed above stage 1's).
  const own = order.map((k) => Math.round(result.scores[k]! * 1e6) / 1e6);
  return { scored: { ...stage1, scores }, stage2: done("served", null, { model, reranked, scores: own, ...text }) };
}

/** Whether every score is the same (a model given nothing that tells the items apart). */
function allEqual(scores: Float32Array): boolean {
  for (let i = 1; i < scores.length; i++) if (scores[i] !== scores[0]) return false;
  return true;
}

/** timeout → "timeout"; an open breaker or a kill switch → "skipped"; any other fault → "error". */
function statusOf(reason: FallbackReason): Stage2Outcome["status"] {
  return reason === "timeout" ? "timeout" : reason === "circuit_open" || reason === "kill_switch" ? "skipped" : "error";
}

// One line per surface and reason at most every LOG_EVERY_MS, with how many were folded into it:
// a failing stage 2 under load must not flood the log (the counter has every one).
const LOG_EVERY_MS = 10_000;
const lastLogged = new Map<string, { at: number; folded: number }>();

function logFault(surface: string, arm: string | undefined, reason: string, detail: string): void {
  const key = `${surface}|${arm ?? ""}|${reason}`;
  const last = lastLogged.get(key);
  const now = Date.now();
  if (last && now - last.at < LOG_EVERY_MS) {
    last.folded++;
    return;
  }
  const folded = last?.folded ? ` (${last.folded} more since the last line)` : "";
  lastLogged.set(key, { at: now, folded: 0 });
  const armNote = arm === undefined ? "" : ` (interleaving arm "${arm}")`;
  console.warn(`[rerank:stage2] surface "${surface}"${armNote}: stage 1's order served (${reason}): ${detail}${folded}`);
}
