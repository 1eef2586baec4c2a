import { describeMean, type ArmEstimate, type MeanSummary } from "../stats";

// Two arms of a [0, 1]-valued metric of which at least one shows no spread: control 0/300
// conversions against treatment 4/300, or 0/1,000 against 1,000/1,000, or every unit's fallback
// share 0 % in one arm. A constant arm's sample variance is 0, and it is not an estimate of its
// noise: a 0/1 outcome that never happened in 300 trials still has a rate up to 1.2 % (95 %).
// - Both arms constant: Welch has no variance to scale by and answered "not enough data" however
//   many units came in, though the data do bound the difference.
// - One arm constant: Welch ran on the other arm's variance alone and was anti-conservative —
//   0/300 vs 4/300 came out p 0.045, "ship", where Agresti–Caffo gives 0.100 and Fisher's exact
//   test 0.124 (break test 2026-12).
// The rule here answers both.
//
// Rule: when any arm has no spread, both arms are read as proportions, k = n·p events of n units,
// and compared on Agresti & Caffo's adjusted rates — one event and one non-event added to each arm
// (Agresti & Caffo 2000, "Simple and effective confidence intervals for proportions and differences
// of proportions result from adding two successes and two failures", The American Statistician
// 54(4):280–288; the adjustment is made to both arms, as they prescribe):
//   p̃ = (k + 1)/(n + 2),   Var(p̃) = p̃(1 − p̃)/(n + 2).
// The adjusted arms then go through the engine's own test (Welch or the mixture SPRT on the
// difference, the normal posterior for the Bayesian engine: p̃ is the posterior mean of a uniform
// Beta(1, 1) prior), so the p-value, the interval and the call agree as for any other comparison;
// the guardrails use the same adjusted rates (guardrails.ts). The fixed engine's Welch t quantile
// is Agresti–Caffo's z within 3 % from 30 units per arm, and wider (conservative) below; the
// intervals are truncated to [−1, 1] (analyse.ts), as theirs may pass it.
//
// Why this variance is honest for metrics that are not 0/1 per unit:
// - a value in [0, 1] with mean p has variance at most p(1 − p) (Bhatia & Davis 2000, "A better
//   bound on the variance", Amer. Math. Monthly 107(4):353–357), reached by the 0/1 outcome: the
//   rule assumes the largest spread the metric allows, never less — for the arm with spread too,
//   which can only widen the interval;
// - a per-request share (fallback rate, NDCG, MRR) counted per unit uses n = units, the effective
//   sample size when all of a unit's requests go the same way (intra-unit correlation 1, Kish's
//   design effect at its largest): a unit is one trial, not one per request.
// Identical arms (0 vs 0) get p̃ equal in both and a difference of 0 with an interval around it.
// Metrics not bounded by [0, 1] (revenue, CTR) have no such bound to assume a spread from: a
// constant arm there, one or both, gives no comparison and no guardrail judgement ("not enough
// spread", `armsWithoutSpread`). One constant arm used to leave Welch on the other arm's variance
// alone: control 0 clicks of 353 users against 4 of 347 read p 0.045 and "ship" on CTR and on
// revenue (break test 2026-12-02), where Agresti–Caffo on the same counts gives 0.098 and Fisher's
// exact test 0.06–0.12. Nothing that cannot be computed passes: the comparison waits until the arm varies.

/** Why a comparison was read on adjusted rates, for the page. */
export const NO_SPREAD_NOTE =
  "no spread in at least one arm: compared as proportions on Agresti–Caffo's adjusted rates (one event and one non-event added to each arm), n = units";

/** Sample means may land a rounding error outside [0, 1] (a share of 1 read from SQL's avg). */
const ROUNDING = 1e-12;

/**
 * The arms as Agresti–Caffo adjusted proportions, when the rule applies: both arms have at least 2
 * observations, at least one of them shows no spread (its sample variance is 0), and both means
 * lie in [0, 1]. Both arms are adjusted, the one with spread too (Agresti & Caffo 2000).
 * @param control, treatment per-unit (or linearised per-unit) mean summaries of a metric whose
 *   values lie in [0, 1] by definition (METRIC_CATALOGUE's `unitInterval`); the caller vouches for that.
 * @returns each arm's adjusted rate (mean, in [0, 1]), its variance (se², rate²) and its units (n),
 *   ready for compareArms; null when the rule does not apply.
 */
export function adjustedProportionArms(control: MeanSummary, treatment: MeanSummary): { control: ArmEstimate; treatment: ArmEstimate } | null {
  const arms = [control, treatment].map((s) => describeMean(s));
  if (!arms.every((a) => a.n >= 2 && a.mean >= -ROUNDING && a.mean <= 1 + ROUNDING)) return null;
  if (!arms.some((a) => a.variance === 0)) return null;
  const [c, t] = arms.map(({ n, mean }) => {
    const p = Math.min(1, Math.max(0, mean));
    const adjusted = (n * p + 1) / (n + 2);
    return { mean: adjusted, variance: (adjusted * (1 - adjusted)) / (n + 2), n };
  });
  return { control: c!, treatment: t! };
}

/** Why an unbounded metric's comparison is not made when an arm shows no spread, for the page. */
export const UNBOUNDED_NO_SPREAD_RULE =
  "its noise cannot be estimated from a constant arm, and the metric has no bound to assume one from (adjusted proportions apply to metrics in [0, 1]); no comparison until its values vary";

/**
 * The arms (of the two given) that show no spread between units: at least 2 observations and a
 * variance of the estimate of 0 (up to rounding relative to the mean's square).
 * @param arms name and estimate (mean, variance of the estimate, n) of each arm, as compareArms takes them.
 * @returns the names of the constant arms, in the order given (empty: every arm varies, or has < 2 units).
 */
export function armsWithoutSpread(arms: ReadonlyArray<{ name: string; estimate: { mean: number; variance: number; n: number } }>): string[] {
  return arms.filter(({ estimate: a }) => a.n >= 2 && a.variance === 0).map((a) => a.name);
}
