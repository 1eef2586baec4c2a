// Sufficient statistics per variant. Every test in this module takes these summaries rather than
// per-unit rows, so data pre-aggregated in SQL works exactly like rows summarised here, and
// summaries of daily batches can be merged for sequential looks.
//
// A "unit" is whatever was randomised (a user, a session). Variances are sample variances (n − 1).
// Sums are kept around a shift (Σ(y − c), Σ(y − c)²): raw power sums lose every digit when the mean
// dwarfs the spread ([1e8, 1e8 + 1] gives Σy² − (Σy)²/n = 0 in doubles), while sums around a value
// near the mean keep them (Chan, Golub & LeVeque 1983, "Algorithms for computing the sample
// variance"). summarize* shift by the first value; SQL hands over avg/var_samp/covar_samp (stable
// aggregates in PostgreSQL ≥ 12), which {@link meanSummaryFromMoments} turns into a summary exactly.

/**
 * Per-variant summary of a per-unit metric (e.g. clicks per user): count, Σ(y − shift), Σ(y − shift)².
 * `shift` defaults to 0 (plain power sums, fine for counts and rates).
 */
export interface MeanSummary {
  n: number;
  sum: number;
  sumSq: number;
  shift?: number;
}

/**
 * Per-variant summary of two per-unit quantities measured on the same units: count, Σx, Σy, Σx²,
 * Σy², Σxy, each around its shift (shiftX, shiftY; default 0). Y is always the quantity of interest
 * and X its companion:
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
  shiftX?: number;
  shiftY?: number;
}

/** A ratio metric's summary: Y = numerator, X = denominator (see {@link PairedSummary}). */
export type RatioSummary = PairedSummary;

/** A metric together with its pre-experiment covariate: Y = metric, X = pre-period value. */
export type CovariateSummary = PairedSummary;

export const emptyMeanSummary: MeanSummary = Object.freeze({ n: 0, sum: 0, sumSq: 0 });
export const emptyPairedSummary: PairedSummary = Object.freeze({ n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 });

/**
 * A mean summary from moments (n, mean, sample variance), e.g. SQL's count, avg and var_samp: the
 * shift is the mean, so no digit is lost however large the mean. A variance that SQL returns as
 * NULL (n < 2) is taken as 0.
 */
export function meanSummaryFromMoments(n: number, mean: number, variance: number): MeanSummary {
  if (n === 0) return emptyMeanSummary;
  return { n, sum: 0, sumSq: n > 1 ? Math.max(0, variance) * (n - 1) : 0, shift: mean };
}

/** A paired summary from moments: n, the means of X and Y, their sample variances and covariance. */
export function pairedSummaryFromMoments(m: { n: number; meanX: number; meanY: number; varianceX: number; varianceY: number; covariance: number }): PairedSummary {
  if (m.n === 0) return emptyPairedSummary;
  const k = m.n > 1 ? m.n - 1 : 0;
  return { n: m.n, sumX: 0, sumY: 0, sumX2: Math.max(0, m.varianceX) * k, sumY2: Math.max(0, m.varianceY) * k, sumXY: m.covariance * k, shiftX: m.meanX, shiftY: m.meanY };
}

function checkFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${value}`);
}

/** Summarise per-unit values of a metric (one value per randomised unit). */
export function summarizeMean(values: Iterable<number>): MeanSummary {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let shift = 0;
  for (const value of values) {
    checkFinite(value, "metric value");
    if (n === 0) shift = value;
    const y = value - shift;
    n++;
    sum += y;
    sumSq += y * y;
  }
  return shift === 0 ? { n, sum, sumSq } : { n, sum, sumSq, shift };
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
  let shiftX = 0;
  let shiftY = 0;
  for (const [rawX, rawY] of pairs) {
    checkFinite(rawX, "value");
    checkFinite(rawY, "value");
    if (n === 0) [shiftX, shiftY] = [rawX, rawY];
    const x = rawX - shiftX;
    const y = rawY - shiftY;
    n++;
    sumX += x;
    sumY += y;
    sumX2 += x * x;
    sumY2 += y * y;
    sumXY += x * y;
  }
  return { n, sumX, sumY, sumX2, sumY2, sumXY, shiftX, shiftY };
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

/** Re-express a mean summary around another shift: Σ(y − b) = Σ(y − a) + n·(a − b), and likewise the squares. */
function rebaseMean(s: MeanSummary, shift: number): MeanSummary {
  const d = (s.shift ?? 0) - shift;
  return { n: s.n, sum: s.sum + s.n * d, sumSq: s.sumSq + 2 * d * s.sum + s.n * d * d, shift };
}

/** Combine summaries of disjoint sets of units (e.g. daily batches): sums add, around the first part's shift. */
export function mergeMeanSummaries(...parts: readonly MeanSummary[]): MeanSummary {
  const shift = parts.find((p) => p.n > 0)?.shift ?? 0;
  const merged = parts.reduce((a, b) => {
    const r = rebaseMean(b, shift);
    return { n: a.n + r.n, sum: a.sum + r.sum, sumSq: a.sumSq + r.sumSq };
  }, emptyMeanSummary);
  return shift === 0 ? merged : { ...merged, shift };
}

/** Combine paired summaries of disjoint sets of units, around the first part's shifts. */
export function mergePairedSummaries(...parts: readonly PairedSummary[]): PairedSummary {
  const first = parts.find((p) => p.n > 0);
  const shiftX = first?.shiftX ?? 0;
  const shiftY = first?.shiftY ?? 0;
  return parts.reduce<PairedSummary>(
    (a, b) => {
      const dx = (b.shiftX ?? 0) - shiftX;
      const dy = (b.shiftY ?? 0) - shiftY;
      return {
        n: a.n + b.n,
        sumX: a.sumX + b.sumX + b.n * dx,
        sumY: a.sumY + b.sumY + b.n * dy,
        sumX2: a.sumX2 + b.sumX2 + 2 * dx * b.sumX + b.n * dx * dx,
        sumY2: a.sumY2 + b.sumY2 + 2 * dy * b.sumY + b.n * dy * dy,
        sumXY: a.sumXY + b.sumXY + dx * b.sumY + dy * b.sumX + b.n * dx * dy,
        shiftX,
        shiftY,
      };
    },
    { ...emptyPairedSummary, shiftX, shiftY },
  );
}

/** Sample variance from (shifted) power sums: (Σy² − (Σy)²/n)/(n − 1); NaN below two units. */
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
  return { n: s.n, mean: s.n > 0 ? (s.shift ?? 0) + s.sum / s.n : NaN, variance: sampleVariance(s.n, s.sum, s.sumSq) };
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
    meanX: s.n > 0 ? (s.shiftX ?? 0) + s.sumX / s.n : NaN,
    meanY: s.n > 0 ? (s.shiftY ?? 0) + s.sumY / s.n : NaN,
    varianceX: sampleVariance(s.n, s.sumX, s.sumX2),
    varianceY: sampleVariance(s.n, s.sumY, s.sumY2),
    covariance: sampleCovariance(s.n, s.sumX, s.sumY, s.sumXY),
  };
}

function checkSummary(n: number): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`n must be a non-negative integer, got ${n}`);
}
