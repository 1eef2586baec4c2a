import { normalQuantile } from "../stats/distributions";
import type { FeatureDistribution } from "./featureSpec";

// Feature drift: how far the values a model sees in serving have moved from what it was trained
// on. The training side is the distribution declared in the model's feature spec (mean, std, min,
// max), so the expected bins are deciles of a normal with that mean and std; the population
// stability index compares the serving values' shares in those bins with 10 % each.

export interface DriftSummary {
  count: number;
  mean: number;
  std: number;
  /** |serving mean − training mean| in training standard deviations. */
  meanShift: number | null;
  psi: number | null;
  level: "stable" | "moderate" | "significant" | "unknown";
}

const EPSILON = 1e-4;

/** Population stability index of `values` against deciles of N(mean, std); null without a spread or values. */
export function psiAgainstNormal(values: readonly number[], expected: Pick<FeatureDistribution, "mean" | "std">, bins = 10): number | null {
  if (values.length === 0 || !(expected.std > 0)) return null;
  const edges = Array.from({ length: bins - 1 }, (_, i) => expected.mean + expected.std * normalQuantile((i + 1) / bins));
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    let b = 0;
    while (b < edges.length && v >= edges[b]!) b++;
    counts[b]!++;
  }
  const e = 1 / bins;
  let psi = 0;
  for (const c of counts) {
    const a = Math.max(c / values.length, EPSILON);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** The usual reading of PSI: < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 significant. */
export function psiLevel(psi: number | null): DriftSummary["level"] {
  if (psi === null) return "unknown";
  return psi < 0.1 ? "stable" : psi < 0.25 ? "moderate" : "significant";
}

/** Fewer values than this give no PSI: with sparse bins it is inflated by noise alone. */
export const MIN_DRIFT_SAMPLE = 100;

export function summariseDrift(values: readonly number[], expected: FeatureDistribution | undefined): DriftSummary {
  const finite = values.filter(Number.isFinite);
  const count = finite.length;
  const mean = count ? finite.reduce((s, v) => s + v, 0) / count : Number.NaN;
  const std = count > 1 ? Math.sqrt(finite.reduce((s, v) => s + (v - mean) ** 2, 0) / (count - 1)) : Number.NaN;
  const psi = expected && count >= MIN_DRIFT_SAMPLE ? psiAgainstNormal(finite, expected) : null;
  const meanShift = expected && expected.std > 0 && count ? Math.abs(mean - expected.mean) / expected.std : null;
  return { count, mean, std, meanShift, psi, level: psiLevel(psi) };
}
