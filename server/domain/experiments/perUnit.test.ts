import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { describeMean, ratioOfMeans, summarizeRatio, type MeanSummary } from "../stats";
import { analyseExperiment, type VariantData } from "./analyse";
import { clickedRequestSummaries } from "./observations";
import { clickedRequestMetricsByUnit, linearisedRatio } from "./perUnit";

const empty = { n: 0, sum: 0, sumSq: 0 };
const pairs = { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 };
const arm = (units: number, m: { ndcg: MeanSummary; mrr: MeanSummary }): VariantData =>
  ({ units, multipleExposures: 0, ctr: pairs, conversion: empty, revenue: empty, ...m, fallback: empty, clicksCuped: pairs, latencyMs: [] });

describe("per-request metrics analysed per unit", () => {
  it("the linearised ratio has the ratio's mean and its delta-method variance, n = units", () => {
    // Units (Y, X): (3, 4), (1, 1), (0, 2), (5, 5). R = 9/12 = 0.75; X̄ = 3, Ȳ = 2.25.
    // s²_Y = 14.75/3, s²_X = 10/3, s_XY = 11/3 (n − 1 = 3);
    // Var(R) = (s²_Y − 2R·s_XY + R²·s²_X)/X̄²/n = (14.75 − 16.5 + 5.625)/3/9/4 = 3.875/108 = 0.03587963.
    const ratio = summarizeRatio([{ numerator: 3, denominator: 4 }, { numerator: 1, denominator: 1 }, { numerator: 0, denominator: 2 }, { numerator: 5, denominator: 5 }]);
    const d = describeMean(linearisedRatio(ratio));
    expect(d.n).toBe(4);
    expect(d.mean).toBeCloseTo(0.75, 14);
    expect(d.variance / d.n).toBeCloseTo(0.03587963, 8);
    expect(d.variance / d.n).toBeCloseTo(ratioOfMeans(ratio).variance, 14);
    expect(linearisedRatio(summarizeRatio([]))).toEqual(empty);
  });

  it("sums NDCG and reciprocal rank per unit over its clicked requests", () => {
    // Unit a: positions 1 and 2 (RR 1 and 0.5); unit b: position 20 (outside NDCG@10, RR 0.05).
    const m = clickedRequestMetricsByUnit([{ unit: "a", positions: [1] }, { unit: "a", positions: [2] }, { unit: "b", positions: [20] }]);
    expect(m.mrr.n).toBe(2);
    expect(describeMean(m.mrr).mean).toBeCloseTo((1 + 0.5 + 0.05) / 3, 14);
    expect(m.ndcg.n).toBe(1);
    expect(describeMean(m.ndcg).mean).toBeCloseTo((1 + 1 / Math.log2(3)) / 2, 14);
  });

  it("A/A with users who differ: the fixed engine's false-positive rate on MRR stays near α = 5 % (per request: far above)", () => {
    // 200 users per arm, 20 clicked requests each. A user clicks the first result with probability
    // q ~ 0.6 + 0.2·N(0, 1) (clamped to [0, 1]), else one of positions 2–5: requests of one user are
    // alike, so the design effect is ≈ 4 and a per-request test calls about a third of A/A runs.
    const rng = createRng(2018);
    const users = (prefix: string) => Array.from({ length: 200 }, (_, u) => {
      const q = Math.min(1, Math.max(0, 0.6 + 0.2 * rng.normal()));
      return Array.from({ length: 20 }, () => ({ unit: `${prefix}${u}`, positions: [rng.next() < q ? 1 : rng.int(2, 5)] }));
    }).flat();
    const runs = 1000;
    let perUnit = 0;
    let perRequest = 0;
    for (let r = 0; r < runs; r++) {
      const a = users("a");
      const b = users("b");
      const called = (m: (rows: typeof a) => { ndcg: MeanSummary; mrr: MeanSummary }) => {
        const result = analyseExperiment({
          kind: "ab", engine: "fixed", primaryMetric: "mrr", guardrails: [],
          variants: [{ key: "a", weight: 0.5, isControl: true }, { key: "b", weight: 0.5, isControl: false }],
          data: { a: arm(200, m(a)), b: arm(200, m(b)) },
        });
        const c = result.metrics.find((x) => x.metric === "mrr")!.comparisons[0]!;
        return c.available && c.call !== "none";
      };
      if (called(clickedRequestMetricsByUnit)) perUnit++;
      if (called(clickedRequestSummaries)) perRequest++;
    }
    if (process.env.STATS_SIM_REPORT) console.info(`A/A MRR false positives: per unit ${(100 * perUnit / runs).toFixed(1)}%, per request ${(100 * perRequest / runs).toFixed(1)}%`);
    expect(perUnit / runs).toBeLessThanOrEqual(0.08);
    expect(perUnit / runs).toBeGreaterThanOrEqual(0.025);
    expect(perRequest / runs).toBeGreaterThan(0.2);
  }, 180_000); // 2,000 analyses of 8,000 requests: ~30 s on two idle cores, twice that beside a build
});
