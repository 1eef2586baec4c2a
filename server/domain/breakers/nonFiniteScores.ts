// Whose fault a model's non-finite score (NaN, ±Infinity) is. Inputs are bounded at the edge to
// float32's range (server/validation.ts), so a finite input can still make a model overflow: a
// linear model summing seven 3e38s gives Infinity. That is the caller's doing, and must not open a
// breaker for everyone (server/domain/breakers/callerCircuits.ts, input_fault). But a broken model
// (a bad export, a NaN bias) returns NaN on ordinary inputs, every request: that is the model's
// fault, and must count towards its breaker, or it falls back forever with no circuit opening.

/**
 * The magnitude from which an input counts as extreme: 2^64 ≈ 1.8e19, the square root of float32's
 * largest value (≈ 3.4e38 = 2^128). Below it, no product of two values — an input times a weight or
 * another input, the operations a ranking model is built of — can overflow float32 unless the other
 * factor is itself past 2^64; at or past it, one multiplication can.
 */
export const EXTREME_INPUT = 2 ** 64;

export interface NonFiniteScore {
  /** The first row scored non-finite (0-based), and its score. */
  row: number;
  value: number;
  /** How many of the rows scored non-finite. */
  rows: number;
  /**
   * True (the caller's fault: an input fault, counted by no circuit) exactly when every row scored
   * non-finite has an extreme input (|x| ≥ EXTREME_INPUT, or x itself non-finite). Any non-finite
   * score on a row of ordinary inputs — a model returning NaN for every row of ordinary inputs
   * among them — is the model's fault (false: it counts towards the model's breaker).
   */
  inputDependent: boolean;
}

const extremeRow = (data: ArrayLike<number>, row: number, cols: number): boolean => {
  for (let c = row * cols; c < (row + 1) * cols; c++) if (!(Math.abs(data[c]!) < EXTREME_INPUT)) return true;
  return false;
};

/**
 * Judges a batch's scores: null when every score is finite, else the first non-finite score and
 * whose fault it is (see NonFiniteScore.inputDependent).
 * @param scores one score per row (`rows` of them)
 * @param data the inputs the model ran on, row-major [rows × cols]
 * @throws RangeError when `data` does not hold rows × cols values
 */
export function judgeNonFiniteScores(scores: ArrayLike<number>, data: ArrayLike<number>, rows: number, cols: number): NonFiniteScore | null {
  if (data.length !== rows * cols) throw new RangeError(`data holds ${data.length} values, not rows × cols = ${rows} × ${cols}`);
  let first: { row: number; value: number } | null = null;
  let count = 0;
  let ordinary = false;
  for (let r = 0; r < rows; r++) {
    const value = scores[r]!;
    if (Number.isFinite(value)) continue;
    first ??= { row: r, value };
    count++;
    if (!ordinary && !extremeRow(data, r, cols)) ordinary = true;
  }
  return first ? { ...first, rows: count, inputDependent: !ordinary } : null;
}
