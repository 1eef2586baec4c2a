import { CallerCircuits, classifyFailure, RunCost, type Admission, type ScoringOutcome } from "../domain/breakers/callerCircuits";
import type { CircuitState } from "../domain/breakers/circuit";
import { COST_ROWS, runScoresTimed, scoreTexts, type ModelHandle } from "../inference/sessions";
import { metrics } from "../telemetry/metrics";
import { env } from "../config";
import { IN_PROCESS_CALLER } from "../auth/principal";
import { withDeadline } from "../domain/time/deadline";
import { errorForLog } from "../redact";

// The circuit breakers of model scoring: per (surface, model version, budget), a surface-wide
// circuit and one per caller (server/domain/breakers/callerCircuits.ts). They enforce the surface's
// scoring budget and open after repeated faults, so a sick model costs a fast fallback instead of a
// timeout each time. Half-open after BREAKER_RESET_MS: one trial request decides whether it closes
// again. What one caller sends never changes what another is served (issue #11, Deliver 2): input
// faults count nowhere, a timeout of work larger than the budget allows (at the model's measured
// cost: rows for a tabular model; characters tokenised and padded tokens for a cross-encoder) counts
// only against the caller that sent it, as does a timeout before that cost is known ("unpriced":
// a breaker starts from the cost measured when the version was opened, pricedRunOf, so only a
// version whose pricing run failed starts so), and the surface-wide circuit opens only on faults from
// two or more callers.
// Live scoring, its fallbacks, shadow and stage 2 all fire here (scoring.ts), so they judge alike.

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

/** The parts a model's run costs, by the kind of model (RunCost). */
const COST_PARTS = { "cross-encoder": ["chars", "paddedTokens"], tabular: ["rows"] } as const;
type CostPart = (typeof COST_PARTS)[keyof typeof COST_PARTS][number];

/** A run's result with the model's own run time, and that time by the parts of its cost (units of each and their ms). */
interface MeasuredRun extends ModelScores {
  modelMs: number;
  parts: Partial<Record<CostPart, { units: number; ms: number }>>;
}

/**
 * Runs `job` on the model (a cross-encoder in the worker pool, where `caller` takes its fair turn
 * while every thread is busy), with the model's own run time in ms (a cross-encoder's: this job's
 * share of a batched run).
 * A model on a worker pool waits at most `timeoutMs` for a thread to start it (else it rejects with
 * the pool's QueueTimeoutError: code ETIMEDOUT, `queued`). A heavy tabular model on the scoring pool
 * is cut at `timeoutMs` (rejects with code ETIMEDOUT). A cross-encoder's run cannot be cut, and its
 * thread may get no core on a saturated machine: its caller waits at most 2 × `timeoutMs` (the wait
 * for a thread and the run), then rejects with code ETIMEDOUT and `late`, the run's own result when
 * it ends (its size, and so its judgement, is known only then: a worker tokenises).
 */
async function runJob(handle: ModelHandle, job: ScoringJob, timeoutMs: number, caller: string): Promise<MeasuredRun> {
  if (handle.kind === "cross-encoder") {
    if (job.kind !== "text") throw new Error(`${handle.name} v${handle.version} is a cross-encoder: it scores text, not a feature matrix`);
    const scoring = scoreTexts(handle, job.query, job.documents, { maxTokensPerDoc: job.maxTokensPerDoc, startWithinMs: timeoutMs, caller }).then(
      (result): MeasuredRun => ({
        scores: Float32Array.from(result.scores), truncated: result.truncated, modelMs: result.modelMs,
        parts: { chars: { units: result.chars, ms: result.tokenizeMs }, paddedTokens: { units: result.paddedTokens, ms: Math.max(0, result.modelMs - result.tokenizeMs) } },
      }),
    );
    return withDeadline(scoring, 2 * timeoutMs, () => {
      throw Object.assign(new Error(`no scores within ${2 * timeoutMs} ms (twice the ${timeoutMs} ms budget: the wait for a model thread and the run); the run's result is dropped`), { code: "ETIMEDOUT", late: scoring });
    });
  }
  if (job.kind !== "features") throw new Error(`${handle.name} v${handle.version} scores a feature matrix, not text`);
  const { scores, modelMs } = await runScoresTimed(handle, job.data, job.rows, job.cols, { timeoutMs });
  return { scores, truncated: 0, modelMs, parts: { rows: { units: job.rows, ms: modelMs } } };
}

/**
 * Does this scoring failure say the model or the runtime is unwell (count it), or only that these
 * rows could not be scored (answer this request with the fallback, count nothing)? Load errors, a
 * wrong output shape, runtime errors and a non-finite score from ordinary inputs count; a
 * non-finite score only on rows with extreme inputs (ModelOutputError.inputDependent, decided by
 * server/domain/breakers/nonFiniteScores.ts) does not. Over-budget runs are judged by their size
 * (classifyFailure). Inputs themselves are bounded at the edge (float32 range, server/validation.ts).
 * Read by property, not class: Next's bundles hold their own copies of the error classes.
 */
export function countsAgainstModel(error: unknown): boolean {
  return (error as { inputDependent?: unknown } | null)?.inputDependent !== true;
}

/**
 * One model version's breaker on one surface. onnxruntime-node runs a CPU session on the main
 * thread, so a slow run cannot be preempted by a timer: the budget is checked when the run returns,
 * against the model's own run time. The time a run waited for the event loop (other requests being
 * handled) is not the model's fault: counting it would open the breaker of a healthy model whenever
 * the process is merely busy. A cross-encoder runs in the worker pool: its run time is its share of
 * the batch's run there. An over-budget run falls back as a timeout. A heavy model on the scoring
 * pool (a worker thread) answers ETIMEDOUT as soon as its run passes the budget (the run finishes on
 * its thread, unawaited) and is counted as an over-budget run that returned: a model/runtime fault,
 * unless the request's work was more than the budget allows (then only its caller's circuit). A
 * cross-encoder's run its caller stopped waiting for (twice the budget) is judged when it ends, by
 * its own time and work.
 */
/** The start of a refusal's message (then "for this caller" or "for every caller"): stored in error rows, matched by CIRCUIT_OPEN_LIKE. */
export const circuitOpenPrefix = (model: string, surface: string) => `the circuit of ${model} on ${surface} is open`;
/** SQL LIKE pattern of a stored circuit refusal (a run not tried), as circuitOpenPrefix writes it. */
export const CIRCUIT_OPEN_LIKE = "the circuit of % is open%";

export class ScoringBreaker {
  readonly circuits: CallerCircuits;
  /** The model's measured cost per unit of each part of its runs (the run it was priced by when opened, then successful runs). */
  readonly cost: RunCost<CostPart>;
  /** The work of the run it was priced by (units of each part): until a run succeeds here, a timeout of no more work than that is the model's fault, whatever the cost says. */
  private readonly reference: Partial<Record<CostPart, number>> | null;
  /** A run has succeeded within the budget on this breaker: from then on, timeouts are judged by the measured cost alone. */
  private succeeded = false;

  /** @param priced a run the model's cost starts from (pricedRunOf: measured when it was opened); without it, unpriced until a run succeeds. */
  constructor(
    readonly surface: string,
    readonly model: string,
    readonly timeoutMs: number,
    kind: ModelHandle["kind"] = "tabular",
    priced?: Partial<Record<CostPart, { units: number; ms: number }>>,
  ) {
    this.circuits = new CallerCircuits({ windowMs: 10_000, volumeThreshold: 5, errorThreshold: 0.5, resetMs: env().BREAKER_RESET_MS });
    this.cost = new RunCost<CostPart>(COST_PARTS[kind]);
    const complete = priced && COST_PARTS[kind].every((part) => priced[part]);
    if (complete) this.cost.observe(priced as Record<CostPart, { units: number; ms: number }>);
    this.reference = complete ? Object.fromEntries(COST_PARTS[kind].map((part) => [part, priced[part]!.units])) : null;
  }

  /**
   * Whether, before any run has succeeded here, `work` is no more than the pricing run's in every
   * part: then its timeout is the model's fault even when the model's cost says the budget does not
   * allow it (a version whose pricing run already passed the surface's budget and that never met it
   * is too slow for the surface, not sent too much). Once a run succeeded, the measured cost decides:
   * a budget that allows 50 rows makes an 80-row timeout its caller's, though the pricing run had 100.
   */
  private ordinary(work: Partial<Record<CostPart, number>>): boolean {
    const reference = this.reference;
    return !this.succeeded && reference !== null && Object.entries(reference).every(([part, units]) => (work[part as CostPart] ?? Infinity) <= (units as number));
  }

  /** The surface-wide circuit is open (every caller falls back). */
  get opened(): boolean {
    return this.circuits.states(Date.now()).surface === "open";
  }

  get halfOpen(): boolean {
    return this.circuits.states(Date.now()).surface === "half-open";
  }

  /** State of one caller's own circuit. */
  callerState(caller: string): CircuitState {
    return this.circuits.callerState(Date.now(), caller);
  }

  /**
   * Runs `job` for `caller` within the budget.
   * @throws code EOPENBREAKER (with scope "surface" or "caller") without running the model when a
   *   circuit is open; code ETIMEDOUT when the model's run passed the budget; the model's error.
   */
  async fire(handle: ModelHandle, job: ScoringJob, caller: string = IN_PROCESS_CALLER): Promise<ModelScores> {
    const admission = this.circuits.admit(Date.now(), caller);
    if (!admission.go) {
      const whose = admission.refusedBy === "caller" ? "for this caller" : "for every caller";
      throw Object.assign(new Error(`${circuitOpenPrefix(this.model, this.surface)} ${whose}`), { code: "EOPENBREAKER", scope: admission.refusedBy });
    }
    let outcome: ScoringOutcome | undefined;
    try {
      const run = await runJob(handle, job, this.timeoutMs, caller);
      outcome = this.judgeRun(run);
      if (outcome === "success") return { scores: run.scores, truncated: run.truncated };
      throw Object.assign(new Error(`scoring took ${run.modelMs.toFixed(1)} ms, over the ${this.timeoutMs} ms budget${outcome === "oversized" ? `; ${this.workDescription(run)}` : outcome === "unpriced" ? "; the model's cost is not measured (its pricing run failed and no run succeeded): counted against this caller only" : ""}`), { code: "ETIMEDOUT", outcome });
    } catch (error) {
      if (outcome === undefined) {
        const late = (error as { late?: Promise<MeasuredRun> } | null)?.late;
        // Judged when the run ends, whatever it ends in (this request has had its fallback). Nothing
        // awaits it: a throw while judging or recording (a metric refused) is logged, never an
        // unhandled rejection (Node 20 ends the process on one).
        if (late) {
          late
            .then((run) => this.judgeRun(run, true), (lateError: unknown) => this.judgeError(lateError, job))
            .then((judged) => this.record(caller, admission, judged))
            .catch((judging: unknown) => console.error(`[rerank] breaker of ${this.model} on ${this.surface}: a run its caller stopped waiting for could not be judged: ${errorForLog(judging)}`));
        } else outcome = this.judgeError(error, job);
      }
      throw error;
    } finally {
      if (outcome !== undefined) this.record(caller, admission, outcome);
    }
  }

  /**
   * A run that returned: within the budget, a success (its cost observed); over it, the model's fault
   * when nothing has succeeded yet and its work is no more than the pricing run's (ordinary), else oversized when its work at the
   * measured cost is more than the budget allows, unpriced when no cost was ever measured (its
   * caller's fault only, classifyFailure), else the model's fault. `late`: its caller
   * stopped waiting at twice the budget; a run whose own time was within the budget waited for a core
   * or the event loop (load: counted nowhere).
   */
  private judgeRun(run: MeasuredRun, late = false): ScoringOutcome {
    if (run.modelMs <= this.timeoutMs) {
      if (late) return "overloaded";
      this.cost.observe(run.parts as Record<CostPart, { units: number; ms: number }>);
      this.succeeded = true;
      return "success";
    }
    const work = unitsOf(run.parts);
    if (this.ordinary(work)) return "model_fault";
    return classifyFailure({ timedOut: true, inputDependent: false, expectedMs: this.cost.expectedMs(work), budgetMs: this.timeoutMs });
  }

  /**
   * A run that did not return: never started (no thread free in time: QueueTimeoutError, read by
   * property) is load; one the scoring pool cut at the budget is judged as an over-budget run that
   * returned (a tabular job's work, its rows, is known before it runs); any other error by countsAgainstModel.
   */
  private judgeError(error: unknown, job: ScoringJob): ScoringOutcome {
    if ((error as { queued?: unknown } | null)?.queued === true) {
      metrics.modelQueueTimeouts.inc({ surface: this.surface, model: this.model });
      return "overloaded";
    }
    const cut = (error as { code?: unknown } | null)?.code === "ETIMEDOUT";
    const work = cut && job.kind === "features" ? unitsOf({ rows: { units: job.rows, ms: 0 } }) : null;
    if (work && this.ordinary(work)) return "model_fault";
    const expectedMs = work ? this.cost.expectedMs(work) : null;
    return classifyFailure({ timedOut: cut, inputDependent: !countsAgainstModel(error), expectedMs, budgetMs: this.timeoutMs });
  }

  private workDescription(run: MeasuredRun): string {
    const expected = this.cost.expectedMs(unitsOf(run.parts));
    const work = Object.entries(run.parts).map(([part, p]) => `${p.units} ${part}`).join(", ");
    return `${work}: ~${Math.round(expected ?? 0)} ms at the model's measured cost`;
  }

  private record(caller: string, admission: Admission, outcome: ScoringOutcome): void {
    const states = this.circuits.record(Date.now(), caller, admission, outcome);
    metrics.breakerState.set({ surface: this.surface, model: this.model }, states.surface === "open" ? 1 : 0);
    metrics.callerCircuitsOpen.set({ surface: this.surface, model: this.model }, this.circuits.states(Date.now()).callers.filter((c) => c.state === "open").length);
  }
}

/** Each part's units (the Work RunCost prices). */
function unitsOf(parts: MeasuredRun["parts"]): Record<CostPart, number> {
  return Object.fromEntries(Object.entries(parts).map(([part, p]) => [part, p.units])) as Record<CostPart, number>;
}

// One set per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankBreakers?: Map<string, ScoringBreaker> };
const breakers = (holder.__rerankBreakers ??= new Map());

/**
 * The run a version's breakers start its cost from, measured when it was opened: a tabular model's
 * COST_ROWS default rows (costMs), a cross-encoder's pricing run (priced); undefined when none was
 * measured (then its breakers are unpriced until a run succeeds).
 */
export function pricedRunOf(handle: ModelHandle): Partial<Record<CostPart, { units: number; ms: number }>> | undefined {
  if (handle.kind === "tabular") return handle.costMs > 0 ? { rows: { units: COST_ROWS, ms: handle.costMs } } : undefined;
  const p = handle.priced;
  return p ? { chars: { units: p.chars, ms: p.tokenizeMs }, paddedTokens: { units: p.paddedTokens, ms: Math.max(0, p.modelMs - p.tokenizeMs) } } : undefined;
}

export function scoringBreaker(surface: string, handle: ModelHandle, timeoutMs: number): ScoringBreaker {
  const key = `${surface}|${handle.versionId}|${timeoutMs}`;
  let breaker = breakers.get(key);
  if (!breaker) {
    breaker = new ScoringBreaker(surface, `${handle.name}@${handle.version}`, timeoutMs, handle.kind, pricedRunOf(handle));
    breakers.set(key, breaker);
  }
  return breaker;
}

/** The fallback reason for a scoring failure. */
export function failureReason(error: unknown): "timeout" | "circuit_open" | "model_error" {
  const code = (error as { code?: string }).code;
  return code === "ETIMEDOUT" ? "timeout" : code === "EOPENBREAKER" ? "circuit_open" : "model_error";
}

/**
 * Every breaker: the surface-wide circuit's state, the callers whose own circuit is not closed, and
 * the units of each part of its cost the budget is sized for at the model's measured cost (rows;
 * chars and paddedTokens for a cross-encoder; Infinity before a successful run).
 */
export function breakerStates(): Array<{ key: string; open: boolean; halfOpen: boolean; callers: Array<{ caller: string; state: CircuitState }>; sizedFor: Partial<Record<CostPart, number>> }> {
  const now = Date.now();
  return [...breakers.entries()].map(([key, b]) => {
    const states = b.circuits.states(now);
    return { key, open: states.surface === "open", halfOpen: states.surface === "half-open", callers: states.callers, sizedFor: b.cost.sizedFor(b.timeoutMs) };
  });
}

export function resetBreakers(): void {
  breakers.clear();
}
