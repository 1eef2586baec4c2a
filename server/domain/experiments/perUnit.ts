import { clickNdcg, clickReciprocalRank } from "../ranking/clickMetrics";
import { emptyMeanSummary, meanSummaryFromMoments, ratioOfMeans, summarizeRatio, type MeanSummary, type RatioSummary } from "../stats";
import { NDCG_K } from "./metrics";

// Per-request metrics (NDCG, MRR, fallback rate) analysed by the unit of randomisation. A user's
// requests are not independent observations: treating each as one understates the variance (an A/A
// test with 200 users × 20 clicked requests per arm, user sd 0.2, within-user sd 0.1, gave 64 %
// false positives at α = 5 %). Per unit u, Y_u is the metric summed over its requests and X_u the
// number of those requests; the arm's value is the ratio R = ΣY/ΣX, with the delta-method variance
// CTR gets (Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics", KDD, eq. 4).
//
// The ratio travels as the mean summary of the linearised per-unit values
//   L_u = R + (Y_u − R·X_u)/X̄
// (Budylin, Drutsa, Katsev & Tsoy 2018, "Consistent Transformation of Ratio Metrics for Efficient
// Online Controlled Experiments", WSDM): their mean is R and their sample variance over n units is
// (s²_Y − 2R·s_XY + R²·s²_X)/X̄², which is n times the delta-method variance of R. So the mean-metric
// path (Welch, sequential, Bayesian, guardrails) tests exactly the delta-method ratio, with n = units.

/** A ratio metric's summary (Y numerator, X denominator per unit) as the mean summary of its linearised per-unit values: mean R = ΣY/ΣX, variance of the mean = the delta-method Var(R). */
export function linearisedRatio(ratio: RatioSummary): MeanSummary {
  if (ratio.n === 0) return emptyMeanSummary;
  const r = ratioOfMeans(ratio);
  return meanSummaryFromMoments(r.n, r.mean, r.variance * r.n);
}

/**
 * Click-based NDCG@10 and reciprocal rank per unit: each unit's rows are its clicked requests (the
 * clicked positions, 1-based); Y = the metric summed over them, X = their number (NDCG counts only
 * requests with a click in the top 10, as clickNdcg). Returns each as {@link linearisedRatio}.
 */
export function clickedRequestMetricsByUnit(requests: ReadonlyArray<{ unit: string; positions: readonly number[] }>): { ndcg: MeanSummary; mrr: MeanSummary } {
  const units = new Map<string, { ndcg: number; ndcgRequests: number; rr: number; requests: number }>();
  for (const { unit, positions } of requests) {
    const u = units.get(unit) ?? { ndcg: 0, ndcgRequests: 0, rr: 0, requests: 0 };
    units.set(unit, u);
    const ndcg = clickNdcg(positions, NDCG_K);
    if (ndcg !== null) {
      u.ndcg += ndcg;
      u.ndcgRequests++;
    }
    u.rr += clickReciprocalRank(positions);
    u.requests++;
  }
  const all = [...units.values()];
  return {
    ndcg: linearisedRatio(summarizeRatio(all.filter((u) => u.ndcgRequests > 0).map((u) => ({ numerator: u.ndcg, denominator: u.ndcgRequests })))),
    mrr: linearisedRatio(summarizeRatio(all.map((u) => ({ numerator: u.rr, denominator: u.requests })))),
  };
}
