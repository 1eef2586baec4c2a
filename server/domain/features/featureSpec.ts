// A model version's declared inputs: the ordered features it was trained on, where each comes
// from, its default, and how old a stored value may be before the default replaces it.

export type FeatureSource = "candidate" | "item" | "user";

/**
 * A feature's training distribution (server/domain/features/drift.ts describes and reads it):
 * summary statistics, and the bins drift is measured on — category shares for a discrete feature
 * (`kind: "categories"`, `values[i]` taken by a share `shares[i]` of training rows), or shares
 * between quantile edges for a continuous one (`kind: "quantiles"`, bin 0 below edges[0], bin i
 * for edges[i-1] ≤ x < edges[i]). Specs written before bins existed have the summary only.
 */
export interface FeatureDistribution {
  mean: number;
  /** Standard deviation (population). */
  std: number;
  min: number;
  max: number;
  kind?: "categories" | "quantiles";
  values?: number[];
  edges?: number[];
  shares?: number[];
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
  /**
   * What the model gets when the value is absent (not sent, not stored, stale or not finite):
   * "default" (the default above; the rule when unset) or "nan" — missing, the rule of XGBoost and
   * LightGBM, whose trees send NaN down each split's learned missing-value branch. Imported
   * XGBoost / LightGBM models get "nan" unless their spec says otherwise.
   */
  missing?: MissingRule;
}

export type MissingRule = "default" | "nan";

/** The value an absent feature takes under its spec's missing rule. */
export const absentValue = (def: FeatureDef): number => (def.missing === "nan" ? Number.NaN : def.default);

export type FeatureSpec = FeatureDef[];

/**
 * Warnings for features a spec names that nothing will fill, each served as its default (or NaN
 * under `missing: "nan"`) on every request, silently:
 * - a stored feature (source "item" or "user") that no sampled row of its store carries: a misspelt
 *   name (ctr_7d for ctr7d). `stored[source]` holds the keys seen in `sampled` rows of that store (0
 *   rows: the store is empty, and nothing is said — a first install fills it later).
 * - a candidate feature only where the miss is knowable. A request fills "retrieval_score" from each
 *   candidate's retrievalScore and any other name from the candidate's inline `features`, which may
 *   carry any name (server/rerank/schema.ts): a name no past request sent may be sent by the next,
 *   so an unknown candidate name is not a fault. Two are: a look-alike of retrieval_score
 *   ("retrievalScore", "retrieval-score"), which retrievalScore never fills; and a name the item or
 *   user store carries, which the store never fills for a candidate feature (its source is wrong).
 * @returns one sentence per such feature, naming it by its index in the spec.
 */
export function unstoredFeatureWarnings(spec: FeatureSpec, stored: Record<"item" | "user", { keys: ReadonlySet<string>; sampled: number }>): string[] {
  return spec.flatMap((feature, index) => {
    const servedAs = feature.missing === "nan" ? "missing value (NaN)" : `default (${feature.default})`;
    if (feature.source === "candidate") {
      if (feature.name !== RETRIEVAL_SCORE && skeleton(feature.name) === skeleton(RETRIEVAL_SCORE)) {
        return [`featureSpec[${index}]: a candidate's retrievalScore fills "${RETRIEVAL_SCORE}", not "${feature.name}": it is served as its ${servedAs} unless each candidate sends an inline feature "${feature.name}"`];
      }
      const store = (["item", "user"] as const).find((source) => stored[source].keys.has(feature.name));
      if (store) return [`featureSpec[${index}]: "${feature.name}" is a candidate feature, read only from each request's inline features, but the ${store} store carries it: it is served as its ${servedAs} unless each candidate sends it inline (source "${store}" reads the store)`];
      return [];
    }
    const store = stored[feature.source];
    if (store.sampled === 0 || store.keys.has(feature.name)) return [];
    return [`featureSpec[${index}]: no ${feature.source} in the feature store carries "${feature.name}" (${store.sampled.toLocaleString("en-US")} sampled): it is served as its ${servedAs} until they do`];
  });
}

/** The candidate feature a request fills from each candidate's `retrievalScore` (buildFeatureMatrix). */
export const RETRIEVAL_SCORE = "retrieval_score";

/** A name's letters and digits, lower-cased: "retrievalScore", "Retrieval-Score" and "retrieval_score" are one. */
const skeleton = (name: string) => name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");

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
  /** Feature values absent (missing, stale or not finite), given their default or NaN by the spec's missing rule. */
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
 * its freshness limit or not a finite number is absent: it gets the declared default, or NaN where
 * the spec's missing rule is "nan" (tree models that learned where missing values go), and is
 * counted. No other NaN or Infinity reaches a score. "Finite" is judged as the float32 the model
 * reads: a stored 1e300 is finite as a double but Infinity in the tensor.
 */
export function buildFeatureMatrix(spec: FeatureSpec, candidates: readonly CandidateInput[], lookup: FeatureLookup, nowMs: number): FeatureMatrix {
  const rows = candidates.length;
  const cols = spec.length;
  const data = new Float32Array(rows * cols);
  // No prototype: a feature named "__proto__" is counted as a key, not assigned as the prototype.
  const defaultedByFeature: Record<string, number> = Object.create(null) as Record<string, number>;
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
      // Own fields only: a feature named "constructor" or "toString" must not read Object.prototype's
      // (never a number, so only a value that is not one pays for the own-field check).
      let value: unknown = candidate.features?.[def.name];
      if (value !== undefined && typeof value !== "number" && !Object.hasOwn(candidate.features!, def.name)) value = undefined;
      if (value === undefined) {
        if (def.source === "candidate") {
          value = def.name === RETRIEVAL_SCORE ? candidate.retrievalScore : undefined;
        } else {
          const stored = def.source === "item" ? item : user;
          if (stored) {
            const age = (nowMs - stored.updatedAt) / 1000;
            if (def.freshnessSeconds != null && age > def.freshnessSeconds) {
              stale++;
            } else {
              value = stored.values[def.name];
              if (value !== undefined && typeof value !== "number" && !Object.hasOwn(stored.values, def.name)) value = undefined;
              if (value !== undefined && age > maxAgeSeconds) maxAgeSeconds = age;
            }
          }
        }
      }
      if (typeof value === "number" && Number.isFinite(Math.fround(value))) {
        data[r * cols + c] = value;
      } else {
        data[r * cols + c] = absentValue(def);
        defaulted++;
        defaultedByFeature[def.name] = (defaultedByFeature[def.name] ?? 0) + 1;
      }
    }
  }
  return { data, rows, cols, defaulted, stale, unknownItems, defaultedByFeature, maxAgeSeconds };
}

/**
 * A data set's rows as a model's input: each spec feature is matched to the data set column of the
 * same name (e.g. "f1".."f300" for LETOR). A feature with no such column — a model with more
 * features than the data set has — is absent in every row and takes its missing rule's value (NaN
 * for XGBoost / LightGBM, else its default). `data` is row-major [rows × columnNames.length].
 * Returns [rows × spec.length] and the names of the absent features; null when no feature matches
 * (the model was not made for this data set).
 */
export function alignToDataset(spec: FeatureSpec, columnNames: readonly string[], data: Float32Array, rows: number): { data: Float32Array; absent: string[] } | null {
  const width = columnNames.length;
  const byName = new Map(columnNames.map((name, i) => [name, i]));
  const source = spec.map((f) => byName.get(f.name) ?? -1);
  if (source.every((c) => c < 0)) return null;
  const out = new Float32Array(rows * spec.length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < spec.length; j++) {
      const column = source[j]!;
      out[r * spec.length + j] = column >= 0 ? data[r * width + column]! : absentValue(spec[j]!);
    }
  }
  return { data: out, absent: spec.filter((_, j) => source[j]! < 0).map((f) => f.name) };
}
