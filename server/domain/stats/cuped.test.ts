import { describe, expect, it } from "vitest";
import { compareMeans } from "./compare";
import { compareWithCuped } from "./cuped";
import { summarizeMean, summarizeWithCovariate } from "./summary";
import { createRng } from "../random";

const fixed = { analysis: "fixedHorizon" } as const;
const units = (rows: [pre: number, value: number][]) => summarizeWithCovariate(rows.map(([preExperiment, value]) => ({ preExperiment, value })));

describe("CUPED", () => {
  it("worked example: pooled θ, adjusted means and the variance removed", () => {
    // Control (pre X, metric Y): (1, 2), (2, 3), (3, 5), (4, 6): x̄ = 2.5, ȳ = 4;
    //   centred x = −1.5, −0.5, 0.5, 1.5 and y = −2, −1, 1, 2:
    //   S_xx = 2.25 + 0.25 + 0.25 + 2.25 = 5, S_xy = 3 + 0.5 + 0.5 + 3 = 7, S_yy = 4 + 1 + 1 + 4 = 10.
    // Treatment: (2, 3), (3, 5), (4, 5), (5, 7): x̄ = 3.5, ȳ = 5;
    //   centred y = −2, 0, 0, 2: S_xx = 5, S_xy = 3 + 0 + 0 + 3 = 6, S_yy = 8.
    // θ = (7 + 6)/(5 + 5) = 1.3; pooled x̄ = (10 + 14)/8 = 3.
    // Adjusted means: control 4 − 1.3·(2.5 − 3) = 4.65, treatment 5 − 1.3·(3.5 − 3) = 4.35, so
    // Δ = −0.3 — the raw +1 was mostly the treatment arm's higher pre-period values.
    // Var(Y − θX) per unit = (S_yy − 2θS_xy + θ²S_xx)/(n − 1):
    //   control (10 − 18.2 + 8.45)/3 = 0.25/3, over n = 4 → 0.0208333;
    //   treatment (8 − 15.6 + 8.45)/3 = 0.85/3, over 4 → 0.0708333.
    // Var(Δ) = 0.0916667 (se 0.3027650) vs unadjusted (10/3)/4 + (8/3)/4 = 1.5:
    // variance reduction 1 − 0.0916667/1.5 = 0.9388889.
    // Welch df = 0.0916667²/(0.0208333²/3 + 0.0708333²/3) = 4.6242038; t_{0.975}(4.62) = 2.6347045
    // (between the table's 2.776 at 4 df and 2.571 at 5), CI = −0.3 ± 2.6347045·0.3027650.
    // Relative: 4.35/4.65 − 1 = −0.0645161.
    const control = units([[1, 2], [2, 3], [3, 5], [4, 6]]);
    const treatment = units([[2, 3], [3, 5], [4, 5], [5, 7]]);
    const r = compareWithCuped(control, treatment, fixed);
    expect(r.cuped.theta).toBeCloseTo(1.3, 12);
    expect(r.control.mean).toBeCloseTo(4.65, 12);
    expect(r.treatment.mean).toBeCloseTo(4.35, 12);
    expect(r.absolute.estimate).toBeCloseTo(-0.3, 12);
    expect(r.absolute.se).toBeCloseTo(0.302765, 6);
    expect(r.cuped.varianceReduction).toBeCloseTo(0.9388889, 6);
    expect(r.df).toBeCloseTo(4.6242038, 6);
    expect(r.absolute.ci[0]).toBeCloseTo(-1.0976964, 5);
    expect(r.absolute.ci[1]).toBeCloseTo(0.4976964, 5);
    expect(r.pValue).toBeCloseTo(0.3707258, 6);
    expect(r.relative.estimate).toBeCloseTo(-0.0645161, 6);
  });

  it("falls back to the plain comparison when the covariate has no spread", () => {
    const control = units([[1, 2], [1, 3], [1, 7]]);
    const treatment = units([[1, 4], [1, 6], [1, 9]]);
    const r = compareWithCuped(control, treatment, fixed);
    const plain = compareMeans(summarizeMean([2, 3, 7]), summarizeMean([4, 6, 9]), fixed);
    expect(r.cuped.theta).toBe(0);
    expect(r.cuped.varianceReduction).toBeCloseTo(0, 12);
    expect(r.pValue).toBeCloseTo(plain.pValue, 12);
  });

  it("removes about ρ² of the variance and stays unbiased on simulated data", () => {
    // Y = X + noise with X ~ N(10, 2²), noise ~ N(0, 1): ρ² = 4/(4 + 1) = 0.8, θ = 1; treatment adds 0.1.
    const rng = createRng(2024);
    const arm = (lift: number) => {
      const rows: { preExperiment: number; value: number }[] = [];
      for (let i = 0; i < 20_000; i++) {
        const pre = 10 + 2 * rng.normal();
        rows.push({ preExperiment: pre, value: pre + rng.normal() + lift });
      }
      return summarizeWithCovariate(rows);
    };
    const r = compareWithCuped(arm(0), arm(0.1), fixed);
    expect(r.cuped.theta).toBeCloseTo(1, 1);
    expect(r.cuped.varianceReduction).toBeGreaterThan(0.78);
    expect(r.cuped.varianceReduction).toBeLessThan(0.82);
    // se of the adjusted Δ ≈ √(2·1/20,000) = 0.01, so the estimate lands within 4 se of 0.1.
    expect(Math.abs(r.absolute.estimate - 0.1)).toBeLessThan(0.04);
  });
});
