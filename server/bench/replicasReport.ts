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
  /** Requests the killed replica acknowledged (200) before it died. */
  requestsAcknowledgedByVictim: number;
  /** Events the killed replica acknowledged (accepted, not rejected) before it died. */
  eventsAcknowledgedByVictim: number;
  /** Acknowledged requests missing from the log afterwards (all replicas). */
  lostRequests: number;
  /** Acknowledged events missing from the table afterwards (all replicas). */
  lostEvents: number;
  /** The telemetry writer's flush interval, ms. */
  flushIntervalMs: number;
  /** Requests per second the killed replica acknowledged in the seconds before the kill. */
  victimRequestsPerSecond: number;
}

/**
 * Request rows a SIGKILL may lose (issue #11, Deliver 9: bounded by one flush interval): the
 * requests the replica acknowledges in one flush interval at its measured rate, rounded up, plus
 * the one request the test sends it right before the kill.
 */
export function lostRequestBound(flushIntervalMs: number, requestsPerSecond: number): number {
  return Math.ceil((requestsPerSecond * flushIntervalMs) / 1000) + 1;
}

/** The assertions of issue 15 point 3 and issue 11 Deliver 9, in order. Every one gates the run. */
export function replicaAssertions(run: ReplicaRun): Assertion[] {
  const p99 = quantile(run.delays, 0.99);
  const bound = lostRequestBound(run.flushIntervalMs, run.victimRequestsPerSecond);
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
      name: "a replica killed mid-run loses no acknowledged event",
      ok: run.eventsAcknowledgedByVictim > 0 && run.lostEvents === 0,
      detail: run.eventsAcknowledgedByVictim === 0 ? "the killed replica acknowledged no event: nothing was tested" : `lost ${run.lostEvents} of ${run.eventsAcknowledgedByVictim} events the killed replica acknowledged`,
    },
    {
      name: "request rows lost to the kill are within one flush interval",
      ok: run.requestsAcknowledgedByVictim > 0 && run.lostRequests <= bound,
      detail:
        run.requestsAcknowledgedByVictim === 0
          ? "the killed replica acknowledged no request: nothing was tested"
          : `lost ${run.lostRequests} of ${run.requestsAcknowledgedByVictim} requests the killed replica acknowledged; bound ${bound} = ⌈${run.victimRequestsPerSecond.toFixed(1)} req/s × ${run.flushIntervalMs} ms⌉ + 1 sent at the kill`,
    },
  ];
}
