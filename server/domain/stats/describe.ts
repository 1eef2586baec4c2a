// Descriptive statistics for dashboards: quantiles and fixed-width histograms.

/** The q-quantile of ascending-sorted values, interpolating linearly between order statistics (R's type 7). NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface HistogramBin {
  /** Lower edge (inclusive). */
  from: number;
  /** Upper edge (exclusive, except the last bin, which includes max). */
  to: number;
  count: number;
}

/**
 * Counts of finite values in `bins` equal-width bins over [min, max]; values outside are clamped into
 * the end bins. A value on an edge (within 1e-9 of a bin's width) counts in the bin it opens: in
 * floating point (0.3 − 0) / 0.1 is 2.9999999999999996, which put every overlap@10 of 0.3, 0.6 and
 * 0.7 one bin low on the Shadow page (break test).
 */
export function histogram(values: Iterable<number>, range: { min: number; max: number; bins: number }): HistogramBin[] {
  const { min, max, bins } = range;
  if (!(bins >= 1) || !Number.isInteger(bins)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  if (!(max > min)) throw new RangeError(`max (${max}) must exceed min (${min})`);
  const width = (max - min) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const position = ((v - min) / (max - min)) * bins;
    const edge = Math.round(position);
    const bin = Math.abs(position - edge) < 1e-9 ? edge : Math.floor(position);
    counts[Math.min(bins - 1, Math.max(0, bin))]!++;
  }
  return counts.map((count, i) => ({ from: min + i * width, to: i === bins - 1 ? max : min + (i + 1) * width, count }));
}

/** The range to bin two samples on one axis (e.g. two models' scores); a degenerate range is widened by ±0.5. */
export function commonRange(...samples: ReadonlyArray<readonly number[]>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const sample of samples) {
    for (const v of sample) {
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (min === Infinity) return { min: 0, max: 1 };
  return max > min ? { min, max } : { min: min - 0.5, max: max + 0.5 };
}

/** (current − previous) / previous; null when either is missing or the previous value is 0. */
export function relativeChange(current: number | null, previous: number | null): number | null {
  if (current === null || previous === null || previous === 0 || !Number.isFinite(current) || !Number.isFinite(previous)) return null;
  return (current - previous) / Math.abs(previous);
}
