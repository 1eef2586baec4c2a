import { buildFeatureMatrix, type CandidateInput, type FeatureLookup, type FeatureSpec } from "./featureSpec";

// One candidate's feature vector as the model saw it, for people to read (the Debug page's sampled
// scoring rows, the Shadow page's largest moves): the same values buildFeatureMatrix feeds the
// model, plus which features fell back to the spec's default.

export interface FeatureVector {
  /** Index-aligned with the spec; null where the value is not finite. Float32, as the model got it, to 7 significant digits. */
  values: Array<number | null>;
  /** Names of the features that got the spec's default (missing, stale or not finite). */
  defaulted: string[];
}

/** The float32 a model got, printed without float noise (0.699999988 → 0.7): float32 holds about 7 significant digits. */
export const readableFloat32 = (value: number): number | null => (Number.isFinite(value) ? Number(value.toPrecision(7)) : null);

/** `candidate`'s vector under `spec`, as of `nowMs` (staleness is judged then). */
export function featureVector(spec: FeatureSpec, candidate: CandidateInput, lookup: FeatureLookup, nowMs: number): FeatureVector {
  const matrix = buildFeatureMatrix(spec, [candidate], lookup, nowMs);
  return { values: Array.from(matrix.data, readableFloat32), defaulted: Object.keys(matrix.defaultedByFeature) };
}
