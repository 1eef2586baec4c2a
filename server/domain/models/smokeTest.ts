import { buildFeatureMatrix, type FeatureSpec } from "../features/featureSpec";
import { readableFloat32 } from "../features/featureRows";

// The upload's smoke test, the parts that are plain data: rows from the feature store as the model
// would get them, whether a model's scores depend on where a row sits in its batch, and how a row
// that scored non-finite is named. server/registry/validateArtifact.ts runs the model.

/** Rows sampled from the feature store, in a model's input layout. */
export interface StoreSample {
  /** The item id of each row. */
  ids: string[];
  /** Row-major [ids.length × spec.length] float32, as serving builds it (buildFeatureMatrix). */
  data: Float32Array;
}

/**
 * Rows of a model's input made from stored values: one per item in `items` (its stored values),
 * with the user values of `users[row % users.length]` (none when empty). Candidate features are
 * what a request sends, unknown here: each gets the value serving gives an absent one (its default,
 * or NaN under `missing: "nan"`). Stored values count as fresh, since they are real values a
 * request may be scored on; a value that is not a finite float32 is absent, as in serving.
 */
export function storeSampleRows(spec: FeatureSpec, items: ReadonlyArray<{ id: string; values: Record<string, unknown> }>, users: ReadonlyArray<{ values: Record<string, unknown> }>): StoreSample {
  const cols = spec.length;
  const data = new Float32Array(items.length * cols);
  items.forEach((item, row) => {
    const user = users.length ? users[row % users.length]! : undefined;
    const matrix = buildFeatureMatrix(spec, [{ id: item.id }], { item: () => ({ values: item.values, updatedAt: 0 }), user: user && { values: user.values, updatedAt: 0 } }, 0);
    data.set(matrix.data, row * cols);
  });
  return { ids: items.map((i) => i.id), data };
}

/** One batch of a smoke test: which reference row sits at each position, and the scores it got there. */
export interface ScoredBatch {
  rows: readonly number[];
  scores: ArrayLike<number>;
}

export interface PositionDependence {
  /** The reference row whose score moved, and its score where the reference batch held it (position = row). */
  row: number;
  referenceScore: number;
  referenceSize: number;
  /** Where it sat in the other batch, that batch's size, and the score it got there. */
  position: number;
  batchSize: number;
  score: number;
}

/** Relative tolerance of two scores of one row: float32 sums in another order (a batch's kernel) differ by far less. */
export const POSITION_TOLERANCE = 1e-5;

/**
 * The first row whose score in a batch differs from its score in the reference batch (where row i
 * sits at position i) by more than POSITION_TOLERANCE × the larger of the two scores and of the
 * reference's largest |score|; null when every row scores the same wherever it sits. A ranker
 * scores each row on its own: a model whose output is reordered along the batch (a Slice with
 * step −1) or mixes rows ranks each candidate by another's score.
 * @param reference scores of rows 0..n−1 at positions 0..n−1 (finite)
 * @param batches other batches of the same rows (finite scores)
 */
export function positionDependence(reference: ArrayLike<number>, batches: readonly ScoredBatch[]): PositionDependence | null {
  let scale = 0;
  for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i]!));
  for (const batch of batches) {
    for (let position = 0; position < batch.rows.length; position++) {
      const row = batch.rows[position]!;
      const expected = reference[row]!;
      const score = batch.scores[position]!;
      const tolerance = POSITION_TOLERANCE * Math.max(Math.abs(expected), Math.abs(score), scale);
      if (!(Math.abs(score - expected) <= tolerance)) {
        return { row, referenceScore: expected, referenceSize: reference.length, position, batchSize: batch.rows.length, score };
      }
    }
  }
  return null;
}

/**
 * A row of the model's input for a message: `name=value` for each feature in spec order (float32 to
 * 7 digits, NaN for an absent value), at most `limit` of them with "…" after.
 */
export function describeRow(spec: FeatureSpec, data: ArrayLike<number>, row: number, limit = 20): string {
  const cols = spec.length;
  const parts = spec.slice(0, limit).map((f, c) => {
    const value = data[row * cols + c]!;
    return `${f.name}=${readableFloat32(value) ?? String(value)}`;
  });
  return parts.join(", ") + (cols > limit ? `, … (${cols - limit} more)` : "");
}
