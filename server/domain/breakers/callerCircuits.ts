import { Circuit, type CircuitOptions, type CircuitState } from "./circuit";

// Which faults open which circuit, so that nothing one caller sends changes what another caller
// gets (issue #11, Deliver 2). A model run under a surface's budget ends in one of five ways:
//   - success: counted as a good call by the caller's circuit and the surface's;
//   - an input fault (a non-finite score only on rows with extreme but valid inputs, |x| ≥ 2^64:
//     nonFiniteScores.ts): answered with the fallback, counted by no circuit;
//   - an oversized run: over the budget, but the request's work at the model's measured cost — its
//     rows for a tabular model; its characters tokenised and padded tokens for a cross-encoder
//     (RunCost) — was more than the budget allows. The input's doing, not the model's: it
//     counts only against the caller that sent it, whose own circuit then sends its requests to the
//     fallback without running the model (its cost is real; no one else's is touched);
//   - an unpriced timeout: over the budget when the model's cost was never measured (its pricing
//     run when the version was opened failed, and no run has succeeded since), so nothing says
//     whether the work or the model was at fault. It counts only against the caller that sent it,
//     as an oversized run does: the first long-document timeouts after a restart, from two callers,
//     opened the surface-wide circuit for everyone (review). Versions are priced when opened
//     (server/rerank/breakers.ts pricedRunOf), so this is the exception, and a timeout of no more
//     work than the pricing run's is the model's fault whatever its cost says;
//   - a model fault (an error of the model or the runtime, or a timeout of work the budget is sized
//     for): counted by the caller's circuit and the surface's; the surface's opens only when the
//     window's faults come from at least two callers, so even faults that only one caller's inputs
//     provoke (in ways no rule here foresaw) trip that caller's circuit alone. A model that is
//     really unwell fails everyone's requests and opens it;
//   - overloaded: the run never started, because no model thread was free (or given a core) within
//     the budget: the machine's load, neither the model's fault nor the input's; answered with the
//     fallback and counted by no circuit (as an input fault).
// A deployment with a single caller (one service calling the reranker) loses nothing: that caller's
// circuit opens as the surface's would have.

export type ScoringOutcome = "success" | "input_fault" | "oversized" | "unpriced" | "model_fault" | "overloaded";

/**
 * The model's cost per unit of one kind of work (a candidate row, a character tokenised, a padded
 * token), from the model's own run times of successful runs (not queue time): an exponentially
 * weighted mean of ms per unit. Only successes update it, so a model that slows down cannot talk
 * its own timeouts into "oversized". A run's fixed overhead makes the per-unit cost of small runs
 * higher, so large requests are estimated on the generous side: a timeout is called oversized only
 * when even that estimate exceeds the budget.
 */
export class UnitCost {
  private msPerUnitEwma: number | null = null;
  private runs = 0;

  /** @param alpha weight of the newest run (0–1], default 0.1. */
  constructor(private readonly alpha = 0.1) {}

  /** A successful run of `units` units took `ms` ms of model time. */
  observe(units: number, ms: number): void {
    if (!(units > 0) || !(ms >= 0) || !Number.isFinite(ms)) return;
    const perUnit = ms / units;
    this.runs++;
    // The first runs weigh equally (a plain mean) until the weighted mean takes over.
    const weight = Math.max(this.alpha, 1 / this.runs);
    this.msPerUnitEwma = this.msPerUnitEwma === null ? perUnit : this.msPerUnitEwma + weight * (perUnit - this.msPerUnitEwma);
  }

  /** ms per unit, or null before any successful run. */
  msPerUnit(): number | null {
    return this.msPerUnitEwma;
  }

  /** Units a budget of `budgetMs` is sized for at the measured cost (Infinity before any run). */
  sizedFor(budgetMs: number): number {
    const perUnit = this.msPerUnitEwma;
    return perUnit === null || perUnit <= 0 ? Infinity : Math.floor(budgetMs / perUnit);
  }
}

/** A run's work in units of each part of the model's cost, e.g. { rows: 100 } or { chars: 25_000, paddedTokens: 3_200 }. */
export type Work<Part extends string = string> = Readonly<Record<Part, number>>;

/**
 * The cost of a model's run as a sum of parts, each measured in its own unit: a tabular model's
 * rows; a cross-encoder's characters tokenised and padded tokens run (the two costs of its run, and
 * the two its pool charges a batched request by: its own tokenising, the rest by padded tokens). A
 * cross-encoder's rows alone say little: 400 documents of 60 words cost ten times 1,000 of one word
 * (break test: a cost per document learned on the short ones called the long ones' timeouts the
 * model's fault, and two callers sending them opened the surface's circuit for everyone).
 */
export class RunCost<Part extends string = string> {
  private readonly parts: Map<Part, UnitCost>;

  constructor(parts: readonly Part[], alpha?: number) {
    this.parts = new Map(parts.map((part) => [part, new UnitCost(alpha)]));
  }

  /** A successful run: each part's units and the ms they took. */
  observe(run: Readonly<Record<Part, { units: number; ms: number }>>): void {
    for (const [part, cost] of this.parts) cost.observe(run[part].units, run[part].ms);
  }

  /** ms a run of `work` is expected to take (the sum of its parts), or null before any successful run. */
  expectedMs(work: Work<Part>): number | null {
    let ms = 0;
    for (const [part, cost] of this.parts) {
      const perUnit = cost.msPerUnit();
      if (perUnit === null) return null;
      ms += perUnit * work[part];
    }
    return ms;
  }

  /** Units of each part a budget of `budgetMs` is sized for, were the run that part alone (Infinity before any run). */
  sizedFor(budgetMs: number): Record<Part, number> {
    return Object.fromEntries([...this.parts].map(([part, cost]) => [part, cost.sizedFor(budgetMs)])) as Record<Part, number>;
  }
}

/**
 * What a scoring failure counts as (see the header).
 * @param failure timedOut: the run passed the budget; inputDependent: a fault of these rows only
 *   (ModelOutputError.inputDependent); expectedMs: the request's work at the model's measured cost
 *   (RunCost.expectedMs; null before any successful run, or when its work is unknown); budgetMs:
 *   the surface's scoring budget. Oversized: a timeout of work the budget does not allow; unpriced: a
 *   timeout before the cost is known.
 */
export function classifyFailure(failure: { timedOut: boolean; inputDependent: boolean; expectedMs: number | null; budgetMs: number }): Exclude<ScoringOutcome, "success"> {
  if (failure.inputDependent) return "input_fault";
  if (failure.timedOut && failure.expectedMs === null) return "unpriced";
  if (failure.timedOut && failure.expectedMs !== null && failure.expectedMs > failure.budgetMs) return "oversized";
  return "model_fault";
}

export interface CallerCircuitsOptions extends Omit<CircuitOptions, "minCallers"> {
  /** Distinct callers whose model faults open the surface-wide circuit. Default 2. */
  surfaceMinCallers?: number;
  /** Callers' circuits kept at most (least recently used dropped first). Default 1000. */
  maxCallers?: number;
}

/** Admission of one call: whether it may run the model, and which circuits it is the trial of. */
export interface Admission {
  go: boolean;
  /** Which circuit refused it (go false). */
  refusedBy: "surface" | "caller" | null;
  surfaceTrial: boolean;
  callerTrial: boolean;
}

/** A surface-wide circuit plus one circuit per caller (bounded), judged as the header says. */
export class CallerCircuits {
  private readonly surface: Circuit;
  private readonly callers = new Map<string, Circuit>();
  private readonly options: CircuitOptions;
  private readonly maxCallers: number;

  constructor(options: CallerCircuitsOptions) {
    const { surfaceMinCallers = 2, maxCallers = 1000, ...circuit } = options;
    this.options = { ...circuit, minCallers: 1 };
    this.surface = new Circuit({ ...circuit, minCallers: surfaceMinCallers });
    this.maxCallers = maxCallers;
  }

  /** May `caller`'s call run the model now? The surface's circuit is asked first, then the caller's. */
  admit(now: number, caller: string): Admission {
    const surface = this.surface.admit(now);
    if (surface === "reject") return { go: false, refusedBy: "surface", surfaceTrial: false, callerTrial: false };
    const own = this.circuitOf(caller).admit(now);
    if (own === "reject") {
      if (surface === "trial") this.surface.abandonTrial();
      return { go: false, refusedBy: "caller", surfaceTrial: false, callerTrial: false };
    }
    return { go: true, refusedBy: null, surfaceTrial: surface === "trial", callerTrial: own === "trial" };
  }

  /** Records the outcome of an admitted call. @returns the states after it. */
  record(now: number, caller: string, admission: Admission, outcome: ScoringOutcome): { surface: CircuitState; caller: CircuitState } {
    const own = this.circuitOf(caller);
    const countsForCaller = outcome !== "input_fault" && outcome !== "overloaded";
    const countsForSurface = outcome === "success" || outcome === "model_fault";
    const fault = outcome !== "success";
    if (countsForCaller) own.record(now, { fault, caller, trial: admission.callerTrial });
    else if (admission.callerTrial) own.abandonTrial();
    if (countsForSurface) this.surface.record(now, { fault, caller, trial: admission.surfaceTrial });
    else if (admission.surfaceTrial) this.surface.abandonTrial();
    return { surface: this.surface.state(now), caller: own.state(now) };
  }

  /** The surface's state and every caller circuit that is not closed. */
  states(now: number): { surface: CircuitState; callers: Array<{ caller: string; state: CircuitState }> } {
    const callers = [...this.callers].map(([caller, c]) => ({ caller, state: c.state(now) })).filter((c) => c.state !== "closed");
    return { surface: this.surface.state(now), callers };
  }

  /** One caller's state (closed for a caller never seen). */
  callerState(now: number, caller: string): CircuitState {
    return this.callers.get(caller)?.state(now) ?? "closed";
  }

  private circuitOf(caller: string): Circuit {
    let circuit = this.callers.get(caller);
    if (circuit) {
      // Most recently used last, so the first key is the one to drop.
      this.callers.delete(caller);
    } else {
      circuit = new Circuit(this.options);
      if (this.callers.size >= this.maxCallers) this.callers.delete(this.callers.keys().next().value!);
    }
    this.callers.set(caller, circuit);
    return circuit;
  }
}
