// The verdicts of npm run test:replicas, as a pure function of what the run measured (unit-tested).

export interface Assertion {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * The q-quantile of the measured values by the nearest-rank method (the smallest value with at
 * least q of the values at or below it); a null (a change a replica never showed) counts as +∞.
 * @returns null when there is no value, Infinity when the quantile falls on a null.
 */
export function quantile(values: Array<number | null>, q: number): number | null {
  if (values.length === 0) return null;
  const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

export interface ReplicaRun {
  /** Per change and replica: ms from the API's answer to the first poll showing it; null if never. */
  delays: Array<number | null>;
  /** Requests served in phase A, summed over the replicas' own counters. */
  servedA: number;
  /** Request log rows of phase A. */
  loggedA: number;
  status5xx: number;
  transportErrors: number;
  /** Requests and events the killed replica acknowledged (2xx) before it died. */
  acknowledgedByVictim: number;
  lostRequests: number;
  lostEvents: number;
}

/** The four assertions of issue 15 point 3, in order. */
export function replicaAssertions(run: ReplicaRun): Assertion[] {
  const p99 = quantile(run.delays, 0.99);
  return [
    {
      name: "every replica serves a change within 1 s (p99 of 50 ms polls)",
      ok: p99 !== null && p99 <= 1000,
      detail: p99 === null ? "no change was measured" : `p99 ${p99 === Infinity ? "never (a replica did not show a change)" : `${p99} ms`} over ${run.delays.length} replica × change samples`,
    },
    {
      name: "logged = served, summed over the replicas",
      ok: run.servedA > 0 && run.loggedA === run.servedA,
      detail: `served ${run.servedA}, logged ${run.loggedA}`,
    },
    {
      name: "no 5xx through nginx",
      ok: run.status5xx === 0 && run.transportErrors === 0,
      detail: `${run.status5xx} responses 5xx, ${run.transportErrors} connections failed`,
    },
    {
      name: "a replica killed mid-run loses no acknowledged request or event",
      ok: run.acknowledgedByVictim > 0 && run.lostRequests === 0 && run.lostEvents === 0,
      detail: run.acknowledgedByVictim === 0 ? "the killed replica acknowledged nothing: nothing was tested" : `lost ${run.lostRequests} requests and ${run.lostEvents} events of ${run.acknowledgedByVictim} the killed replica acknowledged`,
    },
  ];
}
