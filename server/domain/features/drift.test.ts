import { describe, expect, it } from "vitest";
import { createRng, type Rng } from "../random";
import { describeDistribution, DRIFT_P_VALUE, driftLevel, driftTest, MIN_DRIFT_SAMPLE, psiAgainstTraining, psiLevel, summariseDrift, trainingBins } from "./drift";

// Issue 14 point 6: PSI against the training distribution's own bins, not against deciles of a
// normal made from its mean and sd (which gave a 30 % flag PSI 6.9 against its own data).

const bernoulli = (rng: Rng, p: number, n: number) => Array.from({ length: n }, () => (rng.next() < p ? 1 : 0));
/** Knuth's Poisson sampler (fine for small means). */
const poisson = (rng: Rng, mean: number, n: number) =>
  Array.from({ length: n }, () => {
    const limit = Math.exp(-mean);
    let k = 0;
    let product = rng.next();
    while (product > limit) {
      k++;
      product *= rng.next();
    }
    return k;
  });
const logNormal = (rng: Rng, mu: number, sigma: number, n: number) => Array.from({ length: n }, () => Math.exp(mu + sigma * rng.normal()));

describe("PSI on the spec's own bins", () => {
  const rng = createRng(14);
  const flag = bernoulli(rng, 0.3, 5000);
  const counts = poisson(rng, 0.5, 5000);
  const price = logNormal(rng, 3, 1, 5000);

  it("a binary feature with 30 % ones against a spec built from the same data: PSI ≈ 0 (was 6.9)", () => {
    const spec = describeDistribution(flag)!;
    expect(spec).toMatchObject({ kind: "categories", values: [0, 1] });
    expect(spec.shares![1]).toBeCloseTo(flag.filter((v) => v === 1).length / flag.length, 12);
    expect(psiAgainstTraining(flag, spec)).toBeCloseTo(0, 12);
    expect(psiLevel(psiAgainstTraining(bernoulli(rng, 0.3, 2000), spec))).toBe("stable");
  });

  it("a Poisson(0.5) count: ≈ 0 (was 5.9)", () => {
    const spec = describeDistribution(counts)!;
    expect(spec.kind).toBe("categories");
    expect(psiAgainstTraining(counts, spec)).toBeCloseTo(0, 12);
    expect(psiLevel(psiAgainstTraining(poisson(rng, 0.5, 2000), spec))).toBe("stable");
  });

  it("a log-normal price: ≈ 0 (was 1.9)", () => {
    const spec = describeDistribution(price)!;
    expect(spec).toMatchObject({ kind: "quantiles" });
    // The nine deciles, and the training range's two ends (bins below and above it, of share 0).
    expect(spec.edges).toHaveLength(11);
    expect(spec.shares![0]).toBe(0);
    expect(spec.shares!.at(-1)).toBe(0);
    expect(psiAgainstTraining(price, spec)).toBeLessThan(1e-6);
    expect(psiLevel(psiAgainstTraining(logNormal(rng, 3, 1, 2000), spec))).toBe("stable");
  });

  it("a real shift still alerts: 60 % ones, Poisson(1.5), prices × 2, a category never seen in training", () => {
    expect(psiLevel(psiAgainstTraining(bernoulli(rng, 0.6, 2000), describeDistribution(flag)!))).toBe("alert");
    expect(psiLevel(psiAgainstTraining(poisson(rng, 1.5, 2000), describeDistribution(counts)!))).toBe("alert");
    expect(psiLevel(psiAgainstTraining(price.map((p) => p * 2), describeDistribution(price)!))).toBe("alert");
    expect(psiLevel(psiAgainstTraining([...flag.slice(0, 1500), ...new Array<number>(500).fill(2)], describeDistribution(flag)!))).toBe("alert");
  });

  it("a zero-inflated continuous feature gets collapsed edges whose shares say so", () => {
    const inflated = price.map((p, i) => (i % 10 < 6 ? 0 : p));
    const spec = describeDistribution(inflated)!;
    expect(spec.kind).toBe("quantiles");
    expect(spec.shares![1]).toBeCloseTo(0.6, 2);
    expect(psiAgainstTraining(inflated, spec)).toBeLessThan(1e-6);
  });

  it("issue #14 break test: 97 % zeros and 3 % spread over 0–100 keeps bins above 0, so all 50, all 1000 or all −5 alert", () => {
    const r = createRng(7);
    const zeroInflated = Array.from({ length: 5000 }, () => (r.next() < 0.97 ? 0 : r.next() * 100));
    const spec = describeDistribution(zeroInflated)!;
    expect(spec.kind).toBe("quantiles");
    expect(spec.shares![1]).toBeCloseTo(0.97, 1); // the atom at 0 in a bin of its own
    expect(spec.shares!.filter((x) => x > 0).length).toBeGreaterThanOrEqual(3);
    for (const live of [50, 1000, -5]) expect(driftLevel(driftTest(new Array<number>(500).fill(live), spec)), String(live)).toBe("alert");
    // Unchanged traffic stays stable.
    const same = Array.from({ length: 1000 }, () => (r.next() < 0.97 ? 0 : r.next() * 100));
    expect(driftLevel(driftTest(same, spec))).toBe("stable");
    // 85 % zeros: more than two bins.
    const eightyFive = Array.from({ length: 5000 }, () => (r.next() < 0.85 ? 0 : r.next() * 100));
    expect(describeDistribution(eightyFive)!.shares!.filter((x) => x > 0).length).toBeGreaterThanOrEqual(3);
  });
});

describe("specs written with mean and sd only", () => {
  it("a 0/1 feature whose sd is a Bernoulli's reads as its two category shares", () => {
    const legacy = { mean: 0.3, std: Math.sqrt(0.21), min: 0, max: 1 };
    expect(trainingBins(legacy)).toEqual({ kind: "categories", values: [0, 1], shares: [0.7, 0.3] });
    expect(psiAgainstTraining(bernoulli(createRng(1), 0.3, 3000), legacy)).toBeLessThan(0.01);
  });

  it("anything else gives no PSI and says why, keeping the mean shift", () => {
    const s = summariseDrift(poisson(createRng(2), 0.5, 500), { mean: 0.5, std: Math.sqrt(0.5), min: 0, max: 5 });
    expect(s).toMatchObject({ psi: null, level: "unknown", note: "the spec has mean and sd only, no training bins" });
    expect(s.meanShift).toBeLessThan(0.2);
  });
});

describe("psiLevel and summariseDrift", () => {
  it("warns at 0.1 and alerts at 0.25", () => {
    expect([psiLevel(0.05), psiLevel(0.1), psiLevel(0.24), psiLevel(0.25), psiLevel(null)]).toEqual(["stable", "warn", "warn", "alert", "unknown"]);
  });

  it("summarises serving values against the training distribution, ignoring non-finite values", () => {
    const spec = describeDistribution(logNormal(createRng(3), 0, 1, 1000))!;
    const few = summariseDrift([1, 2, 3, Number.NaN], spec);
    expect(few).toMatchObject({ count: 3, mean: 2, psi: null, level: "unknown", note: "too few rows (3 of 100)" });
    const enough = summariseDrift(logNormal(createRng(4), 0, 1, 500), spec);
    expect(enough.level).toBe("stable");
    expect(summariseDrift([1, 2], undefined)).toMatchObject({ psi: null, meanShift: null, level: "unknown", note: "no training distribution in the spec" });
  });

  it("describes nothing from no finite values", () => {
    expect(describeDistribution([Number.NaN])).toBeNull();
  });
});

describe("drift of a sample: significant and large enough (PSI's sampling noise is not drift)", () => {
  // Training data of the demo's kinds of features, and specs built from it.
  const rng = createRng(1115);
  const flag = bernoulli(rng, 0.3, 20_000);
  const price = logNormal(rng, 3, 1, 20_000);
  const flagSpec = describeDistribution(flag)!;
  const priceSpec = describeDistribution(price)!;

  /** Levels of `trials` samples of n rows drawn from the training distribution itself. */
  const nullLevels = (draw: (rng: Rng, n: number) => number[], spec: NonNullable<ReturnType<typeof describeDistribution>>, n: number, seed: number, trials = 200) => {
    const trialRng = createRng(seed);
    return Array.from({ length: trials }, () => summariseDrift(draw(trialRng, n), spec));
  };

  it("PSI alone is noisy on 100 rows in 10 bins: its null mean is ≈ (k − 1)/n = 0.09, and it reads warn or alert often", () => {
    const summaries = nullLevels((r, n) => logNormal(r, 3, 1, n), priceSpec, 100, 7);
    const meanPsi = summaries.reduce((s, d) => s + d.psi!, 0) / summaries.length;
    expect(meanPsi).toBeGreaterThan(0.07);
    expect(meanPsi).toBeLessThan(0.12);
    expect(summaries[0]!.nullPsi).toBeCloseTo(0.09, 12);
    // What the page showed before: PSI thresholds alone.
    expect(summaries.filter((d) => psiLevel(d.psi) !== "stable").length).toBeGreaterThan(40);
  });

  it.each([
    ["a 10-bin continuous feature", 100],
    ["a 10-bin continuous feature", 1000],
    ["a 30 % flag", 100],
    ["a 30 % flag", 1000],
  ])("unchanged traffic, %s, %i rows: stable in ≥ 95 % of 200 seeded trials", (kind, n) => {
    const summaries = kind.includes("flag") ? nullLevels((r, k) => bernoulli(r, 0.3, k), flagSpec, n, n + 1) : nullLevels((r, k) => logNormal(r, 3, 1, k), priceSpec, n, n + 2);
    const stable = summaries.filter((d) => d.level === "stable").length;
    expect(stable / 200).toBeGreaterThanOrEqual(0.95);
    // The test's false-alarm rate is its α: p-values of unchanged traffic are about uniform.
    expect(summaries.filter((d) => d.pValue! < DRIFT_P_VALUE).length).toBeLessThanOrEqual(4);
  });

  it("a real shift alerts: a binary feature from 30 % to 50 % ones at n = 1,000", () => {
    const shifted = summariseDrift(bernoulli(createRng(31), 0.5, 1000), flagSpec);
    expect(shifted.pValue).toBeLessThan(1e-20);
    expect(shifted.psi).toBeGreaterThan(0.15);
    // PSI of 30 % → 50 %: 0.2·ln(5/3) + 0.2·ln(7/5) = 0.169 — a warning by its size; in 200 trials every one is flagged.
    expect(shifted.level).not.toBe("stable");
    const trialRng = createRng(32);
    const levels = Array.from({ length: 200 }, () => summariseDrift(bernoulli(trialRng, 0.5, 1000), flagSpec).level);
    expect(levels.every((l) => l === "warn" || l === "alert")).toBe(true);
  });

  it("larger shifts alert: 30 % → 60 % ones, prices × 2, at n = 1,000 and at n = 100", () => {
    for (const n of [100, 1000]) {
      expect(summariseDrift(bernoulli(createRng(n), 0.6, n), flagSpec).level).toBe("alert");
      expect(summariseDrift(logNormal(createRng(n + 1), 3, 1, n).map((p) => p * 2), priceSpec).level).toBe("alert");
    }
  });

  it("a large PSI that is not significant, and a significant PSI that is small, are both stable", () => {
    expect(driftLevel({ psi: 0.3, pValue: 0.2 })).toBe("stable");
    expect(driftLevel({ psi: 0.05, pValue: 1e-9 })).toBe("stable");
    expect(driftLevel({ psi: 0.15, pValue: 1e-4 })).toBe("warn");
    expect(driftLevel({ psi: 0.3, pValue: 1e-4 })).toBe("alert");
    expect(driftLevel(null)).toBe("unknown");
  });

  it("tests the counts by Pearson's χ² on k − 1 degrees of freedom", () => {
    // 30 % expected, 50 % seen in 100 rows: χ² = 20²/30 + 20²/70 = 19.05 on 1 df.
    const test = driftTest([...new Array<number>(50).fill(1), ...new Array<number>(50).fill(0)], { mean: 0.3, std: Math.sqrt(0.21), min: 0, max: 1 })!;
    expect(test.chiSquare).toBeCloseTo(400 / 30 + 400 / 70, 9);
    expect(test.df).toBe(1);
    expect(test.pValue).toBeCloseTo(1.27e-5, 6);
    expect(test.nullPsi).toBeCloseTo(0.01, 12);
    // A category training never saw adds its bin to the test.
    expect(driftTest([0, 1, 2], { kind: "categories", values: [0, 1], shares: [0.5, 0.5], mean: 0.5, std: 0.5, min: 0, max: 1 })!.df).toBe(2);
  });

  it("needs MIN_DRIFT_SAMPLE rows for a level", () => {
    expect(MIN_DRIFT_SAMPLE).toBe(100);
    expect(summariseDrift(bernoulli(createRng(5), 0.9, 99), flagSpec)).toMatchObject({ level: "unknown", psi: null, pValue: null });
  });
});

describe("binning in float32, the precision the model reads (break test: an unchanged discrete feature read PSI 17.3, alert)", () => {
  // The input sampler keeps the float32 rows the model scored; spec values are doubles (0.1 !== Math.fround(0.1)).
  const uniformOf = (rng: Rng, values: readonly number[], n: number) => Array.from({ length: n }, () => values[Math.floor(rng.next() * values.length)]!);

  it("a served category equal to a spec value in float32 lands in its bin: the break test's spec and 1,200 float32 rows", () => {
    const spec = { kind: "categories" as const, values: [0.1, 0.2, 0.3], shares: [0.3334, 0.3333, 0.3333], mean: 0.2, std: 0.0816, min: 0.1, max: 0.3 };
    const served = Float32Array.from(uniformOf(createRng(21), [0.1, 0.2, 0.3], 1200));
    const drift = summariseDrift(Array.from(served), spec);
    // Was psi 17.32, p 0, "alert": every value fell in "other".
    expect(drift.psi!).toBeLessThan(0.01);
    expect(drift.level).toBe("stable");
    expect(psiAgainstTraining(Array.from(served), spec)!).toBeLessThan(0.01);
  });

  it("a spec described from double training values, served as float32: ≈ 0 as for the doubles (was 17.3)", () => {
    const training = uniformOf(createRng(22), [0.1, 0.2, 0.3], 5000);
    const spec = describeDistribution(training)!;
    expect(spec).toMatchObject({ kind: "categories", values: [0.1, 0.2, 0.3] });
    const doubles = summariseDrift(training, spec);
    const floats = summariseDrift(Array.from(Float32Array.from(training)), spec);
    expect(doubles.psi!).toBeLessThan(1e-6);
    expect(floats.psi!).toBeCloseTo(doubles.psi!, 12);
    expect(floats.level).toBe("stable");
  });

  it("quantile edges with tied values: an atom at 0.7 (float32 0.69999999) stays in its own bin, not the one below", () => {
    const rng = createRng(23);
    // 40 % of rows at 0.7, the rest spread over [0, 1): more than 20 distinct values, so quantiles.
    const draw = (r: Rng, n: number) => Array.from({ length: n }, () => (r.next() < 0.4 ? 0.7 : Math.round(r.next() * 1000) / 1000));
    const training = draw(rng, 5000);
    const spec = describeDistribution(training)!;
    expect(spec.kind).toBe("quantiles");
    expect(spec.edges).toContain(0.7);
    const sample = draw(createRng(24), 1000);
    const drift = summariseDrift(Array.from(Float32Array.from(sample)), spec);
    // What the same sample reads as doubles (sampling noise only, ≈ 0.027 with bins of 0.04 % share).
    expect(drift.psi!).toBeCloseTo(summariseDrift(sample, spec).psi!, 12);
    expect(drift.psi!).toBeLessThan(0.05);
    expect(drift.level).toBe("stable");
    // The training values themselves, as float32, against their own spec: ≈ 0.
    expect(psiAgainstTraining(Array.from(Float32Array.from(training)), spec)!).toBeLessThan(1e-6);
  });

  it("spec values or edges that are one float32 are one bin: their shares are added", () => {
    const tiny = 1e-12;
    const categories = { kind: "categories" as const, values: [0.1, 0.1 + tiny, 0.2], shares: [0.25, 0.25, 0.5], mean: 0.15, std: 0.05, min: 0.1, max: 0.2 };
    const served = Array.from(Float32Array.from(uniformOf(createRng(25), [0.1, 0.2], 1000)));
    expect(driftTest(served, categories)!.psi).toBeLessThan(0.01);
    const quantiles = { kind: "quantiles" as const, edges: [0, 0.5, 0.5 + tiny, 1.000002], shares: [0, 0.25, 0.25, 0.5, 0], mean: 0.5, std: 0.29, min: 0, max: 1 };
    const spread = Array.from(Float32Array.from({ length: 1000 }, (_, i) => (i < 250 ? 0.25 : i < 500 ? 0.5 : 0.75)));
    const test = driftTest(spread, quantiles)!;
    expect(test.psi).toBeLessThan(0.01);
    expect(test.df).toBe(1); // two bins: [0, 0.5) and [0.5, 1.000002)
  });

  it("no bin within the training range is empty: a decile interpolated across a gap (0 … 5) is merged into the bin above (was two bins of share 0)", () => {
    const values = [...new Array<number>(40).fill(0), ...Array.from({ length: 19 }, (_, i) => 5 + i / 1000), 9.9, ...new Array<number>(40).fill(10)];
    const spec = describeDistribution(values)!;
    expect(spec.kind).toBe("quantiles");
    // Only the bins below min and above max are empty.
    expect(spec.shares!.map((s, b) => s === 0 && b !== 0 && b !== spec.shares!.length - 1)).not.toContain(true);
    expect(spec.shares![0]).toBe(0);
    expect(spec.shares!.at(-1)).toBe(0);
    expect(psiAgainstTraining(values, spec)).toBeCloseTo(0, 12);
  });
});
