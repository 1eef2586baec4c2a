import { chiSquareUpperTail } from "../stats/distributions";
import type { FeatureDistribution } from "./featureSpec";

// Feature drift: how far the values a model sees in serving have moved from what it was trained
// on. The training side is the distribution stored in the model's feature spec, as bins made from
// the training data itself: category shares for a discrete feature (few distinct values: flags,
// counts, ratings), shares between quantile edges for a continuous one. The serving values are put
// in the same bins and compared by the population stability index,
//   PSI = Σ_b (a_b − e_b) · ln(a_b / e_b)
// (Siddiqi, Credit Risk Scorecards, 2006; shares floored at 1e-4 so an empty bin counts but stays
// finite). Read as: < 0.1 stable, 0.1–0.25 warn, ≥ 0.25 alert.
//
// The serving side is a sample (a few hundred rows), and PSI of a sample is biased upward by noise
// alone: for small deviations PSI ≈ χ²/n, so with k bins and no drift E[PSI] ≈ (k − 1)/n — 0.09 for
// 100 rows in 10 bins, with a long right tail — and unchanged traffic would often read "warn". So a
// level needs both: the shift is real (Pearson's χ² goodness-of-fit test of the binned counts against
// the training shares, p < DRIFT_P_VALUE; Pearson 1900) and large enough to matter (PSI, the effect
// size, past 0.1 / 0.25). Statistical significance with an effect-size floor is how the SRM check
// and the experiment verdicts already judge; for PSI's sampling distribution see Yurdakul & Naranjo,
// "Statistical properties of the population stability index", J. Risk Model Validation 14(4), 2020.
//
// Older specs stored only mean, sd, min and max. Deciles of a normal with that mean and sd are not
// the training distribution of a flag (30 % ones gave PSI 6.9 against its own data), of a count or
// of a skewed price, so such a spec is read as: a 0/1 feature whose sd matches a Bernoulli of its
// mean → the two category shares it implies; anything else → no PSI ("the spec has no training
// bins"), with the mean shift still shown, until the spec is registered again with bins.
//
// Binning is done in float32, the precision the model reads: the input sampler keeps the float32
// rows the model scored, and Math.fround(0.1) !== 0.1, so a served 0.1 compared with a spec's double
// 0.1 fell in "other" (PSI 17.3 on an unchanged distribution, break test). Spec values and edges, and
// the values binned, are each rounded to float32 first; training values are binned the same way.

export type DriftLevel = "stable" | "warn" | "alert" | "unknown";

export interface DriftSummary {
  count: number;
  mean: number;
  std: number;
  /** |serving mean − training mean| in training standard deviations. */
  meanShift: number | null;
  psi: number | null;
  /** The χ² test's p-value for "the serving values follow the training bins" (null with psi). */
  pValue: number | null;
  /** PSI sampling noise alone would give on average, (bins − 1)/count (null with psi). */
  nullPsi: number | null;
  /** driftLevel: significant and past the PSI thresholds. */
  level: DriftLevel;
  /** Why psi is null, in words. */
  note: string | null;
}

/** PSI at which drift is reported as a warning, and as an alert. */
export const PSI_WARN = 0.1;
export const PSI_ALERT = 0.25;

/** A feature with at most this many distinct training values is treated as discrete (category shares). */
export const MAX_CATEGORIES = 20;
/** Bins of a continuous feature: deciles. */
export const QUANTILE_BINS = 10;

const EPSILON = 1e-4;

/**
 * Fewer values than this give no level: 100 rows put ≥ 10 expected rows in each decile bin, where
 * Pearson's χ² approximation holds (Cochran's rule asks ≥ 5); below it PSI is mostly noise.
 */
export const MIN_DRIFT_SAMPLE = 100;

/** A shift is significant at p below this (χ² test of the binned counts), as the SRM check uses. */
export const DRIFT_P_VALUE = 0.001;

/**
 * The training distribution of one feature, for its spec: mean, sd (population), min, max, and
 * bins — `{ kind: "categories", values, shares }` when there are at most MAX_CATEGORIES distinct
 * values, else `{ kind: "quantiles", edges, shares }`. Quantile edges: the distinct deciles; every
 * value holding at least a decile's share (an atom, e.g. the 0 of a zero-inflated feature) gets a
 * bin of its own, and the values that are not atoms get bins in proportion to their share (at
 * least two), so 97 % zeros and 3 % spread over 0–100 still has bins above 0; and a first bin below
 * the training minimum and a last above the maximum, of share 0, so values outside the training
 * range show as drift. Bin i holds edges[i−1] ≤ v < edges[i]. Non-finite values are ignored; null
 * when none is left.
 */
export function describeDistribution(values: readonly number[]): FeatureDistribution | null {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = finite.length;
  if (n === 0) return null;
  const mean = finite.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(finite.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const min = finite[0]!;
  const max = finite[n - 1]!;
  const summary = { mean, std, min, max };

  // Values equal as float32 are one value to the model, so one category or atom.
  const runs: Array<{ value: number; count: number }> = [];
  for (const v of finite) {
    const last = runs[runs.length - 1];
    if (last && Math.fround(last.value) === Math.fround(v)) last.count++;
    else runs.push({ value: v, count: 1 });
  }
  if (runs.length <= MAX_CATEGORIES) {
    return { ...summary, kind: "categories", values: runs.map((r) => r.value), shares: runs.map((r) => r.count / n) };
  }
  const edges = new Set<number>([min, aboveRange(max)]);
  for (let b = 1; b < QUANTILE_BINS; b++) edges.add(quantileOfSorted(finite, b / QUANTILE_BINS));
  const isAtom = (r: { count: number }) => r.count * QUANTILE_BINS >= n;
  runs.forEach((r, i) => {
    if (!isAtom(r)) return;
    edges.add(r.value);
    if (i + 1 < runs.length) edges.add(runs[i + 1]!.value);
  });
  const rest = runs.filter((r) => !isAtom(r)).flatMap((r) => new Array<number>(r.count).fill(r.value));
  if (rest.length < n) {
    const restBins = Math.max(2, Math.round((QUANTILE_BINS * rest.length) / n));
    for (let b = 1; b < restBins && rest.length > 1; b++) edges.add(quantileOfSorted(rest, b / restBins));
  }
  // Edges distinct as float32 (two that round to one float32 would bound a bin nothing can fall in).
  const distinct = new Map<number, number>();
  for (const e of [...edges].filter((e) => e >= min).sort((a, b) => a - b)) if (!distinct.has(Math.fround(e))) distinct.set(Math.fround(e), e);
  let sorted = [...distinct.values()];
  let counts = countBins(finite, sorted);
  // A bin inside the training range that no training value fell in (interpolated deciles of a few
  // values can make one) would read a single serving value as drift: merged into the bin above.
  for (let b = counts.length - 2; b >= 1; b--) {
    if (counts[b] === 0 && b < sorted.length - 1) {
      sorted = sorted.filter((_, i) => i !== b);
      counts = countBins(finite, sorted);
    }
  }
  return { ...summary, kind: "quantiles", edges: sorted, shares: counts.map((c) => c / n) };
}

/** Counts of `values` in the bins between `edges`, both compared as float32 (binOf32). */
function countBins(values: readonly number[], edges: readonly number[]): number[] {
  const edges32 = edges.map(Math.fround);
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binOf(Math.fround(v), edges32)]!++;
  return counts;
}

/**
 * The edge of the bin above the training range: a little above `max` (a millionth of its size, at
 * least 1e-6), so that it stays above `max` in a spec rounded to six decimals or stored as float32.
 */
function aboveRange(max: number): number {
  return max + Math.max(Math.abs(max) * 1e-6, 1e-6) * 2;
}

/** Type-7 quantile (linear interpolation, R's default) of sorted values. */
function quantileOfSorted(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Bin of `v` between `edges` (ascending): 0 below edges[0], i when edges[i-1] ≤ v < edges[i]. */
function binOf(v: number, edges: readonly number[]): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v >= edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Training bins of a spec's distribution, reading older mean/sd specs as the header says; null when it has none. */
export function trainingBins(distribution: FeatureDistribution): { kind: "categories"; values: number[]; shares: number[] } | { kind: "quantiles"; edges: number[]; shares: number[] } | null {
  if (distribution.kind === "categories" && distribution.values && distribution.shares) return { kind: "categories", values: distribution.values, shares: distribution.shares };
  if (distribution.kind === "quantiles" && distribution.edges && distribution.shares) return { kind: "quantiles", edges: distribution.edges, shares: distribution.shares };
  const { mean, std, min, max } = distribution;
  // A 0/1 flag: its sd is sqrt(p(1 − p)) (population) or that × sqrt(n/(n−1)) (sample); allow either.
  if (min === 0 && max === 1 && mean !== undefined && std !== undefined && mean > 0 && mean < 1) {
    const bernoulli = Math.sqrt(mean * (1 - mean));
    if (Math.abs(std - bernoulli) <= 0.02 * bernoulli + 1e-9) return { kind: "categories", values: [0, 1], shares: [1 - mean, mean] };
  }
  return null;
}

/**
 * The serving values' counts in the training bins, with each bin's training share (a discrete
 * feature's unseen values in a last "other" bin of share 0); null without bins. Compared as float32
 * (see the header): a value lands in a category when it equals the category's value in float32, and
 * in quantile bin i when fround(edges[i−1]) ≤ fround(v) < fround(edges[i]). Spec values or edges
 * that are one float32 are one bin to the model: their shares are added (a category), or the empty
 * bin between two equal edges gives its share to the bin its values now fall in (quantiles).
 */
function binnedCounts(values: readonly number[], distribution: FeatureDistribution): { counts: number[]; expected: number[] } | null {
  const bins = trainingBins(distribution);
  if (!bins) return null;
  if (bins.kind === "categories") {
    const index = new Map<number, number>();
    const expected: number[] = [];
    bins.values.forEach((v, i) => {
      const at = index.get(Math.fround(v));
      if (at === undefined) {
        index.set(Math.fround(v), expected.length);
        expected.push(bins.shares[i]!);
      } else {
        expected[at]! += bins.shares[i]!;
      }
    });
    const other = expected.length;
    expected.push(0);
    const counts = new Array<number>(expected.length).fill(0);
    for (const v of values) counts[index.get(Math.fround(v)) ?? other]!++;
    return { counts, expected };
  }
  const edges: number[] = [];
  const expected = [bins.shares[0]!];
  bins.edges.forEach((e, i) => {
    const e32 = Math.fround(e);
    if (edges.length && edges[edges.length - 1] === e32) expected[expected.length - 1]! += bins.shares[i + 1]!;
    else {
      edges.push(e32);
      expected.push(bins.shares[i + 1]!);
    }
  });
  const counts = new Array<number>(expected.length).fill(0);
  for (const v of values) counts[binOf(Math.fround(v), edges)]!++;
  return { counts, expected };
}

function psiOfCounts(counts: readonly number[], expected: readonly number[], n: number): number {
  let psi = 0;
  for (let b = 0; b < expected.length; b++) {
    const a = Math.max(counts[b]! / n, EPSILON);
    const e = Math.max(expected[b]!, EPSILON);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/**
 * Population stability index of `values` against the training bins (see the header); null
 * without values or bins. Values a discrete feature never took in training fall in an extra
 * "other" bin with a training share of 0 (floored), so a new category shows as drift.
 */
export function psiAgainstTraining(values: readonly number[], distribution: FeatureDistribution): number | null {
  const binned = values.length === 0 ? null : binnedCounts(values, distribution);
  return binned && psiOfCounts(binned.counts, binned.expected, values.length);
}

export interface DriftTest {
  /** Population stability index (the effect size). */
  psi: number;
  /** PSI expected from sampling noise alone, (k − 1)/n for k bins the training data fills. */
  nullPsi: number;
  /** Pearson's χ² of the binned counts against n × the training shares (shares floored at 1e-4). */
  chiSquare: number;
  /** k − 1, k the bins with a training share (the "other" bin of a discrete feature counts only when values fell in it). */
  df: number;
  /** P(χ²_df ≥ chiSquare): how likely counts this far off are with no drift. */
  pValue: number;
}

/**
 * PSI with its significance (see the header): the binned serving counts tested against the
 * training shares by Pearson's χ² goodness of fit. Null without values or training bins.
 */
export function driftTest(values: readonly number[], distribution: FeatureDistribution): DriftTest | null {
  const n = values.length;
  const binned = n === 0 ? null : binnedCounts(values, distribution);
  if (!binned) return null;
  const { counts, expected } = binned;
  let chiSquare = 0;
  let bins = 0;
  for (let b = 0; b < expected.length; b++) {
    if (expected[b]! <= 0 && counts[b] === 0) continue; // an "other" bin nothing fell in
    bins++;
    const e = n * Math.max(expected[b]!, EPSILON);
    chiSquare += (counts[b]! - e) ** 2 / e;
  }
  const df = Math.max(1, bins - 1);
  return { psi: psiOfCounts(counts, expected, n), nullPsi: (expected.filter((e) => e > 0).length - 1) / n, chiSquare, df, pValue: chiSquareUpperTail(chiSquare, df) };
}

/**
 * The level of a drift test: stable unless the shift is significant (p < DRIFT_P_VALUE) — then warn
 * from PSI_WARN and alert from PSI_ALERT. Unknown without a test.
 */
export function driftLevel(test: Pick<DriftTest, "psi" | "pValue"> | null): DriftLevel {
  if (!test) return "unknown";
  return test.pValue < DRIFT_P_VALUE ? psiLevel(test.psi) : "stable";
}

/** PSI alone: < PSI_WARN stable, < PSI_ALERT warn, else alert (a sample's level is driftLevel's). */
export function psiLevel(psi: number | null): DriftLevel {
  if (psi === null) return "unknown";
  return psi < PSI_WARN ? "stable" : psi < PSI_ALERT ? "warn" : "alert";
}

/**
 * Drift of a sample of serving values against the spec's training distribution: count, mean, sd
 * (sample), mean shift in training sds, and the drift test's PSI, p-value and level; no level
 * below MIN_DRIFT_SAMPLE finite values or without training bins (note says why).
 */
export function summariseDrift(values: readonly number[], expected: FeatureDistribution | undefined): DriftSummary {
  const finite = values.filter(Number.isFinite);
  const count = finite.length;
  const mean = count ? finite.reduce((s, v) => s + v, 0) / count : Number.NaN;
  const std = count > 1 ? Math.sqrt(finite.reduce((s, v) => s + (v - mean) ** 2, 0) / (count - 1)) : Number.NaN;
  let note: string | null = null;
  let test: DriftTest | null = null;
  if (!expected) note = "no training distribution in the spec";
  else if (!trainingBins(expected)) note = "the spec has mean and sd only, no training bins";
  else if (count < MIN_DRIFT_SAMPLE) note = `too few rows (${count} of ${MIN_DRIFT_SAMPLE})`;
  else test = driftTest(finite, expected);
  const meanShift = expected?.mean !== undefined && expected.std !== undefined && expected.std > 0 && count ? Math.abs(mean - expected.mean) / expected.std : null;
  return { count, mean, std, meanShift, psi: test?.psi ?? null, pValue: test?.pValue ?? null, nullPsi: test?.nullPsi ?? null, level: driftLevel(test), note };
}
