import { describe, expect, it } from "vitest";
import { compareMeans, compareRatios } from "./compare";
import { compareWithCuped } from "./cuped";
import { planSampleSize } from "./power";
import { srmCheck } from "./srm";
import {
  describeMean,
  emptyMeanSummary,
  mergeMeanSummaries,
  summarizeMean,
  summarizeProportion,
  summarizeRatio,
  summarizeWithCovariate,
  type MeanSummary,
} from "./summary";
import { createRng, type Rng } from "../random";
import { binomial } from "./binomialDraw";

// Seeded Monte-Carlo checks that the tests do what they promise on data shaped like ours. Each
// rate is a binomial proportion over R runs, so its standard error is √(p(1 − p)/R): 0.69 points
// for p = 5% and R = 1,000, 1.26 points for p = 80%. The bands below are about ±2.2 and ±4 of those.
// Set STATS_SIM_REPORT=1 to print the measured rates.
const report = (label: string, value: number) => {
  if (process.env.STATS_SIM_REPORT) console.info(`${label}: ${(100 * value).toFixed(1)}%`);
};
const SIMULATION_TIMEOUT = 60_000;

/** Per-unit 0/1 outcomes (clicked or not), summarised as rows would be. */
function clickBatch(rng: Rng, units: number, ctr: number): MeanSummary {
  const rows = new Float64Array(units);
  for (let i = 0; i < units; i++) rows[i] = rng.next() < ctr ? 1 : 0;
  return summarizeMean(rows);
}

describe("simulations", () => {
  it("the binomial sampler has the binomial mean and variance", () => {
    // Binomial(10,000, 0.3): mean 3,000, variance 2,100; over 5,000 draws the sample mean has se
    // √(2100/5000) = 0.65 and the sample variance has se ≈ 2100·√(2/5000) = 42.
    const rng = createRng(5);
    const draws = Array.from({ length: 5000 }, () => binomial(rng, 10_000, 0.3));
    const { mean, variance } = describeMean(summarizeMean(draws));
    expect(Math.abs(mean - 3000)).toBeLessThan(2.6);
    expect(Math.abs(variance - 2100)).toBeLessThan(170);
    expect(binomial(rng, 5, 0.5)).toBeLessThanOrEqual(5);
  });

  it(
    "A/A on CTR: fixed horizon rejects at 5%; peeking 20 times inflates it; the sequential test stays below 5%",
    () => {
      // 1,000 A/A experiments, CTR 10% in both arms, 20 looks of 100 new users per arm (2,000 at
      // the end). Peeking at a fixed-horizon test 20 times and stopping at the first p < 0.05 is
      // known to push the false-positive rate far above 5% (Armitage, McPherson & Rowe 1969 give ≈
      // 25% for 20 looks); the mixture SPRT bounds it by α at every stopping time (Ville).
      const rng = createRng(20240501);
      const experiments = 1000;
      const looks = 20;
      const batch = 100;
      let fixedAtEnd = 0;
      let naivePeeking = 0;
      let sequential = 0;
      for (let e = 0; e < experiments; e++) {
        let control = emptyMeanSummary;
        let treatment = emptyMeanSummary;
        let peekedFixed = false;
        let peekedSequential = false;
        let last = false;
        for (let look = 1; look <= looks; look++) {
          control = mergeMeanSummaries(control, clickBatch(rng, batch, 0.1));
          treatment = mergeMeanSummaries(treatment, clickBatch(rng, batch, 0.1));
          const fixed = compareMeans(control, treatment, { analysis: "fixedHorizon" });
          const seq = compareMeans(control, treatment, { targetUnitsPerVariant: looks * batch });
          peekedFixed ||= fixed.significant;
          peekedSequential ||= seq.significant;
          last = fixed.significant;
        }
        if (last) fixedAtEnd++;
        if (peekedFixed) naivePeeking++;
        if (peekedSequential) sequential++;
      }
      const rates = { fixed: fixedAtEnd / experiments, naive: naivePeeking / experiments, sequential: sequential / experiments };
      report("A/A fixed horizon (one look at 2,000/arm)", rates.fixed);
      report("A/A naive peeking (fixed test, 20 looks)", rates.naive);
      report("A/A sequential (20 looks)", rates.sequential);
      expect(rates.fixed).toBeGreaterThanOrEqual(0.035);
      expect(rates.fixed).toBeLessThanOrEqual(0.065);
      expect(rates.naive).toBeGreaterThan(0.1);
      expect(rates.sequential).toBeLessThanOrEqual(0.05);
    },
    SIMULATION_TIMEOUT,
  );

  it(
    "a true +5% CTR lift is detected with the power the calculator promised, at the size it gave",
    () => {
      // Baseline CTR 30%, +5% relative ⇒ 31.5%; the plan is ≈ 14,853 users per arm for 80% power.
      const plan = planSampleSize({ baseline: { proportion: 0.3 }, minimumDetectableEffect: 0.05, analysis: "fixedHorizon" });
      const [nControl, nTreatment] = plan.unitsPerVariant as [number, number];
      const rng = createRng(77);
      const clicks = (units: number, ctr: number) => summarizeProportion(units, binomial(rng, units, ctr));
      const experiments = 1000;
      let detected = 0;
      for (let e = 0; e < experiments; e++) {
        const r = compareMeans(clicks(nControl, 0.3), clicks(nTreatment, 0.315), { analysis: "fixedHorizon" });
        if (r.significant && r.absolute.estimate > 0) detected++;
      }
      const achieved = detected / experiments;
      report(`power at ${nControl}/arm (promised ${(100 * plan.power).toFixed(1)}%)`, achieved);
      expect(Math.abs(achieved - plan.power)).toBeLessThanOrEqual(0.05);
    },
    SIMULATION_TIMEOUT,
  );

  it(
    "SRM fires on a 52/48 split at large n and only at its 0.1% rate on a true 50/50 split",
    () => {
      const rng = createRng(4242);
      // Each unit lands in the first variant with probability `share`.
      const assign = (units: number, share: number): [number, number] => {
        const first = binomial(rng, units, share);
        return [first, units - first];
      };
      // 52/48 with 50,000 units: noncentrality λ = N·Σ(πᵢ − wᵢ)²/wᵢ = 50,000·2·0.02²/0.5 = 80,
      // far beyond the 10.83 needed for p < 0.001 on 1 df.
      let fired = 0;
      for (let e = 0; e < 200; e++) if (srmCheck(assign(50_000, 0.52), [1, 1]).mismatch) fired++;
      // 50/50 with 10,000 units: P(p < 0.001) = 0.1% ⇒ ≈ 1 in 1,000 (P(> 5) ≈ 0.06% under Poisson(1)),
      // and the p-values are uniform, so p < 0.05 about 5% of the time.
      let falseAlarms = 0;
      let belowFivePercent = 0;
      for (let e = 0; e < 1000; e++) {
        const r = srmCheck(assign(10_000, 0.5), [50, 50]);
        if (r.mismatch) falseAlarms++;
        if (r.pValue < 0.05) belowFivePercent++;
      }
      report("SRM fired on 52/48", fired / 200);
      report("SRM false alarms on 50/50", falseAlarms / 1000);
      expect(fired).toBe(200);
      expect(falseAlarms).toBeLessThanOrEqual(5);
      expect(belowFivePercent / 1000).toBeGreaterThanOrEqual(0.035);
      expect(belowFivePercent / 1000).toBeLessThanOrEqual(0.065);
    },
    SIMULATION_TIMEOUT,
  );

  it(
    "A/A on a ratio metric (clicks/impressions, users vary in CTR and activity) rejects at 5%",
    () => {
      // Users see 1–10 impressions and click each with their own CTR in [0.02, 0.3): impressions
      // of one user are correlated, which the delta method (user = unit) accounts for.
      const rng = createRng(99);
      const users = (count: number) => {
        const rows: { numerator: number; denominator: number }[] = [];
        for (let u = 0; u < count; u++) {
          const impressions = rng.int(1, 10);
          const ctr = 0.02 + 0.28 * rng.next();
          let clicks = 0;
          for (let i = 0; i < impressions; i++) if (rng.next() < ctr) clicks++;
          rows.push({ numerator: clicks, denominator: impressions });
        }
        return summarizeRatio(rows);
      };
      let rejected = 0;
      for (let e = 0; e < 1000; e++) if (compareRatios(users(300), users(300), { analysis: "fixedHorizon" }).significant) rejected++;
      report("A/A ratio metric (delta method)", rejected / 1000);
      expect(rejected / 1000).toBeGreaterThanOrEqual(0.035);
      expect(rejected / 1000).toBeLessThanOrEqual(0.065);
    },
    SIMULATION_TIMEOUT,
  );

  it(
    "A/A with CUPED rejects at 5% while removing ≈ ρ² of the variance",
    () => {
      // Revenue-like metric Y = X + noise with pre-period X ~ N(20, 3²), noise ~ N(0, 2²): ρ² = 9/13 = 0.69.
      const rng = createRng(7);
      const arm = () => {
        const rows: { value: number; preExperiment: number }[] = [];
        for (let i = 0; i < 300; i++) {
          const pre = 20 + 3 * rng.normal();
          rows.push({ preExperiment: pre, value: pre + 2 * rng.normal() });
        }
        return summarizeWithCovariate(rows);
      };
      let rejected = 0;
      let reduction = 0;
      for (let e = 0; e < 1000; e++) {
        const r = compareWithCuped(arm(), arm(), { analysis: "fixedHorizon" });
        if (r.significant) rejected++;
        reduction += r.cuped.varianceReduction / 1000;
      }
      report("A/A CUPED", rejected / 1000);
      expect(rejected / 1000).toBeGreaterThanOrEqual(0.035);
      expect(rejected / 1000).toBeLessThanOrEqual(0.065);
      expect(reduction).toBeCloseTo(9 / 13, 1);
    },
    SIMULATION_TIMEOUT,
  );
});
