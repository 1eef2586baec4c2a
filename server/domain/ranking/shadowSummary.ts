import { commonRange, histogram, quantileSorted, type HistogramBin } from "../stats/describe";

// What the Shadow page shows for one candidate model: how often and how far its rankings disagree
// with what was served, how its scores are distributed next to the serving model's, and what it
// costs in latency. Pure: the service feeds it the stored records of a time window.

export interface ShadowRecordInput {
  overlapAt10: number | null;
  /** Rank-biased overlap of the two served lists; null on rows written before it was recorded. */
  rbo: number | null;
  kendallTau: number | null;
  spearmanRho: number | null;
  primaryLatencyMs: number | null;
  shadowLatencyMs: number | null;
  /** Scores of the served items, and of the shadow's top k. */
  primaryScores: readonly number[];
  shadowScores: readonly number[];
  error: string | null;
}

export interface Spread {
  mean: number;
  p10: number;
  p50: number;
  p90: number;
}

export interface LatencySpread {
  p50: number;
  p95: number;
  p99: number;
}

export interface ShadowSummary {
  records: number;
  compared: number;
  errors: number;
  overlapAt10: Spread & { histogram: HistogramBin[] };
  /** Over the records that have it (NaN spread when none do). */
  rbo: Spread;
  kendallTau: Spread & { histogram: HistogramBin[] };
  spearmanRho: Spread;
  latencyMs: { primary: LatencySpread; shadow: LatencySpread };
  scores: { primary: HistogramBin[]; shadow: HistogramBin[]; primaryMean: number; shadowMean: number };
}

const sortedFinite = (values: Iterable<number | null>) => [...values].filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : Number.NaN);

function spread(sorted: readonly number[]): Spread {
  return { mean: mean(sorted), p10: quantileSorted(sorted, 0.1), p50: quantileSorted(sorted, 0.5), p90: quantileSorted(sorted, 0.9) };
}

function latency(values: Iterable<number | null>): LatencySpread {
  const sorted = sortedFinite(values);
  return { p50: quantileSorted(sorted, 0.5), p95: quantileSorted(sorted, 0.95), p99: quantileSorted(sorted, 0.99) };
}

export function summariseShadow(records: readonly ShadowRecordInput[]): ShadowSummary {
  const compared = records.filter((r) => r.error === null);
  const overlaps = sortedFinite(compared.map((r) => r.overlapAt10));
  const taus = sortedFinite(compared.map((r) => r.kendallTau));
  const primaryScores = compared.flatMap((r) => r.primaryScores);
  const shadowScores = compared.flatMap((r) => r.shadowScores);
  const range = commonRange(primaryScores, shadowScores);
  return {
    records: records.length,
    compared: compared.length,
    errors: records.length - compared.length,
    overlapAt10: { ...spread(overlaps), histogram: histogram(overlaps, { min: 0, max: 1, bins: 10 }) },
    rbo: spread(sortedFinite(compared.map((r) => r.rbo))),
    kendallTau: { ...spread(taus), histogram: histogram(taus, { min: -1, max: 1, bins: 10 }) },
    spearmanRho: spread(sortedFinite(compared.map((r) => r.spearmanRho))),
    latencyMs: { primary: latency(compared.map((r) => r.primaryLatencyMs)), shadow: latency(compared.map((r) => r.shadowLatencyMs)) },
    scores: {
      primary: histogram(primaryScores, { ...range, bins: 20 }),
      shadow: histogram(shadowScores, { ...range, bins: 20 }),
      primaryMean: mean(primaryScores),
      shadowMean: mean(shadowScores),
    },
  };
}
