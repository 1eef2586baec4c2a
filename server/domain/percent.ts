/**
 * Shares (fractions in [0, 1], as definitions store weights, coverage and thresholds) and the
 * percentages forms show, converted without binary floating-point noise: 12 significant digits,
 * so 0.6667 × 100 is 66.67 (not 66.67000000000002) and 66.67 / 100 is 0.6667 (not
 * 0.6667000000000001). A share round-tripped through a form then compares equal to the stored one.
 */
const SIGNIFICANT = 12;

/**
 * A share (a weight, a coverage, a threshold, a minimum detectable effect: any size) at 12
 * significant digits, so two that differ only by floating-point noise (0.6667 and
 * 0.6667000000000001; an MDE of 1.3333333333333333 and 1.33333333333) compare equal. Only for shares:
 * an id, a count or a targeting value is compared exactly.
 */
export const withoutShareNoise = (share: number): number => (Number.isFinite(share) ? Number(share.toPrecision(SIGNIFICANT)) : share);

/** `share` (0.6667) as a percentage (66.67). */
export const percentOfShare = (share: number): number => withoutShareNoise(share * 100);

/** `percent` (66.67) as a share (0.6667). */
export const shareOfPercent = (percent: number): number => withoutShareNoise(percent / 100);
