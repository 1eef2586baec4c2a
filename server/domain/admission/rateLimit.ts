// Per-key request rate limits: the Generic Cell Rate Algorithm (GCRA, ITU-T Recommendation I.371,
// the "virtual scheduling" form; the same as a token bucket of `burst` tokens refilled at `rate` per
// second, kept as one number per key: its theoretical arrival time, TAT).
//
// With emission interval T = 1000 / rate ms and burst b, a request at time t is admitted when
// max(TAT, t) − t ≤ (b − 1)·T, and then TAT becomes max(TAT, t) + T. So b requests may come at
// once, then one every T; a caller that keeps to the rate is never refused. A refused request changes
// nothing and may retry after max(TAT, t) − (b − 1)·T − t ms.
//
// Fair share (./fairShare.ts) shares a process among the callers sending at once; a rate limit is a
// ceiling an admin sets on one key whatever the load, as a plan's quota is.

/** A key's limit: `rate` requests per second (> 0), `burst` requests at once (an integer ≥ 1). */
export interface RateLimit {
  rate: number;
  burst: number;
}

/** The burst a rate allows when none is given: one second's worth, at least one request. */
export const defaultBurst = (rate: number): number => Math.max(1, Math.ceil(rate));

/** "10 requests per second", "10 requests per second (bursts of 20)", "1 request every 5 s"; `burst` null: the default. */
export function describeRateLimit(limit: { rate: number; burst: number | null }): string {
  const rate = limit.rate >= 1 ? `${+limit.rate.toPrecision(6)} request${limit.rate === 1 ? "" : "s"} per second` : `1 request every ${+(1 / limit.rate).toPrecision(3)} s`;
  return limit.burst === null || limit.burst === defaultBurst(limit.rate) ? rate : `${rate} (bursts of ${limit.burst})`;
}

/**
 * A verdict. Admitted: `remaining` requests that could come at once now (≥ 0), `resetMs` until the
 * bucket is full again. Refused: `retryAfterMs` (> 0) until one request would be admitted.
 */
export type RateVerdict =
  | { admitted: true; limit: number; remaining: number; resetMs: number }
  | { admitted: false; limit: number; remaining: 0; retryAfterMs: number };

/** Entries above this count are swept of keys whose bucket is full again (they hold nothing). */
const SWEEP_AT = 10_000;

/**
 * GCRA over many keys (one map entry per key that sent within its last burst's time).
 * Time is the caller's (`now`, epoch ms), so tests need no clock.
 */
export class RateLimiter {
  /**
   * Each key's TAT as `origin + count × interval` (ms), computed afresh rather than summed: a sum of
   * intervals that are not whole numbers drifts at epoch-ms magnitudes (~1e-4 ms a step) and refused,
   * after a few thousand requests, a caller keeping exactly to its rate.
   */
  private readonly tat = new Map<string, { origin: number; count: number; interval: number; burst: number }>();

  /**
   * Admits or refuses one request of `key` under `limit` at `now` (ms). Admitting it takes its place;
   * refusing changes nothing.
   * @throws RangeError for a rate that is not a positive finite number or a burst that is not an integer ≥ 1
   */
  take(key: string, limit: RateLimit, now: number): RateVerdict {
    if (!(limit.rate > 0) || !Number.isFinite(limit.rate)) throw new RangeError(`rate: a positive number of requests per second, got ${limit.rate}`);
    if (!Number.isInteger(limit.burst) || limit.burst < 1) throw new RangeError(`burst: an integer ≥ 1, got ${limit.burst}`);
    const interval = 1000 / limit.rate;
    const tolerance = (limit.burst - 1) * interval;
    // A limit changed since (raised, lowered, removed and set again): the new one starts full, at once.
    // Carried over, a key slowed to 0.01/s and then raised to 1,000/s waited out the old 97 s (re-break).
    const stored = this.tat.get(key);
    const entry = stored && stored.interval === interval && stored.burst === limit.burst ? stored : undefined;
    const previous = entry ? entry.origin + entry.count * entry.interval : now;
    const running = entry !== undefined && previous > now;
    const start = running ? previous : now;
    // A microsecond's slack for the rounding of start − now at epoch-ms magnitudes.
    if (start - now > tolerance + 1e-3) {
      return { admitted: false, limit: limit.burst, remaining: 0, retryAfterMs: start - tolerance - now };
    }
    if (!stored && this.tat.size >= SWEEP_AT) this.sweep(now);
    const kept = running ? { origin: entry.origin, count: entry.count + 1, interval, burst: limit.burst } : { origin: start, count: 1, interval, burst: limit.burst };
    this.tat.set(key, kept);
    const next = kept.origin + kept.count * interval;
    return { admitted: true, limit: limit.burst, remaining: Math.max(0, Math.floor((limit.burst * interval - (next - now)) / interval + 1e-9)), resetMs: next - now };
  }

  /** Keys with a request counted against them now. */
  get size(): number {
    return this.tat.size;
  }

  /** Forgets `key`'s history (a changed limit needs no call: take() starts it full). */
  forget(key: string): void {
    this.tat.delete(key);
  }

  /** Drops the keys whose bucket is full again (TAT in the past: the same as never seen). */
  private sweep(now: number): void {
    for (const [key, { origin, count, interval }] of this.tat) if (origin + count * interval <= now) this.tat.delete(key);
  }
}
