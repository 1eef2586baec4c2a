import { describe, expect, it } from "vitest";
import { createRng } from "../domain/random";
import { blocksForSamples, loopMicrosPerRequest, p99Ratio, p99RatioOfBlocks, TARGET_RATIO, targetVerdict, verdict } from "./textReport";

// The probe of bench:text is tabular requests every 1000 / rate ms; a model run on the event loop
// holds every request that falls due during it until the run ends. These tests build such latencies
// and check that the figure the target is judged on sees the stall.

const RATE = 100; // probe requests per second, as text.bench.ts sends them
const SERVICE_MS = 1; // a tabular request's own time

/** Probe latencies over `seconds`: service time with seeded jitter, plus the wait behind any stall in `stalls` ([start, end) ms). */
function probe(seconds: number, seed: number, stalls: Array<[number, number]> = []): number[] {
  const rng = createRng(seed);
  const out: number[] = [];
  for (let i = 0; i < RATE * seconds; i++) {
    const due = (i * 1000) / RATE;
    const stall = stalls.find(([from, to]) => due >= from && due < to);
    out.push(SERVICE_MS + 0.3 * rng.next() + (stall ? stall[1] - due : 0));
  }
  return out;
}

/** A `runMs` model run on the event loop every `everyMs`, over `seconds`. */
const runsOnLoop = (seconds: number, runMs: number, everyMs: number): Array<[number, number]> =>
  Array.from({ length: Math.floor((seconds * 1000) / everyMs) }, (_, k) => [k * everyMs + 3, k * everyMs + 3 + runMs]);

describe("p99Ratio", () => {
  it("reads about 1 for the same traffic, with an interval around it", () => {
    const r = p99Ratio(probe(16, 1), probe(10, 2));
    expect(r.ratio).toBeGreaterThan(0.9);
    expect(r.ratio).toBeLessThan(1.1);
    expect(r.interval!.lower).toBeLessThanOrEqual(1);
    expect(r.interval!.upper).toBeGreaterThanOrEqual(1);
    expect(verdict(r)).toMatch(/^met/);
  });

  it("catches a model run blocking the event loop: 5 ms every 47 ms is a clear miss", () => {
    const r = p99Ratio(probe(16, 1), probe(10, 2, runsOnLoop(10, 5, 47)));
    expect(r.ratio).toBeGreaterThan(3);
    expect(r.interval!.lower).toBeGreaterThan(TARGET_RATIO);
    expect(verdict(r)).toBe("missed");
  });

  it("catches a stall that delays only 2 % of the probe's requests", () => {
    // A 10 ms run every 500 ms: one probe request in fifty falls due during a run (and waits 3 ms).
    const stalls = runsOnLoop(10, 10, 500);
    const loaded = probe(10, 2, stalls);
    const delayed = loaded.filter((x) => x > SERVICE_MS + 0.3).length / loaded.length;
    expect(delayed).toBeCloseTo(0.02, 3);
    expect(p99Ratio(probe(16, 1), loaded).ratio).toBeGreaterThan(TARGET_RATIO);
  });

  it("gives no interval for a sample too small to bound its p99, and says the verdict is within noise", () => {
    const r = p99Ratio(probe(2.4, 1), probe(2.4, 2));
    expect(r.interval).toBeNull();
    expect(verdict(r)).toBe("met (within noise)");
  });

  it("refuses empty samples", () => {
    expect(() => p99Ratio([], [1])).toThrow(RangeError);
  });
});

describe("p99RatioOfBlocks", () => {
  /** `count` blocks of `seconds` of probe latencies each, block b seeded with seed + b, with `stalls(b)` in it. */
  const blocks = (count: number, seconds: number, seed: number, stalls: (b: number) => Array<[number, number]> = () => []) =>
    Array.from({ length: count }, (_, b) => probe(seconds, seed + b, stalls(b)));

  it("widens, never narrows, the order-statistic interval, and is the same for the same blocks", () => {
    const alone = blocks(6, 1.5, 10);
    const loaded = blocks(6, 1.5, 20);
    const independent = p99Ratio(alone.flat(), loaded.flat());
    const r = p99RatioOfBlocks(alone, loaded);
    expect(r.ratio).toBe(independent.ratio);
    expect(r.interval!.lower).toBeLessThanOrEqual(independent.interval!.lower);
    expect(r.interval!.upper).toBeGreaterThanOrEqual(independent.interval!.upper);
    expect(p99RatioOfBlocks(alone, loaded)).toEqual(r);
  });

  it("does not call one block's stall a settled miss: serially dependent latencies need the block bootstrap", () => {
    // One loaded block of six holds a 250 ms stall (25 of its 150 requests, 2.8 % of the side, wait behind it): the
    // pooled p99 rises; the requests are not independent, so the order statistics alone say "missed".
    const alone = blocks(6, 1.5, 30);
    const loaded = blocks(6, 1.5, 40, (b) => (b === 3 ? [[500, 750]] : []));
    const independent = p99Ratio(alone.flat(), loaded.flat());
    expect(verdict(independent)).toBe("missed");
    const r = p99RatioOfBlocks(alone, loaded);
    expect(r.interval!.lower).toBeLessThanOrEqual(TARGET_RATIO);
    expect(verdict(r)).toBe("missed (within noise)");
  });

  it("still settles a stall in every block (a model run on the event loop) as a miss", () => {
    const r = p99RatioOfBlocks(blocks(6, 1.5, 50), blocks(6, 1.5, 60, () => runsOnLoop(1.5, 5, 47)));
    expect(r.interval!.lower).toBeGreaterThan(TARGET_RATIO);
    expect(verdict(r)).toBe("missed");
  });

  it("refuses a side without blocks", () => {
    expect(() => p99RatioOfBlocks([], [[1]])).toThrow(RangeError);
  });
});

describe("targetVerdict", () => {
  it("is missed when any document count is a clear miss, whatever the others say", () => {
    expect(targetVerdict(["met", "missed (within noise)", "missed"])).toBe("missed");
  });

  it("is met only when every interval lies at or below the target", () => {
    expect(targetVerdict(["met", "met", "met"])).toBe("met");
    expect(targetVerdict(["met", "met (within noise)", "met"])).toBe("not settled");
    expect(targetVerdict(["met", "missed (within noise)"])).toBe("not settled");
    expect(targetVerdict([])).toBe("not settled");
  });

  it("needs thousands of samples a side to settle a ratio of 1 when the p99 falls in a sparse tail", () => {
    // Probe latencies with a tail: 1 ms service time, 2 % of requests delayed 2–6 ms (the p99 lies in that tail).
    const tailed = (n: number, seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: n }, () => 1 + 0.3 * rng.next() + (rng.next() < 0.02 ? 2 + 4 * rng.next() : 0));
    };
    const width = (n: number) => {
      const r = p99Ratio(tailed(n, 1), tailed(n, 2));
      return { verdict: verdict(r), width: r.interval!.upper - r.interval!.lower };
    };
    const [small, medium, large] = [width(900), width(6000), width(20_000)];
    expect(small.verdict).toBe("met (within noise)");
    expect(medium.width).toBeLessThan(small.width / 2);
    expect(large.verdict).toBe("met");
  });
});

describe("blocksForSamples", () => {
  it("pools at least the samples asked for, in an even number of blocks", () => {
    expect(blocksForSamples(6000, 100, 1.5)).toBe(40);
    expect(blocksForSamples(6001, 100, 1.5)).toBe(42);
    expect(blocksForSamples(300, 100, 0.5)).toBe(6);
    expect(blocksForSamples(100, 100, 1.5)).toBe(2);
  });

  it("refuses a block that holds no probe request, and non-positive arguments", () => {
    expect(() => blocksForSamples(100, 1, 0.1)).toThrow(RangeError);
    expect(() => blocksForSamples(0, 100, 1.5)).toThrow(/samples/);
    expect(() => blocksForSamples(100, Number.NaN, 1.5)).toThrow(/rate/);
  });
});

describe("loopMicrosPerRequest", () => {
  it("divides the loop's added busy share by the text request rate", () => {
    // 23 % busy beside 366 text req/s, 13 % alone: 10 % of each second over 366 requests.
    expect(loopMicrosPerRequest(0.23, 0.13, 366)).toBeCloseTo(273.2, 1);
    expect(loopMicrosPerRequest(0.1, 0.12, 100)).toBeCloseTo(-200, 6);
    expect(loopMicrosPerRequest(0.2, 0.1, 0)).toBe(0);
  });
});
