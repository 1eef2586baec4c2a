// A model version's declared inputs: the ordered features it was trained on, where each comes
// from, its default, and how old a stored value may be before the default replaces it.

export type FeatureSource = "candidate" | "item" | "user";

export interface FeatureDistribution {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface FeatureDef {
  name: string;
  /** candidate: the request (retrieval_score or inline features); item/user: the online store. */
  source: FeatureSource;
  type: "float";
  default: number;
  /** Stored values older than this are stale and replaced by the default; null = never stale. */
  freshnessSeconds?: number | null;
  description?: string;
  /** Expected distribution from training, for drift checks. */
  distribution?: FeatureDistribution;
}

export type FeatureSpec = FeatureDef[];

export interface StoredFeatures {
  values: Record<string, unknown>;
  /** Epoch milliseconds of the last update. */
  updatedAt: number;
}

export interface CandidateInput {
  id: string;
  retrievalScore?: number;
  features?: Record<string, number>;
}

export interface FeatureLookup {
  item(id: string): StoredFeatures | undefined;
  user: StoredFeatures | undefined;
}

export interface FeatureMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
  /** Feature values replaced by their default (missing, stale or not finite). */
  defaulted: number;
  stale: number;
  unknownItems: number;
  defaultedByFeature: Record<string, number>;
  /** Age in seconds of the oldest stored value used, for staleness metrics. */
  maxAgeSeconds: number;
}

/**
 * Builds the [rows × cols] float32 input of a model from its spec. An inline candidate feature
 * wins over the store (the caller has the freshest signal); a value that is missing, older than
 * its freshness limit or not a finite number gets the declared default and is counted, so
 * NaN or Infinity never reaches a score. "Finite" is judged as the float32 the model reads: a
 * stored 1e300 is finite as a double but Infinity in the tensor.
 */
export function buildFeatureMatrix(spec: FeatureSpec, candidates: readonly CandidateInput[], lookup: FeatureLookup, nowMs: number): FeatureMatrix {
  const rows = candidates.length;
  const cols = spec.length;
  const data = new Float32Array(rows * cols);
  const defaultedByFeature: Record<string, number> = {};
  let defaulted = 0;
  let stale = 0;
  let unknownItems = 0;
  let maxAgeSeconds = 0;
  const user = lookup.user;

  for (let r = 0; r < rows; r++) {
    const candidate = candidates[r]!;
    const item = lookup.item(candidate.id);
    if (!item) unknownItems++;
    for (let c = 0; c < cols; c++) {
      const def = spec[c]!;
      let value: unknown = candidate.features?.[def.name];
      if (value === undefined) {
        if (def.source === "candidate") {
          value = def.name === "retrieval_score" ? candidate.retrievalScore : undefined;
        } else {
          const stored = def.source === "item" ? item : user;
          if (stored) {
            const age = (nowMs - stored.updatedAt) / 1000;
            if (def.freshnessSeconds != null && age > def.freshnessSeconds) {
              stale++;
            } else {
              value = stored.values[def.name];
              if (value !== undefined && age > maxAgeSeconds) maxAgeSeconds = age;
            }
          }
        }
      }
      if (typeof value === "number" && Number.isFinite(Math.fround(value))) {
        data[r * cols + c] = value;
      } else {
        data[r * cols + c] = def.default;
        defaulted++;
        defaultedByFeature[def.name] = (defaultedByFeature[def.name] ?? 0) + 1;
      }
    }
  }
  return { data, rows, cols, defaulted, stale, unknownItems, defaultedByFeature, maxAgeSeconds };
}
