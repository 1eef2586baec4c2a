import { describe, expect, it } from "vitest";
import { bayesianEffect, chanceToBeatControl } from "./bayes";
import { compareMeans } from "./compare";
import { summarizeMean } from "./summary";

describe("Bayesian chance to beat control", () => {
  it("flat prior: posterior N(0.05, 0.02²)", () => {
    // P(δ > 0) = Φ(0.05/0.02) = Φ(2.5) = 0.9937903.
    // Loss of shipping = s·φ(2.5) − μ·Φ(−2.5) = 0.02·0.0175283 − 0.05·0.0062097 = 4.00827e-5.
    // Loss of keeping control = s·φ(2.5) + μ·Φ(2.5) = 0.0003506 + 0.0496895 = 0.0500401
    // (difference 0.05 = E[δ]). 95% credible interval 0.05 ± 1.959964·0.02 = [0.0108007, 0.0891993].
    const r = bayesianEffect(0.05, 0.02);
    expect(r.chanceToBeatControl).toBeCloseTo(0.9937903, 7);
    expect(r.expectedLoss.chooseTreatment).toBeCloseTo(4.00827e-5, 9);
    expect(r.expectedLoss.keepControl).toBeCloseTo(0.0500401, 7);
    expect(r.credibleInterval[0]).toBeCloseTo(0.0108007, 7);
    expect(r.credibleInterval[1]).toBeCloseTo(0.0891993, 7);
  });

  it("weakly-informative prior shrinks toward zero", () => {
    // Prior N(0, 0.02²) has the same precision as the data (1/0.02² = 2500 each):
    // posterior precision 5000 ⇒ sd = 0.0141421, mean = (0.05·2500 + 0)/5000 = 0.025;
    // P(δ > 0) = Φ(0.025/0.0141421) = Φ(1.7677670) = 0.9614501.
    const r = bayesianEffect(0.05, 0.02, { prior: { mean: 0, sd: 0.02 } });
    expect(r.posterior.mean).toBeCloseTo(0.025, 12);
    expect(r.posterior.sd).toBeCloseTo(0.0141421, 7);
    expect(r.chanceToBeatControl).toBeCloseTo(0.9614501, 7);
  });

  it("flips for lower-is-better metrics and reads a comparison's relative lift by default", () => {
    expect(bayesianEffect(0.05, 0.02, { higherIsBetter: false }).chanceToBeatControl).toBeCloseTo(1 - 0.9937903, 7);
    // Control [1, 3] (mean 2), treatment [4, 6] (mean 5): lift 1.5 with se √1.8125 = 1.3462912
    // (see welch.test.ts) ⇒ P = Φ(1.5/1.3462912) = Φ(1.1141720) = 0.8673973.
    const result = compareMeans(summarizeMean([1, 3]), summarizeMean([4, 6]));
    expect(chanceToBeatControl(result).chanceToBeatControl).toBeCloseTo(0.8673973, 6);
    // Absolute: Δ = 3, se = √2 ⇒ Φ(2.1213203) = 0.9830526.
    expect(chanceToBeatControl(result, { scale: "absolute" }).chanceToBeatControl).toBeCloseTo(0.9830526, 6);
    expect(bayesianEffect(1, 0).chanceToBeatControl).toBeNaN();
  });
});
