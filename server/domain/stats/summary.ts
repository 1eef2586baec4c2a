// Sufficient statistics per variant. Every test in this module takes these summaries rather than
// per-unit rows, so data pre-aggregated in SQL (COUNT, SUM(x), SUM(x*x), …) works exactly like rows
// summarised here, and summaries of daily batches can be merged for sequential looks.
//
// A "unit" is whatever was randomised (a user, a session). Variances are sample variances (n − 1).
// Computing them from raw power sums loses digits when the mean is huge relative to the spread;
// for the metrics here (rates, counts, revenue per unit) doubles keep ample precision.

/** Per-variant summary of a per-unit metric (e.g. clicks per user): count, Σy, Σy². */
export interface MeanSummary {
  n: number;
  sum: number;
  sumSq: number;
}

/**
 * Per-variant summary of two per-unit quantities measured on the same units: count, Σx, Σy, Σx²,
 * Σy², Σxy. Y is always the quantity of interest and X its companion:
 * - ratio metrics: Y = numerator, X = denominator (CTR = Σclicks/Σimpressions ⇒ Y = clicks per
 *   user, X = impressions per user), following Deng, Knoblich & Lu (2018) "Applying the Delta
 *   Method in Metric Analytics", who write the ratio as Ȳ/X̄;
 * - CUPED: Y = the in-experiment metric, X = the same unit's pre-experiment value (Deng et al. 2013).
 */
export interface PairedSummary {
  n: number;
  sumX: number;
  sumY: number;
  sumX2: number;
  sumY2: number;
  sumXY: number;
}

/** A ratio metric's summary: Y = numerator, X = denominator (see {@link PairedSummary}). */
export type RatioSummary = PairedSummary;

/** A metric together with its pre-experiment covariate: Y = metric, X = pre-period value. */
export type CovariateSummary = PairedSummary;

export const emptyMeanSummary: MeanSummary = Object.freeze({ n: 0, sum: 0, sumSq: 0 });
export const emptyPairedSummary: PairedSummary = Object.freeze({ n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 });

function checkFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${value}`);
}

/** Summarise per-unit values of a metric (one value per randomised unit). */
export function summarizeMean(values: Iterable<number>): MeanSummary {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (const y of values) {
    checkFinite(y, "metric value");
    n++;
    sum += y;
    sumSq += y * y;
  }
  return { n, sum, sumSq };
}

/** Summarise a 0/1 metric (converted or not) from counts alone: Σy = Σy² = conversions. */
export function summarizeProportion(units: number, conversions: number): MeanSummary {
  if (!(Number.isInteger(units) && units >= 0)) throw new RangeError(`units must be a non-negative integer, got ${units}`);
  if (!(Number.isInteger(conversions) && conversions >= 0 && conversions <= units)) {
    throw new RangeError(`conversions must be an integer in [0, ${units}], got ${conversions}`);
  }
  return { n: units, sum: conversions, sumSq: conversions };
}

function summarizePairs(pairs: Iterable<readonly [x: number, y: number]>): PairedSummary {
  let n = 0;
  let sumX = 0;
  let sumY = 0;
  let sumX2 = 0;
  let sumY2 = 0;
  let sumXY = 0;
  for (const [x, y] of pairs) {
    checkFinite(x, "value");
    checkFinite(y, "value");
    n++;
    sumX += x;
    sumY += y;
    sumX2 += x * x;
    sumY2 += y * y;
    sumXY += x * y;
  }
  return { n, sumX, sumY, sumX2, sumY2, sumXY };
}

/** Summarise a ratio metric from per-unit numerator and denominator (e.g. clicks and impressions per user). */
export function summarizeRatio(rows: Iterable<{ numerator: number; denominator: number }>): RatioSummary {
  return summarizePairs(mapIterable(rows, (r) => [r.denominator, r.numerator] as const));
}

/** Summarise a metric with its pre-experiment value per unit (the CUPED covariate). */
export function summarizeWithCovariate(rows: Iterable<{ value: number; preExperiment: number }>): CovariateSummary {
  return summarizePairs(mapIterable(rows, (r) => [r.preExperiment, r.value] as const));
}

function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Iterable<U> {
  for (const item of items) yield f(item);
}

/** Combine summaries of disjoint sets of units (e.g. daily batches): sums add. */
export function mergeMeanSummaries(...parts: readonly MeanSummary[]): MeanSummary {
  return parts.reduce((a, b) => ({ n: a.n + b.n, sum: a.sum + b.sum, sumSq: a.sumSq + b.sumSq }), emptyMeanSummary);
}

/** Combine paired summaries of disjoint sets of units. */
export function mergePairedSummaries(...parts: readonly PairedSummary[]): PairedSummary {
  return parts.reduce(
    (a, b) => ({
      n: a.n + b.n,
      sumX: a.sumX + b.sumX,
      sumY: a.sumY + b.sumY,
      sumX2: a.sumX2 + b.sumX2,
      sumY2: a.sumY2 + b.sumY2,
      sumXY: a.sumXY + b.sumXY,
    }),
    emptyPairedSummary,
  );
}

/** Sample variance from power sums: (Σy² − (Σy)²/n)/(n − 1); NaN below two units. */
export function sampleVariance(n: number, sum: number, sumSq: number): number {
  if (n < 2) return NaN;
  // Rounding can push a zero variance a hair below 0; a variance is never negative.
  return Math.max(0, (sumSq - (sum * sum) / n) / (n - 1));
}

/** Sample covariance from power sums: (Σxy − ΣxΣy/n)/(n − 1); NaN below two units. */
export function sampleCovariance(n: number, sumX: number, sumY: number, sumXY: number): number {
  if (n < 2) return NaN;
  return (sumXY - (sumX * sumY) / n) / (n - 1);
}

/** Mean and sample variance of the per-unit metric. */
export function describeMean(s: MeanSummary): { n: number; mean: number; variance: number } {
  checkSummary(s.n);
  return { n: s.n, mean: s.n > 0 ? s.sum / s.n : NaN, variance: sampleVariance(s.n, s.sum, s.sumSq) };
}

/** Means, sample variances and covariance of a paired summary. */
export function describePaired(s: PairedSummary): {
  n: number;
  meanX: number;
  meanY: number;
  varianceX: number;
  varianceY: number;
  covariance: number;
} {
  checkSummary(s.n);
  return {
    n: s.n,
    meanX: s.n > 0 ? s.sumX / s.n : NaN,
    meanY: s.n > 0 ? s.sumY / s.n : NaN,
    varianceX: sampleVariance(s.n, s.sumX, s.sumX2),
    varianceY: sampleVariance(s.n, s.sumY, s.sumY2),
    covariance: sampleCovariance(s.n, s.sumX, s.sumY, s.sumXY),
  };
}

function checkSummary(n: number): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`n must be a non-negative integer, got ${n}`);
}
