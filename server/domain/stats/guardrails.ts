// Guardrail verdicts that do not come from a confidence interval.

/** Requests per variant below which a latency percentile is too noisy to judge. */
export const PERCENTILE_GUARDRAIL_MIN_REQUESTS = 200;

export type GuardrailStatus = "ok" | "at risk" | "violated" | "no data";

/**
 * A guardrail on a percentile (e.g. p95 latency): the relative change of each treatment's value
 * against the control's. A percentile has no delta-method interval, so there is no "at risk" band:
 * a change past the threshold in the guarded direction is a violation, anything else is ok.
 * Variants with fewer than `minRequests` requests are not judged.
 */
export function percentileGuardrail(
  guardrail: { direction: "increase" | "decrease"; threshold: number },
  control: { p95: number; requests: number } | null,
  treatments: ReadonlyArray<{ p95: number; requests: number } | null>,
  minRequests = PERCENTILE_GUARDRAIL_MIN_REQUESTS,
): GuardrailStatus {
  if (!control || control.requests < minRequests || !(control.p95 > 0)) return "no data";
  const judged = treatments.filter((t): t is { p95: number; requests: number } => t !== null && t.requests >= minRequests && Number.isFinite(t.p95));
  if (judged.length === 0) return "no data";
  const worst = Math.max(...judged.map((t) => {
    const change = t.p95 / control.p95 - 1;
    return guardrail.direction === "increase" ? change : -change;
  }));
  return worst > guardrail.threshold ? "violated" : "ok";
}
