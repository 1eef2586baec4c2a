import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng, type Rng } from "../random";
import { summarizeMean, summarizeProportion, summarizeRatio, type MeanSummary } from "../stats";
import { linearisedRatio } from "./perUnit";
import { binomial } from "../stats/binomialDraw";
import { analyseExperiment, planningBaseline, type AnalysisInput, type Engine, type VariantData } from "./analyse";
import { judgeLatencyGuardrail, judgeMetricGuardrail } from "./guardrails";
import { NO_SPREAD_NOTE } from "./noSpread";
import { shipBlockers } from "./shipGate";

// The numbered examples of issue #13, each with the right value, plus the output promise: no NaN
// or Infinity anywhere in an analysis, whatever the data.

const empty = { n: 0, sum: 0, sumSq: 0 };
function variant(units: number, overrides: Partial<VariantData> = {}): VariantData {
  return {
    units, multipleExposures: 0,
    ctr: { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 }, conversion: summarizeProportion(units, 0), revenue: empty,
    ndcg: empty, mrr: empty, fallback: empty, clicksCuped: { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 }, latencyMs: [],
    ...overrides,
  };
}
function input(data: Record<string, VariantData>, overrides: Partial<AnalysisInput> = {}): AnalysisInput {
  return {
    kind: "ab", engine: "sequential", primaryMetric: "ctr", guardrails: [],
    variants: [{ key: "control", weight: 0.5, isControl: true }, { key: "treatment", weight: 0.5, isControl: false }],
    data, ...overrides,
  };
}
/** The treatment-vs-control comparison of `metric` (the first treatment's). */
const firstComparison = (a: ReturnType<typeof analyseExperiment>, metric: string) => a.metrics.find((m) => m.metric === metric)!.comparisons[0]!;
/** Per-unit CTR rows: `clicked` of `units` units clicked once, each with `impressions` impressions. */
function ctrRows(units: number, clicked: number, impressions = 5) {
  return summarizeRatio(Array.from({ length: units }, (_, i) => ({ numerator: i < clicked ? 1 : 0, denominator: impressions })));
}

describe("issue #13, point 2: the sample-ratio check with an empty arm", () => {
  it("40 vs 0 at 50/50 is χ² 40, p 2.5e-10, and blocks the verdict", () => {
    const a = analyseExperiment(input({ control: variant(40), treatment: variant(0) }));
    expect(a.srm.available).toBe(true);
    if (!a.srm.available) return;
    expect(a.srm.chiSquare).toBeCloseTo(40, 12);
    expect(a.srm.pValue).toBeCloseTo(2.5396285894708634e-10, 20); // scipy.stats.chi2.sf(40, 1)
    expect(a.srm.mismatch).toBe(true);
    expect(a.verdict.decision).toBe("blocked");
    expect(a.verdict.text).toMatch(/sample-ratio mismatch, χ² = 40\.0, p = 2\.5e-10/);
  });

  it("no units at all: no check, and it says why", () => {
    expect(analyseExperiment(input({})).srm).toEqual({ available: false, reason: "no units yet" });
  });
});

describe("issue #13, point 3: a guardrail against a zero baseline", () => {
  const guardrail = { metric: "fallback_rate", direction: "increase" as const, threshold: 0.2 };
  const rate = { type: "proportion" as const, zeroBaselineMargin: 0.01 };
  const judge = (c: MeanSummary, t: MeanSummary) => judgeMetricGuardrail(guardrail, rate, c, [{ variant: "treatment", summary: t }])[0]!;

  it("control 0/17 vs treatment 7/23 is violated (absolute rule), not ok", () => {
    const check = judge(summarizeProportion(17, 0), summarizeProportion(23, 7));
    expect(check.rule).toBe("absolute (zero baseline)");
    expect(check.margin).toBe(0.01);
    expect(check.change!.estimate).toBeCloseTo(7 / 23, 12);
    expect(check.status).toBe("violated");
  });

  it("treatment 17/17 is violated, not 'no data'", () => {
    expect(judge(summarizeProportion(17, 0), summarizeProportion(17, 17)).status).toBe("violated");
  });

  it("NaN never passes: a ratio guardrail with no impressions is 'no data', a mean with one unit is inconclusive", () => {
    const ctr = { metric: "ctr", direction: "decrease" as const, threshold: 0.05 };
    const none = { n: 3, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 };
    expect(judgeMetricGuardrail(ctr, { type: "ratio" }, none, [{ variant: "t", summary: none }])[0]!.status).toBe("no data");
    const revenue = { metric: "revenue_per_session", direction: "decrease" as const, threshold: 0.05 };
    expect(judgeMetricGuardrail(revenue, { type: "mean" }, summarizeMean([3]), [{ variant: "t", summary: summarizeMean([1]) }])[0]!.status).toBe("inconclusive");
  });

  it("a small rise within the margin on a big sample is ok; the same rise on a tiny one is inconclusive", () => {
    expect(judge(summarizeProportion(100_000, 1000), summarizeProportion(100_000, 1050)).status).toBe("ok");
    expect(judge(summarizeProportion(100, 1), summarizeProportion(100, 1)).status).toBe("inconclusive");
  });

  it("on a zero baseline a rise within the absolute margin is ok with enough data, and a bigger one is not", () => {
    expect(judge(summarizeProportion(20_000, 0), summarizeProportion(20_000, 20)).status).toBe("ok"); // +0.1 point
    expect(judge(summarizeProportion(20_000, 0), summarizeProportion(20_000, 600)).status).toBe("violated"); // +3 points
    // A metric without its own margin reads the threshold in its unit.
    const revenue = { metric: "revenue_per_session", direction: "decrease" as const, threshold: 0.2 };
    // Two constant arms of it (no purchase yet anywhere) are not an exact 0: see "not enough spread" below.
    expect(judgeMetricGuardrail(revenue, { type: "mean" }, summarizeMean([0, 0, 0]), [{ variant: "t", summary: summarizeMean([0, 0, 1]) }])[0]).toMatchObject({ rule: "absolute (zero baseline)", margin: 0.2 });
  });

  it("flows into the analysis and blocks shipping", () => {
    const a = analyseExperiment(input(
      { control: variant(17, { fallback: summarizeProportion(17, 0) }), treatment: variant(23, { fallback: summarizeProportion(23, 7) }) },
      { guardrails: [guardrail] },
    ));
    expect(a.guardrails[0]!.status).toBe("violated");
  });
});

describe("issue #13, point 4: the latency guardrail judged with uncertainty", () => {
  // 240 requests per arm, as two tiny linear models give in a short run: the treatment's median is
  // lower, its p95 is 22 % higher (14.9 vs 18.2 ms) because of a handful of slow requests.
  const bulk = (from: number) => Array.from({ length: 224 }, (_, i) => from + (i / 224) * 4);
  const control = [...bulk(6), 12, 13, 13.5, 14.9, 15, 15.2, 15.5, 16, 16.5, 17, 18, 19, 20, 21, 22, 25];
  const treatment = [...bulk(5.5), 14, 16, 17.5, 18.2, 18.5, 19, 19.5, 20, 21, 22, 23, 24, 25, 26, 27, 30];
  const guardrail = { metric: "latency_p95", direction: "increase" as const, threshold: 0.2 };

  it("p95 14.9 vs 18.2 ms on 240 requests: the old point rule (+22 % > 20 %) said violated, the interval says inconclusive", () => {
    const check = judgeLatencyGuardrail(guardrail, control, [{ variant: "treatment", samples: treatment }])[0]!;
    expect(check.change!.estimate).toBeCloseTo(18.2 / 14.9 - 1, 2);
    expect(check.change!.lower).toBeLessThan(0);
    expect(check.status).toBe("inconclusive");
  });

  it("a clear 50 % rise on 5,000 requests per arm is violated; no rise is ok", () => {
    const sample = (scale: number) => Array.from({ length: 5000 }, (_, i) => scale * -Math.log(1 - (i + 0.5) / 5000));
    expect(judgeLatencyGuardrail(guardrail, sample(10), [{ variant: "t", samples: sample(15) }])[0]!.status).toBe("violated");
    expect(judgeLatencyGuardrail(guardrail, sample(10), [{ variant: "t", samples: sample(10) }])[0]!.status).toBe("ok");
  });

  it("too few requests for an interval says so", () => {
    const check = judgeLatencyGuardrail(guardrail, [10, 11, 12], [{ variant: "t", samples: [20, 21, 22] }])[0]!;
    expect(check.status).toBe("inconclusive");
    expect(check.detail).toMatch(/too few requests/);
  });
});

describe("issue #13, point 5: one verdict, from the configured engine", () => {
  // CTR 10 % vs 12.25 % on 2,000 units per arm: the fixed-horizon test and the Bayesian read-out
  // are decisive, the sequential one (tuned for 5,000 units per arm) is not yet.
  const data = { control: variant(2000, { ctr: ctrRows(2000, 200, 1) }), treatment: variant(2000, { ctr: ctrRows(2000, 245, 1) }) };
  const primary = (engine: Engine) => {
    const a = analyseExperiment(input(data, { engine }));
    const c = firstComparison(a, "ctr");
    if (!c.available) throw new Error(c.reason);
    return { a, c };
  };

  it("each engine's own p belongs to its own interval; the others are secondary and labelled", () => {
    for (const engine of ["sequential", "fixed"] as const) {
      const { c } = primary(engine);
      expect(c.engine).toBe(engine);
      const excludesZero = c.absolute.ci[0] > 0 || c.absolute.ci[1] < 0;
      expect(c.pValue! < 0.05).toBe(excludesZero);
      expect(c.secondary.map((s) => s.engine).sort()).toEqual((["sequential", "fixed", "bayesian"] as const).filter((e) => e !== engine).sort());
      expect(c.secondary.every((s) => /^secondary — .*not used for the decision$/.test(s.label))).toBe(true);
    }
  });

  it("the sequential engine says keep running while the Bayesian one, secondary, reads high: one verdict", () => {
    const { a, c } = primary("sequential");
    expect(c.call).toBe("none");
    expect(c.secondary.find((s) => s.engine === "bayesian")!.chanceToBeat).toBeGreaterThan(0.95);
    expect(a.verdict.decision).toBe("keep running");
    expect(a.verdict.text).toContain("sequential");
    expect(a.verdict.text).not.toContain("P(better");
  });

  it("the fixed-horizon and Bayesian engines decide 'ship'", () => {
    expect(primary("fixed").a.verdict).toMatchObject({ decision: "ship", variant: "treatment" });
    const bayes = primary("bayesian");
    expect(bayes.c.pValue).toBeNull();
    expect(bayes.c.chanceToBeat).toBeGreaterThan(0.975);
    expect(bayes.a.verdict).toMatchObject({ decision: "ship", variant: "treatment" });
    expect(bayes.a.verdict.text).toMatch(/P\(better than control\) 9\d\.\d%/);
  });
});

describe("issue #13, point 6: numerical robustness", () => {
  it("[1e8, 1e8 + 1] vs [1e8 + 1, 1e8 + 3]: p 0.3499 (scipy), not NaN", () => {
    const a = analyseExperiment(input(
      { control: variant(2, { revenue: summarizeMean([1e8, 1e8 + 1]) }), treatment: variant(2, { revenue: summarizeMean([1e8 + 1, 1e8 + 3]) }) },
      { engine: "fixed", primaryMetric: "revenue_per_session" },
    ));
    const c = firstComparison(a, "revenue_per_session");
    expect(c.available).toBe(true);
    if (c.available) expect(c.pValue).toBeCloseTo(0.34988559277094033, 9);
  });

  it("50,050/500,500 vs 50,750/500,500 keeps the t distribution: p 0.0200741", () => {
    const a = analyseExperiment(input(
      { control: variant(500_500, { conversion: summarizeProportion(500_500, 50_050) }), treatment: variant(500_500, { conversion: summarizeProportion(500_500, 50_750) }) },
      { engine: "fixed", primaryMetric: "conversion" },
    ));
    const c = firstComparison(a, "conversion");
    if (!c.available) throw new Error(c.reason);
    expect(c.pValue).toBeCloseTo(0.020074137264411127, 12);
  });

  it("no sequential result below the minimum sample per arm, with the reason", () => {
    const a = analyseExperiment(input({ control: variant(2, { revenue: summarizeMean([-1, 1]) }), treatment: variant(1000, { revenue: summarizeMean(Array.from({ length: 1000 }, (_, i) => 4.5 + (i % 2 ? 10 : -10))) }) }, {
      primaryMetric: "revenue_per_session",
      variants: [{ key: "control", weight: 2 / 1002, isControl: true }, { key: "treatment", weight: 1000 / 1002, isControl: false }],
    }));
    const c = firstComparison(a, "revenue_per_session");
    expect(c).toEqual({ variant: "treatment", available: false, reason: "a sequential result needs at least 30 units per arm" });
    expect(a.verdict.decision).toBe("not enough data");
    expect(a.verdict.text).toContain("30 units per arm");
  });
});

describe("an interleaving experiment", () => {
  it("reports the engine's sign test, latency of the interleaved traffic, no SRM and no A/B comparisons", () => {
    const a = analyseExperiment(input({ interleaved: variant(50, { latencyMs: [4, 5, 6] }) }, {
      kind: "interleaving",
      interleaving: { variantA: "control", variantB: "treatment", winsA: 0, winsB: 30, ties: 2, requestsWithClicks: 32, requests: 50, competitive: 40, creditByPosition: [] },
    }));
    expect(a.interleaving!.test!.method).toBe("sequential sign test (always valid)");
    expect(a.srm.available).toBe(false);
    expect(a.metrics.every((m) => m.comparisons.length === 0 && m.variants.map((v) => v.key).join() === "interleaved")).toBe(true);
    expect(a.latency).toEqual([{ variant: "interleaved", p50: 5, p95: 5.9, requests: 3 }]);
    expect(a.interleaving!.test!.significant).toBe(true);
    expect(a.verdict).toMatchObject({ decision: "ship", variant: "treatment" });
  });

  it("break test (2026-12-02): 200 clicked requests, all ties, say so (not 'no clicks yet')", () => {
    const interleaving = { variantA: "control", variantB: "treatment", winsA: 0, winsB: 0, ties: 200, requestsWithClicks: 200, requests: 400, competitive: 0, creditByPosition: [] };
    const a = analyseExperiment(input({ interleaved: variant(400) }, { kind: "interleaving", interleaving }));
    expect(a.verdict.decision).toBe("not enough data");
    expect(a.verdict.text).toMatch(/^200 requests with clicks, every one a tie/);
    const none = analyseExperiment(input({ interleaved: variant(400) }, { kind: "interleaving", interleaving: { ...interleaving, ties: 0, requestsWithClicks: 0 } }));
    expect(none.verdict.text).toBe("No clicks on interleaved results yet: keep the experiment running.");
  });
});

describe("multiple exposures", () => {
  it("are counted with the stated rule and warn above 1 %", () => {
    const a = analyseExperiment(input({ control: variant(98, { multipleExposures: 1 }), treatment: variant(99, { multipleExposures: 2 }) }));
    expect(a.multipleExposure).toMatchObject({ units: 3, warning: true, byVariant: [{ key: "control", units: 1 }, { key: "treatment", units: 2 }] });
    expect(a.multipleExposure.share).toBeCloseTo(3 / 200, 12);
    expect(a.multipleExposure.rule).toMatch(/excluded from every metric/);
  });
});

/** Every number anywhere in `value` is finite. */
function assertFinite(value: unknown, path = "analysis"): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`${path} is ${value}`);
  } else if (Array.isArray(value)) value.forEach((v, i) => assertFinite(v, `${path}[${i}]`));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) assertFinite(v, `${path}.${k}`);
}

describe("the output promise", () => {
  it("no NaN or Infinity, whatever the data: empty arms, one unit, all zeros, all ones, constant arms", () => {
    const count = fc.integer({ min: 0, max: 40 });
    const arm = fc.tuple(count, fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 1, 5), fc.array(fc.constantFrom(0, 1, 1e8, 3.5), { maxLength: 6 }), fc.array(fc.double({ min: 0.5, max: 50, noNaN: true }), { maxLength: 120 }))
      .map(([units, c, impressions, revenue, latency]): VariantData => {
        const clicked = Math.min(units, c);
        return variant(units, {
          ctr: ctrRows(units, clicked, impressions), conversion: summarizeProportion(units, clicked), revenue: summarizeMean(revenue),
          fallback: summarizeProportion(units, Math.min(units, c % 3 ? 0 : clicked)), ndcg: summarizeMean(revenue.map((r) => (r ? 1 : 0))), latencyMs: latency,
          clicksCuped: { n: units, sumX: 0, sumY: clicked, sumX2: 0, sumY2: clicked, sumXY: 0 },
        });
      });
    fc.assert(
      fc.property(arm, arm, fc.constantFrom<Engine>("sequential", "fixed", "bayesian"), fc.constantFrom("ctr", "conversion", "revenue_per_session"), (c, t, engine, primaryMetric) => {
        const a = analyseExperiment(input({ control: c, treatment: t }, {
          engine, primaryMetric, minDetectableEffect: undefined,
          guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }, { metric: "latency_p95", direction: "increase", threshold: 0.2 }, { metric: "ctr", direction: "decrease", threshold: 0.1 }],
          planning: { minDetectableEffect: 0.1, days: 1 },
        } as Partial<AnalysisInput>));
        assertFinite(a);
        expect(a.verdict.text).not.toMatch(/NaN|Infinity/);
      }),
      { numRuns: 400 },
    );
  });
});

describe("break test of the verdict (2026-05): the figures, the decision and the guardrails agree", () => {
  const conversion = (units: number, converted: number, overrides: Partial<VariantData> = {}) => variant(units, { conversion: summarizeProportion(units, converted), ...overrides });
  const aa = (engine: Engine, seed: number, runs: number, look: (rng: Rng, state: { a: number; b: number; n: number }) => AnalysisInput) => {
    const rng = createRng(seed);
    let shipped = 0;
    for (let r = 0; r < runs; r++) {
      const state = { a: 0, b: 0, n: 0 };
      for (let l = 0; l < 50; l++) {
        if (analyseExperiment({ ...look(rng, state), engine }).verdict.decision === "ship") {
          shipped++;
          break;
        }
      }
    }
    return shipped / runs;
  };

  it("1. the lift's interval is the inversion of the p beside it: 10/1,000 vs 30/1,000 ships with +56.6 % to +713.1 %, p = 0.0014", () => {
    // scipy: Welch p 0.0013964 on the 0/1 data; Fieller's interval at t_{0.975}(1608.2) (compare.test.ts).
    const a = analyseExperiment(input({ control: conversion(1000, 10), treatment: conversion(1000, 30) }, { engine: "fixed", primaryMetric: "conversion" }));
    expect(a.verdict.decision).toBe("ship");
    expect(a.verdict.text).toContain("Conversion +200.0% (95% CI +56.6% to +713.1%; p = 0.0014;");
    const c = firstComparison(a, "conversion");
    if (!c.available) throw new Error(c.reason);
    expect(c.relative!.ci[0]).toBeCloseTo(0.5661733338992561, 6);
    // The Bayesian reading's credible interval of the lift is Fieller's at z (scipy: +56.69 % to +712.1 %).
    expect(c.secondary.find((s) => s.engine === "bayesian")!.relativeCi![0]).toBeCloseTo(0.56693530686818, 6);
  });

  it("1. every engine: the lift's interval excludes 0 exactly when the engine makes a call (property)", () => {
    const arm = fc.tuple(fc.integer({ min: 150, max: 3000 }), fc.double({ min: 0.01, max: 0.3, noNaN: true })).map(([n, rate]) => conversion(n, Math.round(n * rate)));
    fc.assert(
      fc.property(arm, arm, fc.constantFrom<Engine>("sequential", "fixed", "bayesian"), (control, treatment, engine) => {
        const c = firstComparison(analyseExperiment(input({ control, treatment }, { engine, primaryMetric: "conversion" })), "conversion");
        if (!c.available || !c.relative) return;
        const edge = engine === "bayesian" ? Math.min(Math.abs(c.chanceToBeat! - 0.025), Math.abs(c.chanceToBeat! - 0.975)) : Math.abs(c.pValue! - 0.05);
        if (edge < 1e-7) return;
        expect(c.relative.ci[0] > 0 || c.relative.ci[1] < 0).toBe(c.call !== "none");
      }),
      { numRuns: 300 },
    );
  });

  it("2. Bayesian, lower-is-better: fallback 60/500 vs 20/500 reads P(better) 100.0 % (Φ(4.709) = 0.9999988), once", () => {
    const a = analyseExperiment(input(
      { control: variant(500, { fallback: summarizeProportion(500, 60) }), treatment: variant(500, { fallback: summarizeProportion(500, 20) }) },
      { engine: "bayesian", primaryMetric: "fallback_rate" },
    ));
    const c = firstComparison(a, "fallback_rate");
    if (!c.available) throw new Error(c.reason);
    expect(c.chanceToBeat).toBeCloseTo(0.9999987573306822, 9); // scipy.stats.norm.cdf(4.709328803319829)
    expect(c.call).toBe("better");
    expect(a.verdict).toMatchObject({ decision: "ship", variant: "treatment" });
    expect(a.verdict.text).toMatch(/P\(better than control\) 100\.0%/);
  });

  it("3. interleaving A/A under the sequential engine, read 50 times: at most α ships (2,000 seeded runs)", () => {
    const rate = aa("sequential", 2603, 2000, (rng, s) => {
      const wins = binomial(rng, 100, 0.5);
      s.a += wins;
      s.b += 100 - wins;
      return input({}, { kind: "interleaving", interleaving: { variantA: "control", variantB: "treatment", winsA: s.a, winsB: s.b, ties: 0, requestsWithClicks: s.a + s.b, requests: s.a + s.b, competitive: s.a + s.b, creditByPosition: [] } });
    });
    expect(rate).toBeLessThanOrEqual(0.05);
  }, 60_000);

  it("4. the fixed engine makes no call before its sample: 2 units per arm keep running, with the progress in words", () => {
    const a = analyseExperiment(input(
      { control: variant(2, { revenue: summarizeMean([1, 2]) }), treatment: variant(2, { revenue: summarizeMean([10, 11]) }) },
      { engine: "fixed", primaryMetric: "revenue_per_session" },
    ));
    expect(a.verdict.decision).toBe("keep running");
    expect(a.verdict.text).toContain("Keep running: fixed-horizon test, 2 of 150 observations of the primary metric");
    expect(a.metrics.flatMap((m) => m.comparisons).every((c) => !c.available || c.call === "none")).toBe(true);
    // With a plan (10 % conversion, MDE 12 %: 10,327 units per arm for the fixed engine; the sequential one's
    // plan, 19,775, is not this engine's) the plan is the sample.
    const planned = (units: number) => analyseExperiment(input({ control: conversion(units, units / 10), treatment: conversion(units, units / 5) }, { engine: "fixed", primaryMetric: "conversion", planning: { minDetectableEffect: 0.12, days: null } })).verdict;
    expect(planned(5000).decision).toBe("keep running");
    expect(planned(5000).text).toContain("fixed-horizon test, 5000 of 10327 planned units in control");
    expect(planned(12_000).decision).toBe("ship");
    expect(planned(20_000).decision).toBe("ship");
  });

  // The hold-back lowers, not removes, the cost of peeking at a fixed-horizon test: measured 6.6 % here (16 % without
  // it; 2.5 % read once at the planned size). The sequential engine is the one to peek with (README).
  it("4. A/A under the fixed engine read 50 times on the way to its plan: well under the 16 % without the hold-back (1,000 seeded runs)", () => {
    const rate = aa("fixed", 2604, 1000, (rng, s) => {
      s.n += 400;
      s.a += binomial(rng, 400, 0.1);
      s.b += binomial(rng, 400, 0.1);
      return input({ control: conversion(s.n, s.a), treatment: conversion(s.n, s.b) }, { primaryMetric: "conversion", planning: { minDetectableEffect: 0.12, days: null } });
    });
    expect(rate).toBeLessThanOrEqual(0.09);
  }, 60_000);

  it("review: the plan takes the control wherever it sits among the variants; the Bayesian engine is held back like the fixed one", () => {
    const data = { t1: conversion(1000, 100), control: conversion(2000, 200), t2: conversion(1000, 100) };
    const threeArms = (order: string[], weights: Record<string, number>) => analyseExperiment(input(data, {
      engine: "fixed", primaryMetric: "conversion", planning: { minDetectableEffect: 0.12, days: null },
      variants: order.map((key) => ({ key, weight: weights[key]!, isControl: key === "control" })),
    })).plan!;
    const weights = { control: 0.5, t1: 0.25, t2: 0.25 };
    const controlFirst = threeArms(["control", "t1", "t2"], weights);
    const controlMiddle = threeArms(["t1", "control", "t2"], weights);
    expect(controlMiddle.unitsPerVariant).toEqual([controlFirst.unitsPerVariant[1], controlFirst.unitsPerVariant[0], controlFirst.unitsPerVariant[2]]);
    // Bayesian: 2 units per arm make no call (its call is the fixed-horizon test; it shipped at any look).
    const bayes = analyseExperiment(input({ control: variant(2, { revenue: summarizeMean([1, 2]) }), treatment: variant(2, { revenue: summarizeMean([10, 11]) }) }, { engine: "bayesian", primaryMetric: "revenue_per_session" }));
    expect(bayes.verdict.decision).toBe("keep running");
  });

  it("5. a guardrail with no data holds the ship, naming it, in the verdict and the ship gate", () => {
    const a = analyseExperiment(input({ control: conversion(5000, 100), treatment: conversion(5000, 160) }, {
      engine: "fixed", primaryMetric: "conversion",
      guardrails: [{ metric: "mrr", direction: "decrease", threshold: 0.1 }, { metric: "latency_p95", direction: "increase", threshold: 0.2 }],
    }));
    expect(a.guardrails.map((g) => g.status)).toEqual(["no data", "no data"]);
    expect(a.verdict).toMatchObject({ decision: "keep running", variant: "treatment" });
    expect(a.verdict.text).toContain("the guardrails MRR from clicks, p95 latency cannot be judged yet for treatment (no data)");
    expect(shipBlockers(a, "treatment")).toEqual([
      "guardrail not judged, no data: MRR from clicks for treatment (no observations yet in the control)",
      "guardrail not judged, no data: p95 latency for treatment (no requests yet in the control)",
    ]);
  });

  it("6. guardrails are judged per treatment: c's tripled fallback rate blocks c, not the clean winner b", () => {
    const a = analyseExperiment(input({
      control: conversion(5000, 100, { fallback: summarizeProportion(5000, 50) }),
      b: conversion(5000, 170, { fallback: summarizeProportion(5000, 50) }),
      c: conversion(5000, 100, { fallback: summarizeProportion(5000, 150) }),
    }, {
      engine: "fixed", primaryMetric: "conversion",
      variants: [{ key: "control", weight: 1 / 3, isControl: true }, { key: "b", weight: 1 / 3, isControl: false }, { key: "c", weight: 1 / 3, isControl: false }],
      guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }],
    }));
    expect(a.guardrails[0]!.checks.map((c) => [c.variant, c.status])).toEqual([["b", "inconclusive"], ["c", "violated"]]);
    expect(a.verdict).toMatchObject({ decision: "ship", variant: "b" });
    expect(a.verdict.text).toContain("Guardrail violated: Fallback rate (c) — do not ship c without a look.");
    expect(shipBlockers(a, "b")).toEqual([]);
    expect(shipBlockers(a, "c")).toEqual(["guardrail violated: Fallback rate for c"]);
  });
});

describe("break test (2026-12): arms with no spread, and a violated guardrail beside a primary metric that cannot be compared", () => {
  const conversion = (units: number, converted: number, overrides: Partial<VariantData> = {}) => variant(units, { conversion: summarizeProportion(units, converted), ...overrides });
  /** `units` units of `requests` requests each, `share` of every unit's requests served by a fallback, as results.ts hands it over. */
  const fallbackShare = (units: number, requests: number, share: number) =>
    linearisedRatio(summarizeRatio(Array.from({ length: units }, () => ({ numerator: share * requests, denominator: requests }))));

  // Reference values (python3, scipy 1.17): Agresti–Caffo arms p̃ = (k + 1)/(n + 2), v = p̃(1 − p̃)/(n + 2);
  // d = p̃_T − p̃_C, se = √(v_C + v_T), Welch df = (v_C + v_T)²/(v_C²/(n_C − 1) + v_T²/(n_T − 1));
  // p = 2·stats.t.sf(d/se, df), CI d ± stats.t.ppf(0.975, df)·se, P(better) = stats.norm.cdf(d/se).

  it("conversion 0/1,000 vs 1,000/1,000 is a difference, not 'not enough data': +0.998 (95% CI +0.99524 to +1), ships", () => {
    const a = analyseExperiment(input({ control: conversion(1000, 0), treatment: conversion(1000, 1000) }, { engine: "fixed", primaryMetric: "conversion" }));
    const c = firstComparison(a, "conversion");
    if (!c.available) throw new Error(c.reason);
    expect(c.absolute.estimate).toBeCloseTo(0.998003992015968, 12); // 1000/1002
    expect(c.absolute.ci[0]).toBeCloseTo(0.9952374217007536, 9); // df 1998
    expect(c.absolute.ci[1]).toBe(1); // 1.00077 truncated: two rates differ by at most 1
    expect(c.pValue).toBeLessThan(1e-300); // scipy: 0.0 (t = 707.5)
    expect(c.relative).toBeNull();
    expect(c.relativeNote).toBe("the control's value is 0: a relative lift is undefined");
    expect(c.note).toMatch(/^no spread in at least one arm: compared as proportions on Agresti–Caffo's adjusted rates/);
    expect(c.call).toBe("better");
    expect(a.verdict).toMatchObject({ decision: "ship", variant: "treatment" });
    expect(a.verdict.text).toContain("Conversion 0.998 (absolute) (95% CI 0.995 to 1.00;");
    // The other way round it is worse, and the sequential engine calls it too.
    const worse = analyseExperiment(input({ control: conversion(1000, 1000), treatment: conversion(1000, 0) }, { engine: "sequential", primaryMetric: "conversion" }));
    const w = firstComparison(worse, "conversion");
    if (!w.available) throw new Error(w.reason);
    expect(w.call).toBe("worse");
    expect(w.relative!.ci[0]).toBe(-1); // a rate falls by at most 100 %
    expect(worse.verdict).toMatchObject({ decision: "do not ship", variant: "treatment" });
  });

  it("conversion 0/8 vs 8/8, every engine: p 3.4698e-05 (fixed, df 14), P(better) 0.99999999876 (Bayesian)", () => {
    const data = { control: conversion(8, 0), treatment: conversion(8, 8) };
    const fixed = firstComparison(analyseExperiment(input(data, { engine: "fixed", primaryMetric: "conversion" })), "conversion");
    if (!fixed.available) throw new Error(fixed.reason);
    expect(fixed.absolute.estimate).toBeCloseTo(0.8, 12);
    expect(fixed.pValue).toBeCloseTo(3.4697940952407615e-05, 12);
    expect(fixed.absolute.ci[0]).toBeCloseTo(0.5122466701147499, 9);
    expect(fixed.absolute.ci[1]).toBe(1); // 1.0878 truncated
    const bayes = firstComparison(analyseExperiment(input(data, { engine: "bayesian", primaryMetric: "conversion" })), "conversion");
    if (!bayes.available) throw new Error(bayes.reason);
    expect(bayes.chanceToBeat).toBeCloseTo(0.9999999987606046, 12);
    // The sequential engine needs 30 units per arm, adjusted or not.
    expect(firstComparison(analyseExperiment(input(data, { primaryMetric: "conversion" })), "conversion")).toMatchObject({ available: false, reason: "a sequential result needs at least 30 units per arm" });
  });

  it("fallback rate 0 % vs 100 % (200 units × 5 requests each): worse, 0.990 (95% CI 0.97637 to 1), n = units; the guardrail is violated", () => {
    const a = analyseExperiment(input(
      { control: variant(200, { fallback: fallbackShare(200, 5, 0) }), treatment: variant(200, { fallback: fallbackShare(200, 5, 1) }) },
      { engine: "fixed", primaryMetric: "fallback_rate", guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }] },
    ));
    const c = firstComparison(a, "fallback_rate");
    if (!c.available) throw new Error(c.reason);
    expect(c.absolute.estimate).toBeCloseTo(0.9900990099009901, 12); // 200/202: each unit one trial, not five
    expect(c.absolute.ci[0]).toBeCloseTo(0.9763694459318426, 9); // df 398
    expect(c.call).toBe("worse");
    expect(a.verdict).toMatchObject({ decision: "do not ship", variant: "treatment" });
    // The guardrail's Agresti–Caffo z interval: 0.97641 to 1.00379 (scipy), past the 1-point zero-baseline margin.
    const check = a.guardrails[0]!.checks[0]!;
    expect(check.status).toBe("violated");
    expect(check.change!.lower).toBeCloseTo(0.9764111968991613, 9);
  });

  it("identical arms with no spread (0/1,000 vs 0/1,000) bound the difference: 0 (95% CI ±0.0027666), p 1, no call", () => {
    const a = analyseExperiment(input({ control: conversion(1000, 0), treatment: conversion(1000, 0) }, { engine: "fixed", primaryMetric: "conversion" }));
    const c = firstComparison(a, "conversion");
    if (!c.available) throw new Error(c.reason);
    expect(c.absolute.estimate).toBe(0);
    expect(c.absolute.ci[1]).toBeCloseTo(0.002766570315214414, 12);
    expect(c.pValue).toBeCloseTo(1, 12);
    expect(c.call).toBe("none");
    expect(a.verdict.decision).toBe("keep running");
  });

  it("a [0, 1] guardrail on two constant arms of 2 units is no longer 'ok' on a zero-width interval: inconclusive, ±0.60011", () => {
    const a = analyseExperiment(input(
      { control: variant(2, { fallback: fallbackShare(2, 5, 0) }), treatment: variant(2, { fallback: fallbackShare(2, 5, 0) }) },
      { guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.2 }] },
    ));
    const check = a.guardrails[0]!.checks[0]!;
    expect(check.status).toBe("inconclusive");
    expect(check.change!.upper).toBeCloseTo(0.6001139595444137, 9); // scipy: 1.96 · √(2 · (1/4)(3/4)/4)
  });

  it("CTR is not bounded by 1 per unit (a click needs no impression): all-0 vs all-1 CTR stays without an interval", () => {
    const a = analyseExperiment(input({ control: variant(100, { ctr: ctrRows(100, 0, 1) }), treatment: variant(100, { ctr: ctrRows(100, 100, 1) }) }, { engine: "fixed" }));
    const c = firstComparison(a, "ctr");
    expect(c.available).toBe(false);
    if (!c.available) expect(c.reason).toMatch(/^no spread in the control nor in treatment \(every unit the same value\): its noise cannot be estimated/);
  });

  it("a violated guardrail says do not ship even when the primary metric cannot be compared yet", () => {
    // CTR has no impressions yet; the fallback rate went from 0/500 to 60/500 units.
    const data = { control: variant(500, { fallback: summarizeProportion(500, 0) }), treatment: variant(500, { fallback: summarizeProportion(500, 60) }) };
    const guardrails = [{ metric: "fallback_rate", direction: "increase" as const, threshold: 0.2 }];
    const a = analyseExperiment(input(data, { guardrails }));
    expect(firstComparison(a, "ctr").available).toBe(false);
    expect(a.guardrails[0]!.status).toBe("violated");
    expect(a.verdict).toMatchObject({ decision: "do not ship", variant: "treatment" });
    expect(a.verdict.text).toBe("Not enough data yet for CTR: no observations yet in the control. Guardrail violated: Fallback rate (treatment) — do not ship treatment without a look.");
    expect(shipBlockers(a, "treatment")).toEqual(["guardrail violated: Fallback rate for treatment"]);
    // A primary metric the table does not compute (p95 latency is a guardrail's): the same.
    const latency = analyseExperiment(input(data, { guardrails, primaryMetric: "latency_p95" }));
    expect(latency.verdict).toMatchObject({ decision: "do not ship", variant: "treatment" });
    expect(latency.verdict.text).toMatch(/^The primary metric "latency_p95" is not one the table computes\. Guardrail violated: Fallback rate \(treatment\)/);
    // Without the violation it is still "not enough data".
    expect(analyseExperiment(input(data)).verdict.decision).toBe("not enough data");
  });
});

describe("re-break (2026-12): one arm of a [0, 1] metric with no spread, and constant arms of an unbounded metric", () => {
  const conversion = (units: number, converted: number) => variant(units, { conversion: summarizeProportion(units, converted) });
  const analyse = (data: Record<string, VariantData>, engine: Engine, overrides: Partial<AnalysisInput> = {}) =>
    analyseExperiment(input(data, { engine, primaryMetric: "conversion", ...overrides }));
  const compared = (a: ReturnType<typeof analyseExperiment>, metric = "conversion") => {
    const c = firstComparison(a, metric);
    if (!c.available) throw new Error(c.reason);
    return c;
  };

  // Reference values (python3, scipy 1.17), both arms adjusted (Agresti & Caffo 2000):
  // p̃ = (k + 1)/(n + 2), v = p̃(1 − p̃)/(n + 2), d = p̃_T − p̃_C, se = √(v_C + v_T),
  // Welch df = (v_C + v_T)²/(v_C²/(n_C − 1) + v_T²/(n_T − 1)); fixed: p = 2·stats.t.sf(|d|/se, df),
  // CI d ± stats.t.ppf(0.975, df)·se; Bayesian: P(better) = stats.norm.cdf(d/se);
  // Agresti–Caffo's own z test: p = 2·stats.norm.sf(|d|/se); Fisher: stats.fisher_exact.
  // Before: Welch on the raw arms, variance 0 for the constant one (0/300 vs 4/300: p 0.0453,
  // CI 0.00028 to 0.0264, "ship").

  it("conversion 0/300 vs 4/300 is not a win: p 0.10076 (CI −0.0025837 to +0.029074), not 0.045 and 'ship'", () => {
    const a = analyse({ control: conversion(300, 0), treatment: conversion(300, 4) }, "fixed");
    const c = compared(a);
    // d = 5/302 − 1/302 = 0.0132450; se 0.00805249; df 415.43. AC z: p 0.100004, CI −0.0025376 to 0.0290276; Fisher 0.1237.
    expect(c.absolute.estimate).toBeCloseTo(0.013245033112582783, 12);
    expect(c.pValue).toBeCloseTo(0.10075995508778073, 8);
    expect(c.absolute.ci[0]).toBeCloseTo(-0.0025836768056223744, 8);
    expect(c.absolute.ci[1]).toBeCloseTo(0.02907374303078794, 8);
    expect(c.note).toBe(NO_SPREAD_NOTE);
    expect(c.call).toBe("none");
    expect(a.verdict.decision).toBe("keep running");
    // The Bayesian engine reads the same adjusted arms: P(better) = Φ(1.64485) = 0.949998, no call (needs 0.975).
    const b = compared(analyse({ control: conversion(300, 0), treatment: conversion(300, 4) }, "bayesian"));
    expect(b.chanceToBeat).toBeCloseTo(0.9499982338998237, 8);
    expect(b.call).toBe("none");
  });

  it("conversion 0/1,000 vs 5/1,000: p 0.058333 (fixed), P(better) 0.97094 (Bayesian), no call in any engine", () => {
    const data = { control: conversion(1000, 0), treatment: conversion(1000, 5) };
    // d = 6/1002 − 1/1002 = 0.00499002; se 0.00263350; df 1324.54. AC z p 0.058115; Fisher 0.0622.
    const fixed = compared(analyse(data, "fixed"));
    expect(fixed.pValue).toBeCloseTo(0.05833296877020836, 8);
    expect(fixed.absolute.ci[0]).toBeCloseTo(-0.0001762596132798694, 8);
    expect(fixed.absolute.ci[1]).toBeCloseTo(0.01015629953343955, 8);
    expect(fixed.call).toBe("none");
    const bayes = analyse(data, "bayesian");
    expect(compared(bayes).chanceToBeat).toBeCloseTo(0.9709423199363274, 8); // before: 0.987, "better"
    expect(compared(bayes).call).toBe("none");
    expect(bayes.verdict.decision).toBe("keep running");
    // The sequential test is never less conservative than the fixed one (compare.ts).
    const sequential = analyse(data, "sequential");
    expect(compared(sequential).pValue!).toBeGreaterThanOrEqual(0.05833296877020836 - 1e-12);
    expect(compared(sequential).note).toBe(NO_SPREAD_NOTE);
    expect(sequential.verdict.decision).toBe("keep running");
  });

  it("conversion 1,000/1,000 vs 995/1,000 (the control constant at 100 %): p 0.058333, not 'do not ship'", () => {
    const a = analyse({ control: conversion(1000, 1000), treatment: conversion(1000, 995) }, "fixed");
    const c = compared(a);
    // d = 996/1002 − 1001/1002 = −0.00499002, the mirror of 0/1,000 vs 5/1,000.
    expect(c.absolute.estimate).toBeCloseTo(-0.004990019960079861, 12);
    expect(c.pValue).toBeCloseTo(0.05833296877020866, 8);
    expect(c.absolute.ci[1]).toBeCloseTo(0.00017625961327987546, 8);
    expect(c.call).toBe("none");
    expect(a.verdict.decision).toBe("keep running");
  });

  it("a [0, 1] guardrail with one constant arm uses Agresti–Caffo: fallback 0/300 vs 4/300 is inconclusive (CI −0.0025376 to +0.029028), not violated", () => {
    const guardrail = { metric: "fallback_rate", direction: "increase" as const, threshold: 0.2 };
    const check = judgeMetricGuardrail(guardrail, { type: "mean", zeroBaselineMargin: 0.01, unitInterval: true }, summarizeProportion(300, 0), [{ variant: "t", summary: summarizeProportion(300, 4) }])[0]!;
    // AC z interval (scipy): d̃ ± 1.959964·0.00805249 = −0.0025376 to 0.0290276; before: Welch 0.00028 to 0.0264 with
    // the estimate 4/300 past the 1-point margin, "violated".
    expect(check.change!.estimate).toBeCloseTo(4 / 300, 12);
    expect(check.change!.lower).toBeCloseTo(-0.002537561586131557, 8);
    expect(check.change!.upper).toBeCloseTo(0.029027627811297124, 8);
    expect(check.status).toBe("inconclusive");
    // Through the analysis, with the per-unit fallback shares of results.ts.
    const a = analyseExperiment(input(
      { control: variant(300, { fallback: summarizeProportion(300, 0) }), treatment: variant(300, { fallback: summarizeProportion(300, 4) }) },
      { guardrails: [guardrail] },
    ));
    expect(a.guardrails[0]!.status).toBe("inconclusive");
    expect(a.guardrails[0]!.checks[0]!.change!.upper).toBeCloseTo(0.029027627811297124, 8);
  });

  it("an unbounded guardrail (revenue) on two constant arms is 'no data: not enough spread', not an exact difference", () => {
    const revenue = { metric: "revenue_per_session", direction: "decrease" as const, threshold: 0.05 };
    const judge = (c: number[], t: number[]) => judgeMetricGuardrail(revenue, { type: "mean" }, summarizeMean(c), [{ variant: "t", summary: summarizeMean(t) }])[0]!;
    // 5 vs 4 per unit everywhere: before, "violated" on a zero-width interval at −1; 0 vs 0 (nobody bought yet): "ok".
    for (const [c, t] of [[[5, 5, 5], [4, 4, 4]], [[0, 0, 0], [0, 0, 0]]] as const) {
      const check = judge([...c], [...t]);
      expect(check.status).toBe("no data");
      expect(check.change).toBeNull();
      expect(check.detail).toMatch(/^not enough spread: neither the control nor t shows any spread between units/);
    }
    // So is a constant CTR (a ratio, not bounded by 1 per unit), and it holds a ship (nothing that cannot be computed passes).
    const a = analyseExperiment(input(
      { control: variant(100, { ctr: ctrRows(100, 0, 1) }), treatment: variant(100, { ctr: ctrRows(100, 100, 1) }) },
      { guardrails: [{ metric: "ctr", direction: "decrease", threshold: 0.05 }] },
    ));
    expect(a.guardrails[0]!.status).toBe("no data");
    expect(shipBlockers(a, "treatment")[0]).toMatch(/^guardrail not judged, no data: CTR for treatment \(not enough spread/);
  });
});

describe("break test (2026-12-02): one constant arm of an unbounded metric, and the verdict of a lower-is-better metric", () => {
  // Control: 353 users, one impression each, no click and no purchase; treatment: 347 users, 4 of them
  // clicked once and bought for 50. Welch on the treatment's variance alone read p 0.045 ("ship") on CTR
  // and on revenue; Agresti–Caffo on the same counts gives p 0.098 and Fisher's exact test 0.06–0.12.
  const data = {
    control: variant(353, { ctr: ctrRows(353, 0, 1), revenue: summarizeMean(new Array<number>(353).fill(0)) }),
    treatment: variant(347, { ctr: ctrRows(347, 4, 1), revenue: summarizeMean(Array.from({ length: 347 }, (_, i) => (i < 4 ? 50 : 0))) }),
  };

  for (const engine of ["fixed", "sequential", "bayesian"] as const) {
    it(`CTR and revenue are not compared while the control is constant (${engine}): "not enough data", naming the control`, () => {
      for (const primaryMetric of ["ctr", "revenue_per_session"]) {
        const a = analyseExperiment(input(data, { engine, primaryMetric }));
        const c = firstComparison(a, primaryMetric);
        expect(c.available).toBe(false);
        if (!c.available) expect(c.reason).toMatch(/^no spread in the control \(every unit the same value\)/);
        expect(a.verdict.decision).toBe("not enough data");
      }
    });
  }

  it("the conversion on the same counts is still read on adjusted proportions: p 0.098, no call", () => {
    const a = analyseExperiment(input({ control: variant(353, { conversion: summarizeProportion(353, 0) }), treatment: variant(347, { conversion: summarizeProportion(347, 4) }) }, { engine: "fixed", primaryMetric: "conversion" }));
    const c = firstComparison(a, "conversion");
    if (!c.available) throw new Error(c.reason);
    expect(c.pValue!).toBeGreaterThan(0.09);
    expect(c.pValue!).toBeLessThan(0.11);
    expect(c.call).toBe("none");
  });

  it("a CTR or revenue guardrail with one constant arm is 'no data' (not enough spread), naming that arm", () => {
    for (const metric of ["ctr", "revenue_per_session"]) {
      const a = analyseExperiment(input(data, { engine: "fixed", primaryMetric: "conversion", guardrails: [{ metric, direction: "decrease", threshold: 0.05 }] }));
      expect(a.guardrails[0]!.status).toBe("no data");
      expect(a.guardrails[0]!.checks[0]!.detail).toMatch(/^not enough spread: the control shows any spread/);
    }
  });

  it("fallback rate (lower is better): 30 % → 25 % and 30 % → 5 % both better; the verdict ships the larger fall", () => {
    const a = analyseExperiment({
      kind: "ab", engine: "fixed", primaryMetric: "fallback_rate", guardrails: [],
      variants: [{ key: "control", weight: 1 / 3, isControl: true }, { key: "small", weight: 1 / 3, isControl: false }, { key: "big", weight: 1 / 3, isControl: false }],
      data: {
        control: variant(400, { fallback: summarizeProportion(400, 120) }),
        small: variant(400, { fallback: summarizeProportion(400, 100) }),
        big: variant(400, { fallback: summarizeProportion(400, 20) }),
      },
    });
    const calls = a.metrics.find((m) => m.metric === "fallback_rate")!.comparisons.map((c) => [c.variant, c.available && c.call]);
    expect(calls).toEqual([["small", "none"], ["big", "better"]]);
    expect(a.verdict).toMatchObject({ decision: "ship", variant: "big" });
  });
});

describe("break test (2026-12-02): the sample-size plan counts units, not impressions", () => {
  // 300 control users with 10 impressions each, half clicking once and half three times: CTR 0.2,
  // per-user clicks variance 300/299 (sample), so the delta method's per-unit variance of CTR is
  // 1.00334/10² (X is constant). Fixed horizon, MDE 10 % (0.02 absolute), 80 % power, 50/50:
  // n = (1.95996 + 0.84162)² · 2 · 0.0100334 / 0.02² = 393.7 → 394 per arm (python, statistics.NormalDist).
  // As Bernoulli impressions at 0.2 vs 0.22 it planned 6,507 — in impressions, read as users.
  const ctr = summarizeRatio(Array.from({ length: 300 }, (_, i) => ({ numerator: i % 2 ? 3 : 1, denominator: 10 })));
  const control = variant(300, { ctr });

  it("CTR: the control's value and its per-unit delta-method variance", () => {
    const b = planningBaseline("ctr", control);
    expect(b).not.toBeNull();
    expect(b && "mean" in b ? b.mean : NaN).toBeCloseTo(0.2, 12);
    expect(b && "mean" in b ? b.n : NaN).toBe(300);
    expect(b && "mean" in b ? b.variance : NaN).toBeCloseTo(0.01 * 300 / 299, 12);
  });

  it("the analysis plans 394 users per arm (fixed horizon, MDE 10 %)", () => {
    const a = analyseExperiment(input({ control, treatment: variant(300, { ctr }) }, { engine: "fixed", planning: { minDetectableEffect: 0.1, days: null } }));
    expect(a.plan?.unitsPerVariant).toEqual([394, 394]);
  });

  it("plans a revenue, NDCG or fallback-rate primary from its per-unit mean and variance; none for latency", () => {
    const revenue = summarizeMean(Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 20 : 0))); // mean 5, sample variance 75.377
    expect(planningBaseline("revenue_per_session", variant(200, { revenue }))).toEqual({ n: 200, mean: 5, variance: expect.closeTo(75.37688442211055, 9) });
    const a = analyseExperiment(input({ control: variant(200, { revenue }), treatment: variant(200, { revenue }) }, { engine: "fixed", primaryMetric: "revenue_per_session", planning: { minDetectableEffect: 0.2, days: null } }));
    // (2.801585)² · 2 · 75.37688 / (5 · 0.2)² = 1183.2 → 1,184 per arm
    expect(a.plan?.unitsPerVariant).toEqual([1184, 1184]);
    expect(planningBaseline("latency_p95", control)).toBeNull();
    expect(planningBaseline("conversion", variant(300, { conversion: summarizeProportion(300, 30) }))).toEqual({ proportion: 0.1 });
    expect(planningBaseline("conversion", variant(300, { conversion: summarizeProportion(300, 0) }))).toBeNull();
  });
});
