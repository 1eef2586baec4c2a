// A circuit breaker as plain data and time: the caller passes `now` (epoch ms), so every transition
// is tested without timers. The classic three states (Nygard, Release It!, 2007; the rules of
// opossum and Hystrix): closed → open when, over a rolling window, at least `volumeThreshold` calls
// ended and at least `errorThreshold` of them were faults; open → half-open after `resetMs`, when one
// trial call is let through; the trial's success closes it, its fault opens it again.
//
// One addition, for isolation between callers: `minCallers` — the circuit opens only when the
// faults in the window came from at least that many distinct callers. A surface-wide circuit with
// minCallers 2 cannot be opened by one caller alone, whatever it sends; that caller's own circuit
// (minCallers 1) opens instead and sends only its requests to the fallback (see callerCircuits.ts).

export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitOptions {
  /** Rolling window over which outcomes are counted, ms (opossum's rollingCountTimeout). */
  windowMs: number;
  /** Outcomes in the window before the circuit may open. */
  volumeThreshold: number;
  /** Share of faults (0–1] in the window at which it opens. */
  errorThreshold: number;
  /** How long it stays open before a half-open trial, ms. */
  resetMs: number;
  /** Distinct callers the window's faults must come from for it to open (1: any caller). */
  minCallers: number;
}

/** Outcomes kept per circuit at most: the window's counts stay O(1) in memory whatever the rate. */
const MAX_OUTCOMES = 4096;

interface Outcome {
  at: number;
  fault: boolean;
  caller: string;
}

export class Circuit {
  private readonly options: CircuitOptions;
  private outcomes: Outcome[] = [];
  private head = 0;
  private faults = 0;
  /** Faults in the window by caller. */
  private faultCallers = new Map<string, number>();
  private openedAt: number | null = null;
  private trialAt: number | null = null;

  constructor(options: CircuitOptions) {
    if (!(options.errorThreshold > 0 && options.errorThreshold <= 1)) throw new RangeError(`errorThreshold must be in (0, 1], got ${options.errorThreshold}`);
    if (!(options.minCallers >= 1 && options.volumeThreshold >= 1)) throw new RangeError("minCallers and volumeThreshold must be at least 1");
    this.options = options;
  }

  /** closed, open, or half-open (open past resetMs: the next call is a trial). */
  state(now: number): CircuitState {
    if (this.openedAt === null) return "closed";
    return now - this.openedAt >= this.options.resetMs ? "half-open" : "open";
  }

  /**
   * May a call go through now? Closed: yes. Open: no. Half-open: yes for one trial at a time (a trial
   * that never reports back is given up after resetMs, and another is let through).
   * @returns "call" (go ahead), "trial" (go ahead; its outcome decides the state), or "reject".
   */
  admit(now: number): "call" | "trial" | "reject" {
    const state = this.state(now);
    if (state === "closed") return "call";
    if (state === "open") return "reject";
    if (this.trialAt !== null && now - this.trialAt < this.options.resetMs) return "reject";
    this.trialAt = now;
    return "trial";
  }

  /**
   * Records a call's outcome. A trial's success closes the circuit (and forgets the window); its
   * fault opens it again for resetMs. Otherwise a fault may open a closed circuit (see the header).
   * @returns the state after the outcome.
   */
  record(now: number, outcome: { fault: boolean; caller: string; trial?: boolean }): CircuitState {
    if (outcome.trial) {
      this.trialAt = null;
      if (outcome.fault) this.openedAt = now;
      else this.close();
      return this.state(now);
    }
    if (this.openedAt !== null) return this.state(now); // a call admitted before it opened
    this.push({ at: now, fault: outcome.fault, caller: outcome.caller });
    this.expire(now);
    if (outcome.fault && this.shouldOpen()) this.openedAt = now;
    return this.state(now);
  }

  /** A trial ended with an outcome that says nothing about the model (an input fault): the next call is a trial again. */
  abandonTrial(): void {
    this.trialAt = null;
  }

  /** Outcomes and faults in the window, and the distinct callers of those faults. */
  window(now: number): { calls: number; faults: number; faultCallers: number } {
    this.expire(now);
    return { calls: this.outcomes.length - this.head, faults: this.faults, faultCallers: this.faultCallers.size };
  }

  private shouldOpen(): boolean {
    const calls = this.outcomes.length - this.head;
    return calls >= this.options.volumeThreshold && this.faults >= this.options.errorThreshold * calls && this.faultCallers.size >= this.options.minCallers;
  }

  private close(): void {
    this.openedAt = null;
    this.outcomes = [];
    this.head = 0;
    this.faults = 0;
    this.faultCallers.clear();
  }

  private push(outcome: Outcome): void {
    this.outcomes.push(outcome);
    if (outcome.fault) {
      this.faults++;
      this.faultCallers.set(outcome.caller, (this.faultCallers.get(outcome.caller) ?? 0) + 1);
    }
    if (this.outcomes.length - this.head > MAX_OUTCOMES) this.dropOldest();
  }

  private expire(now: number): void {
    while (this.head < this.outcomes.length && now - this.outcomes[this.head]!.at >= this.options.windowMs) this.dropOldest();
    if (this.head > 1024 && this.head * 2 > this.outcomes.length) {
      this.outcomes = this.outcomes.slice(this.head);
      this.head = 0;
    }
  }

  private dropOldest(): void {
    const oldest = this.outcomes[this.head++]!;
    if (!oldest.fault) return;
    this.faults--;
    const left = this.faultCallers.get(oldest.caller)! - 1;
    if (left === 0) this.faultCallers.delete(oldest.caller);
    else this.faultCallers.set(oldest.caller, left);
  }
}
