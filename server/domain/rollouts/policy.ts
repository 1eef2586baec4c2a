import { DEFAULT_JUDGE_POLICY, type JudgePolicy } from "./judge";

// What a canary's judge may be told to tolerate. A tolerance so wide that no regression could
// exceed it, or a minimum so small that no test could reach a verdict, turns a metric off while the
// rollout still reads "every metric within tolerance" (break test: an approved canary with a
// fallback tolerance of 100 points promoted a version that fell back on every request). Such values
// are refused when a canary is started or its start is requested; the rest are named wherever the
// start is shown (the approval's summary, the rollout.start audit entry).

/** The settable fields of a canary's judge policy. */
export type PolicyField = "minRequests" | "minImpressions" | "maxLatencyIncrease" | "maxTailShareIncrease" | "maxFallbackRateIncrease" | "maxCtrDecrease" | "stepDeadlineMinutes";

/**
 * The bounds of each settable field (inclusive). Why each:
 * - minRequests ≥ 100: at 99 % confidence Newcombe's interval of 10 fallbacks in 100 requests against
 *   0 in 100 is [+1.76 points, …] (a 10-point rise, the fallback cap, is caught); at 80 requests the
 *   lower bound is +0.40, at 50 it is −3.45 (not caught) (computed with newcombeDifference). And the
 *   tail metric's "baseline p99" is an order statistic only from 100 latencies up (below, the maximum).
 * - minImpressions ≥ 500, counted in raw impressions, while CTR's interval works on effective ones:
 *   n* = impressions / design effect × (z / t_{users−1})² per arm (judge.ts ctrDifference: the design
 *   effect from the spread between users, Deng et al. 2018; Korn & Graubard 1998's small-sample factor).
 *   Newcombe's 99 % interval of a CTR halved from 10 % ends below 0 from n* ≈ 378 per arm (at n* = 500
 *   its upper bound is −0.68 points, at 200 +2.03: not caught). So 500 impressions catch a fall at the
 *   largest tolerance (maxCtrDecrease 0.5) only when they are about as good as independent: from
 *   MIN_CTR_UNITS = 30 users (factor 0.873, n* = 437, upper −0.37 points) whose CTRs hardly differ
 *   (design effect ≤ 1.15). Users of differing taste need design effect × 432 impressions per arm at
 *   30 users (× 392 from 100 users) for the same power; short of it the interval is wide and CTR passes
 *   unproven, so set minImpressions from the surface's impressions per user, not from this floor.
 * - CTR needs MIN_CTR_UNITS (30) users per arm besides, whatever minImpressions says: a fixed floor,
 *   not a field (judge.ts says why 30). Below it CTR is "nodata": the step waits, and at its deadline
 *   pauses for on-call.
 * - maxLatencyIncrease ≤ 2: the canary's median may be at most 3× the baseline's (+200 %) before the
 *   tolerance is reached; beyond that no product would accept the regression unknowingly.
 * - maxTailShareIncrease ≤ 0.2: at most 20 points more requests past the baseline's p99 (≈ 1 %
 *   there): a shift that moves a fifth of the requests past the p99 is a regression of the whole
 *   upper tail, no longer a tolerance.
 * - maxFallbackRateIncrease ≤ 0.1: a fallback serves retrieval order, unranked; 10 points more
 *   fallbacks is one user in ten losing the model. 1 (100 points) let a version that fell back on
 *   every request pass.
 * - maxCtrDecrease ≤ 0.5: a canary may lose at most half the baseline's clicks per impression before
 *   failing; 1 (−100 %) could never fail.
 * - stepDeadlineMinutes 1–10,080 (a week), as before.
 */
export const POLICY_BOUNDS: Record<PolicyField, { min: number; max: number; unit: string }> = {
  minRequests: { min: 100, max: 1_000_000, unit: "requests per arm" },
  minImpressions: { min: 500, max: 100_000_000, unit: "impressions per arm" },
  maxLatencyIncrease: { min: 0, max: 2, unit: "relative shift of the median" },
  maxTailShareIncrease: { min: 0, max: 0.2, unit: "share of requests" },
  maxFallbackRateIncrease: { min: 0, max: 0.1, unit: "share of requests" },
  maxCtrDecrease: { min: 0, max: 0.5, unit: "relative fall" },
  stepDeadlineMinutes: { min: 1, max: 10_080, unit: "minutes" },
};

const FIELDS = Object.keys(POLICY_BOUNDS) as PolicyField[];

/** A policy value in the product's words: "10 points", "+200 %", "−50 %", "100 requests per arm". */
export function policyValueWords(field: PolicyField, value: number): string {
  const pct = (v: number) => `${+(v * 100).toFixed(4)}`;
  switch (field) {
    case "minRequests": return `${value.toLocaleString("en-US")} requests per arm`;
    case "minImpressions": return `${value.toLocaleString("en-US")} impressions per arm`;
    case "maxLatencyIncrease": return `+${pct(value)} % of the baseline median`;
    case "maxTailShareIncrease": return `+${pct(value)} points past the baseline's p99`;
    case "maxFallbackRateIncrease": return `+${pct(value)} points`;
    case "maxCtrDecrease": return `−${pct(value)} %`;
    case "stepDeadlineMinutes": return `${value} min`;
  }
}

/** The words a summary gives each field. */
export const POLICY_LABELS: Record<PolicyField, string> = {
  minRequests: "minimum requests",
  minImpressions: "minimum impressions",
  maxLatencyIncrease: "latency tolerance",
  maxTailShareIncrease: "tail tolerance",
  maxFallbackRateIncrease: "fallback tolerance",
  maxCtrDecrease: "CTR tolerance",
  stepDeadlineMinutes: "step deadline",
};

/**
 * Why a policy cannot judge, or null: the first field outside POLICY_BOUNDS (see there for each
 * bound's reason), as `{ field, message }` for a 400 naming the field.
 * @param policy the settable fields, as given (absent ones are the defaults and always pass).
 */
export function policyProblem(policy: Partial<Record<PolicyField, number | undefined>>): { field: PolicyField; message: string } | null {
  for (const field of FIELDS) {
    const value = policy[field];
    if (value === undefined) continue;
    const { min, max } = POLICY_BOUNDS[field];
    if (!Number.isFinite(value)) return { field, message: `${value} is not a number` };
    if (value < min) return { field, message: `${value} is below ${min} (${policyValueWords(field, min)}): with fewer the judge has no power to fail a regression, so the metric would pass unmeasured` };
    if (value > max) return { field, message: `${value} is above ${max} (${policyValueWords(field, max)}): a wider tolerance lets any regression of this metric pass, which turns the metric off` };
  }
  return null;
}

/**
 * The fields of `policy` that differ from DEFAULT_JUDGE_POLICY, in words, in display order:
 * ["fallback tolerance +5 points (default +1 points)", …]; empty when all are the defaults.
 */
export function policyDifferences(policy: JudgePolicy): string[] {
  return FIELDS.filter((f) => policy[f] !== DEFAULT_JUDGE_POLICY[f])
    .map((f) => `${POLICY_LABELS[f]} ${policyValueWords(f, policy[f])} (default ${policyValueWords(f, DEFAULT_JUDGE_POLICY[f])})`);
}

/** The settable fields of `policy` alone (what a change request pins and the rollout.start entry records). */
export function settablePolicy(policy: JudgePolicy): Record<PolicyField, number> {
  return Object.fromEntries(FIELDS.map((f) => [f, policy[f]])) as Record<PolicyField, number>;
}

/**
 * The older names a start may still give a policy field under (stored change requests use them):
 * maxP99Increase is maxLatencyIncrease.
 */
export const POLICY_FIELD_ALIASES = { maxP99Increase: "maxLatencyIncrease" } as const satisfies Record<string, PolicyField>;

/** A canary start's policy fields as the caller sent them, each under its current name or an older one (POLICY_FIELD_ALIASES). */
export type GivenPolicy = Partial<Record<PolicyField | keyof typeof POLICY_FIELD_ALIASES, number | undefined>>;

/**
 * Why a start's policy cannot judge, or null: policyProblem over the fields as given, the 400 naming
 * the field the caller sent (maxP99Increase: 5 is named maxP99Increase, not maxLatencyIncrease), and
 * a field given under both its names with two values (one would be dropped unseen).
 */
export function givenPolicyProblem(given: GivenPolicy): { field: string; message: string } | null {
  const policy: Partial<Record<PolicyField, number | undefined>> = Object.fromEntries(FIELDS.map((f) => [f, given[f]]));
  const sentAs: Partial<Record<PolicyField, string>> = {};
  for (const [older, field] of Object.entries(POLICY_FIELD_ALIASES) as Array<[keyof typeof POLICY_FIELD_ALIASES, PolicyField]>) {
    const value = given[older];
    if (value === undefined) continue;
    const current = given[field];
    if (current !== undefined && current !== value) {
      return { field: older, message: `${value} differs from ${field} ${current}: ${older} is the older name of ${field}, so send one of them` };
    }
    if (current === undefined) {
      policy[field] = value;
      sentAs[field] = older;
    }
  }
  const problem = policyProblem(policy);
  if (!problem) return null;
  const older = sentAs[problem.field];
  return older ? { field: older, message: `${problem.message} (${older} is the older name of ${problem.field})` } : problem;
}

/**
 * A stored policy (an ended rollout's, for rollouts.retry) brought within today's POLICY_BOUNDS: each
 * field outside them is set to the nearest bound, the stricter side for what the bounds guard (a floor
 * raises a minimum, a cap lowers a tolerance), so a retry never judges more loosely than today's rules
 * allow, as Argo Rollouts' retry runs the analysis of today's template; a field that is not a number
 * takes the default. `adjusted` names each change in words, as the retry's
 * answer, its dialog and its audit entry give it. Fields absent from `stored` are the defaults.
 */
export function policyWithinBounds(stored: Partial<JudgePolicy>): { policy: JudgePolicy; adjusted: string[] } {
  const policy: JudgePolicy = { ...DEFAULT_JUDGE_POLICY, ...stored };
  const adjusted: string[] = [];
  for (const field of FIELDS) {
    const value = policy[field];
    const { min, max } = POLICY_BOUNDS[field];
    const next = !Number.isFinite(value) ? DEFAULT_JUDGE_POLICY[field] : value < min ? min : value > max ? max : value;
    if (next === value) continue;
    const why = !Number.isFinite(value) ? "the default: the stored value is not a number" : value < min ? "today's floor" : "today's cap";
    adjusted.push(`${POLICY_LABELS[field]} ${Number.isFinite(value) ? policyValueWords(field, value) : String(value)} → ${policyValueWords(field, next)} (${why})`);
    policy[field] = next;
  }
  return { policy, adjusted };
}
