import CircuitBreaker from "opossum";
import { runScoresTimed, scoreTexts, type ModelHandle } from "../inference/sessions";
import { metrics } from "../telemetry/metrics";
import { env } from "../config";

// One circuit breaker per (surface, model version): it enforces the surface's scoring budget and
// opens after repeated faults, so a sick model costs a fast fallback instead of a timeout each time.
// Half-open after BREAKER_RESET_MS: one trial request decides whether it closes again. Only faults of
// the model or the runtime count (see countsAgainstModel): what one caller sends must not change what
// another caller is served.

/** What a model is run on: a feature matrix (row-major [rows × cols]) for a tabular model, (query, documents) text for a cross-encoder. */
export type ScoringJob =
  | { kind: "features"; data: Float32Array; rows: number; cols: number }
  | { kind: "text"; query: string; documents: readonly string[]; maxTokensPerDoc?: number };

/** One finite score per row or document, and how many documents a cross-encoder truncated (0 for features). */
export interface ModelScores {
  scores: Float32Array;
  truncated: number;
}

export type ScoreFn = (handle: ModelHandle, job: ScoringJob) => Promise<ModelScores>;

/** Runs `job` on the model (a cross-encoder in the worker pool), with the model's own run time in ms. */
async function runJob(handle: ModelHandle, job: ScoringJob): Promise<ModelScores & { modelMs: number }> {
  if (handle.kind === "cross-encoder") {
    if (job.kind !== "text") throw new Error(`${handle.name} v${handle.version} is a cross-encoder: it scores text, not a feature matrix`);
    const result = await scoreTexts(handle, job.query, job.documents, job.maxTokensPerDoc);
    return { scores: Float32Array.from(result.scores), truncated: result.truncated, modelMs: result.modelMs };
  }
  if (job.kind !== "features") throw new Error(`${handle.name} v${handle.version} scores a feature matrix, not text`);
  const { scores, modelMs } = await runScoresTimed(handle, job.data, job.rows, job.cols);
  return { scores, truncated: 0, modelMs };
}

/**
 * onnxruntime-node runs a CPU session on the main thread, so a slow run cannot be preempted by a
 * timer: the budget is checked when the run returns, against the model's own run time. The time a
 * run waited for the event loop (other requests being handled) is not the model's fault: counting it
 * would open the breaker of a healthy model whenever the process is merely busy, and send everyone
 * to the fallback. A cross-encoder runs in the worker pool: its run time is the batch's model run there
(a request batched with others shares the batch's time). An over-budget run counts as a timeout (the response falls back, the breaker
 * counts a failure and soon stops calling the model).
 */
function runWithinBudget(timeoutMs: number): ScoreFn {
  return async (handle, job) => {
    const { scores, truncated, modelMs } = await runJob(handle, job);
    if (modelMs > timeoutMs) {
      throw Object.assign(new Error(`scoring took ${modelMs.toFixed(1)} ms, over the ${timeoutMs} ms budget`), { code: "ETIMEDOUT" });
    }
    return { scores, truncated };
  };
}

/**
 * Does this scoring failure say the model or the runtime is unwell (count it), or only that these
 * rows could not be scored (answer this request with the fallback, count nothing)? Load errors, an
 * over-budget run, a wrong output shape and runtime errors count; a non-finite score from finite
 * inputs (ModelOutputError.inputDependent) does not. Inputs themselves are bounded at the edge
 * (float32 range, server/validation.ts) and defaulted when stored values are not float32-finite.
 * Read by property, not class: Next's bundles hold their own copies of the error classes.
 */
export function countsAgainstModel(error: unknown): boolean {
  return (error as { inputDependent?: unknown } | null)?.inputDependent !== true;
}

// One set per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankBreakers?: Map<string, CircuitBreaker<Parameters<ScoreFn>, ModelScores>> };
const breakers = (holder.__rerankBreakers ??= new Map());

export function scoringBreaker(surface: string, handle: ModelHandle, timeoutMs: number): CircuitBreaker<Parameters<ScoreFn>, ModelScores> {
  const key = `${surface}|${handle.versionId}|${timeoutMs}`;
  let breaker = breakers.get(key);
  if (!breaker) {
    const model = `${handle.name}@${handle.version}`;
    breaker = new CircuitBreaker<Parameters<ScoreFn>, ModelScores>(runWithinBudget(timeoutMs), {
      // No timer: it could only fire while the run waits for the event loop (the run itself blocks
      // the thread), i.e. it would measure load, not the model. runWithinBudget checks the budget.
      timeout: false,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      rollingCountTimeout: 10_000,
      resetTimeout: env().BREAKER_RESET_MS,
      // opossum: a filtered error still rejects (the request falls back) but is not counted as a failure.
      errorFilter: (error: unknown) => !countsAgainstModel(error),
    });
    breaker.on("open", () => metrics.breakerState.set({ surface, model }, 1));
    breaker.on("close", () => metrics.breakerState.set({ surface, model }, 0));
    breakers.set(key, breaker);
  }
  return breaker;
}

/** The fallback reason for a scoring failure. */
export function failureReason(error: unknown): "timeout" | "circuit_open" | "model_error" {
  const code = (error as { code?: string }).code;
  return code === "ETIMEDOUT" ? "timeout" : code === "EOPENBREAKER" ? "circuit_open" : "model_error";
}

export function breakerStates(): Array<{ key: string; open: boolean; halfOpen: boolean }> {
  return [...breakers.entries()].map(([key, b]) => ({ key, open: b.opened, halfOpen: b.halfOpen }));
}

export function resetBreakers(): void {
  for (const b of breakers.values()) b.shutdown();
  breakers.clear();
}
