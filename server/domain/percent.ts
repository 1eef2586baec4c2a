/**
 * Shares (fractions in [0, 1], as definitions store weights, coverage and thresholds) and the
 * percentages forms show, converted without binary floating-point noise: 12 significant digits,
 * so 0.6667 × 100 is 66.67 (not 66.67000000000002) and 66.67 / 100 is 0.6667 (not
 * 0.6667000000000001). A share round-tripped through a form then compares equal to the stored one.
 */
const SIGNIFICANT = 12;

/** `share` (0.6667) as a percentage (66.67). */
export const percentOfShare = (share: number): number => Number((share * 100).toPrecision(SIGNIFICANT));

/** `percent` (66.67) as a share (0.6667). */
export const shareOfPercent = (percent: number): number => Number((percent / 100).toPrecision(SIGNIFICANT));

/**
 * `value` (any JSON value) with every number that can be a share (a fraction, |x| < 1) at 12
 * significant digits: two definitions that differ only by floating-point noise (a weight of 0.6667
 * and 0.6667000000000001) become equal. Other numbers are kept exactly (a targeting rule's
 * 1733140000004 is not 1733140000000).
 */
export function withoutFloatNoise<T>(value: T): T {
  if (typeof value === "number") return (Math.abs(value) < 1 ? Number(value.toPrecision(SIGNIFICANT)) : value) as T;
  if (Array.isArray(value)) return value.map(withoutFloatNoise) as T;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutFloatNoise(v)])) as T;
  }
  return value;
}
