// Does a converted tree model score like the original? The ONNX TreeEnsembleRegressor keeps leaf
// weights and its running sum in float32, so it cannot equal a double-precision original
// (LightGBM) bit for bit, and may sum in another order than a float32 original (XGBoost). What it
// can promise is float32 rounding: a leaf of 300.123456789 becomes 300.12344 (4e-8 relative), which
// must pass, while a leaf taken from the wrong branch or a value float32 cannot hold must not.
//
// The bound per row is the classic one for a floating-point sum of n terms x_i in any order
// (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §4.2): |error| ≤ (n − 1)·u·Σ|x_i|
// with u = 2^-24 for float32, plus u·|x_i| for rounding each term to float32. Both sides may carry
// that error, so a row agrees when |onnx − native| ≤ (2n + 1)·u·Σ|x_i|. It is relative to the
// magnitude of what is summed, not to the score, so a score near zero from large terms of both signs
// is judged by the terms.

/** Unit roundoff of float32. */
export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;

export interface ScoredRow {
  /** The library's own score (LightGBM raw score, XGBoost margin). */
  native: number;
  /** What the converted ONNX model returned. */
  onnx: number;
  /** The terms the original added for this row: base score and one leaf per tree. */
  terms: readonly number[];
}

export interface ConversionCheck {
  agrees: boolean;
  /** Max |onnx − native| over the rows. */
  maxAbsDiff: number;
  /** Max |onnx − native| / Σ|terms| over the rows (0 when every term is 0 and the scores agree). */
  maxRelDiff: number;
  /** The first row that disagrees (or the worst row when all agree). */
  worst: { row: number; native: number; onnx: number; allowed: number };
}

/** The largest |onnx − native| that float32 rounding explains for a row adding `terms`. */
export function float32SumTolerance(terms: readonly number[]): number {
  let magnitude = 0;
  for (const t of terms) magnitude += Math.abs(t);
  return (2 * terms.length + 1) * FLOAT32_UNIT_ROUNDOFF * magnitude;
}

/**
 * Compares converted scores with the original's row by row (see the bound above). A NaN or
 * infinity on either side, or a term float32 cannot hold (|x| > 3.4e38), is a disagreement.
 */
export function checkConversion(rows: readonly ScoredRow[]): ConversionCheck {
  let maxAbsDiff = 0;
  let maxRelDiff = 0;
  let worst: ConversionCheck["worst"] = { row: 0, native: 0, onnx: 0, allowed: 0 };
  let worstRatio = -1;
  for (let r = 0; r < rows.length; r++) {
    const { native, onnx, terms } = rows[r]!;
    const allowed = float32SumTolerance(terms);
    const diff = Number.isFinite(native) && Number.isFinite(onnx) ? Math.abs(native - onnx) : Infinity;
    const magnitude = allowed / ((2 * terms.length + 1) * FLOAT32_UNIT_ROUNDOFF);
    maxAbsDiff = Math.max(maxAbsDiff, diff);
    maxRelDiff = Math.max(maxRelDiff, diff === 0 ? 0 : magnitude > 0 ? diff / magnitude : Infinity);
    const ratio = diff === 0 ? 0 : allowed > 0 ? diff / allowed : Infinity;
    if (ratio > 1) return { agrees: false, maxAbsDiff, maxRelDiff, worst: { row: r, native, onnx, allowed } };
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = { row: r, native, onnx, allowed };
    }
  }
  return { agrees: true, maxAbsDiff, maxRelDiff, worst };
}
