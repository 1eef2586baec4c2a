import { describe, expect, it } from "vitest";
import { defaultBurst, RateLimiter } from "./rateLimit";

/** The reference: a token bucket of `burst` tokens refilled continuously at `rate` per second (a different formulation of the same limit). */
function tokenBucket(rate: number, burst: number) {
  let tokens = burst;
  let last = 0;
  return (now: number) => {
    tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000);
    last = now;
    if (tokens >= 1 - 1e-9) {
      tokens -= 1;
      return true;
    }
    return false;
  };
}

/** A seeded generator (mulberry32): the same arrivals on every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("RateLimiter (GCRA)", () => {
  it("admits a burst at once, then one request per interval, and says when to retry", () => {
    const limiter = new RateLimiter();
    const limit = { rate: 10, burst: 3 };
    const at0 = [0, 0, 0, 0].map(() => limiter.take("k", limit, 1_000));
    expect(at0.map((v) => v.admitted)).toEqual([true, true, true, false]);
    expect(at0.map((v) => v.remaining)).toEqual([2, 1, 0, 0]);
    const refused = at0[3]!;
    expect(refused.admitted ? -1 : refused.retryAfterMs).toBeCloseTo(100, 9);
    // 99 ms later still refused; at 100 ms one more is admitted.
    expect(limiter.take("k", limit, 1_099).admitted).toBe(false);
    expect(limiter.take("k", limit, 1_100)).toMatchObject({ admitted: true, remaining: 0 });
    // Other keys are not affected.
    expect(limiter.take("other", limit, 1_100)).toMatchObject({ admitted: true, remaining: 2 });
  });

  it("never refuses a caller that keeps to the rate, for rates whose interval is not a whole number of ms", () => {
    for (const rate of [3, 7, 0.3, 33.3, 1000 / 7]) {
      const limiter = new RateLimiter();
      const interval = 1000 / rate;
      for (let i = 0; i < 5_000; i++) expect(limiter.take("k", { rate, burst: 1 }, 1e12 + i * interval).admitted).toBe(true);
    }
  });

  it("admits exactly what a token bucket of the same rate and burst admits, on random arrivals", () => {
    for (const [rate, burst, meanGapMs, seed] of [[10, 1, 50, 1], [10, 10, 80, 2], [2.5, 4, 300, 3], [1000, 1000, 0.5, 4], [0.5, 1, 1_500, 5]] as const) {
      const next = random(seed);
      const limiter = new RateLimiter();
      const reference = tokenBucket(rate, burst);
      let now = 0;
      let admitted = 0;
      for (let i = 0; i < 4_000; i++) {
        now += Math.round(-Math.log(1 - next()) * meanGapMs * 1000) / 1000; // Poisson arrivals, µs resolution
        const ours = limiter.take("k", { rate, burst }, now).admitted;
        expect(ours, `rate ${rate} burst ${burst}, request ${i} at ${now} ms`).toBe(reference(now));
        if (ours) admitted++;
      }
      // Over the run, never more than burst + rate × elapsed.
      expect(admitted).toBeLessThanOrEqual(burst + (rate * now) / 1000 + 1e-6);
    }
  });

  it("refusing changes nothing; forgetting a key starts it full; idle keys are swept past 10,000", () => {
    const limiter = new RateLimiter();
    const limit = { rate: 1, burst: 1 };
    expect(limiter.take("k", limit, 0).admitted).toBe(true);
    for (let i = 0; i < 100; i++) expect(limiter.take("k", limit, 500).admitted).toBe(false);
    expect(limiter.take("k", limit, 1_000).admitted).toBe(true);
    limiter.forget("k");
    expect(limiter.take("k", limit, 1_000).admitted).toBe(true);
    for (let i = 0; i < 10_000; i++) limiter.take(`idle${i}`, limit, 2_000);
    // The 10,000th new key swept "k", full again at 2,000 ms.
    expect(limiter.size).toBe(10_000);
    limiter.take("late", limit, 10_000);
    expect(limiter.size).toBe(1);
  });

  it("a changed limit applies to the next request: raised, the key is not held to the old limit's wait (re-break); lowered, it starts full at the new one", () => {
    const limiter = new RateLimiter();
    const slow = { rate: 0.01, burst: 1 };
    expect(limiter.take("k", slow, 0).admitted).toBe(true);
    expect(limiter.take("k", slow, 10).admitted).toBe(false);
    const fast = { rate: 1000, burst: 1000 };
    for (let i = 0; i < 10; i++) expect(limiter.take("k", fast, 20).admitted).toBe(true);
    // Back to the slow limit: it starts full (one request), then holds.
    expect(limiter.take("k", slow, 30).admitted).toBe(true);
    expect(limiter.take("k", slow, 40)).toMatchObject({ admitted: false });
    // A burst change alone is a change too.
    expect(limiter.take("k", { rate: 0.01, burst: 3 }, 50).admitted).toBe(true);
  });

  it("rejects a rate or burst it cannot honour", () => {
    const limiter = new RateLimiter();
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => limiter.take("k", { rate, burst: 1 }, 0)).toThrow(/rate/);
    for (const burst of [0, 1.5, -2]) expect(() => limiter.take("k", { rate: 1, burst }, 0)).toThrow(/burst/);
  });

  it("defaults the burst to one second's worth, at least one", () => {
    expect([0.2, 1, 2.5, 100].map(defaultBurst)).toEqual([1, 1, 3, 100]);
  });
});
