import { describe, expect, it } from "vitest";
import { createRng, type Rng } from "../random";
import { describeDistribution, psiAgainstTraining, psiLevel, summariseDrift, trainingBins } from "./drift";

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
    expect(spec.edges).toHaveLength(9);
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
    expect(spec.shares![0]).toBeCloseTo(0.6, 2);
    expect(psiAgainstTraining(inflated, spec)).toBeLessThan(1e-6);
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
    expect(few).toMatchObject({ count: 3, mean: 2, psi: null, level: "unknown", note: "too few rows" });
    const enough = summariseDrift(logNormal(createRng(4), 0, 1, 500), spec);
    expect(enough.level).toBe("stable");
    expect(summariseDrift([1, 2], undefined)).toMatchObject({ psi: null, meanShift: null, level: "unknown", note: "no training distribution in the spec" });
  });

  it("describes nothing from no finite values", () => {
    expect(describeDistribution([Number.NaN])).toBeNull();
  });
});
