import { normalQuantile } from "../stats/distributions";

// Canary rollouts: a growing, sticky share of a surface's traffic is served by the new version
// while the rest stays on the current one, and an automated analysis compares the two arms at each
// step before widening the share, promoting the version or rolling it back.

export const DEFAULT_STEPS = [1, 5, 25, 50];

/** The request log marks a rollout's traffic with this experiment key and the arm as the variant. */
export const rolloutLogKey = (rolloutId: string) => `rollout:${rolloutId}`;

/** Whether a unit is in the canary at `percent`: a unit in at p% stays in at every larger share (sticky as it grows). */
export function inCanary(hash32: number, percent: number): boolean {
  return (hash32 / 2 ** 32) * 100 < percent;
}

/** Steps must rise strictly within (0, 100); the version is promoted after the last one passes. */
export function validateSteps(steps: readonly number[]): string | null {
  if (steps.length === 0) return "give at least one step";
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (!(s > 0 && s < 100)) return `step ${i + 1} (${s}) must be above 0 and below 100: the version is promoted after the last step`;
    if (i > 0 && s <= steps[i - 1]!) return `steps must rise: ${steps[i - 1]} then ${s}`;
  }
  return null;
}

export interface ArmStats {
  requests: number;
  fallbacks: number;
  /** p99 latency in ms, null without requests. */
  p99: number | null;
}

export interface CanaryPolicy {
  /** Requests each arm needs in a step before it is judged. */
  minRequests: number;
  /** Largest tolerated rise of the fallback rate, absolute (0.01 = one percentage point). */
  maxFallbackRateIncrease: number;
  /** Largest tolerated rise of p99 latency, relative (0.2 = +20 %), beyond an absolute slack for sub-millisecond noise. */
  maxP99Increase: number;
  p99SlackMs: number;
  /** One-sided significance for the fallback-rate test. */
  alpha: number;
}

export const MIN_FALLBACK_EVENTS = 5;

export const DEFAULT_POLICY: CanaryPolicy = { minRequests: 200, maxFallbackRateIncrease: 0.01, maxP99Increase: 0.2, p99SlackMs: 2, alpha: 0.05 };

export interface Verdict {
  decision: "wait" | "advance" | "fail";
  reasons: string[];
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/**
 * Judges one step. Fails as soon as the canary's fallback rate is significantly above the
 * baseline's plus the tolerated rise (one-sided two-proportion z-test), or, with enough requests,
 * its p99 is above the baseline's by more than the tolerated share. Advances when both arms have
 * enough requests and nothing failed; otherwise waits.
 */
export function judgeCanary(canary: ArmStats, baseline: ArmStats, policy: CanaryPolicy = DEFAULT_POLICY): Verdict {
  const reasons: string[] = [];
  if (canary.requests > 0) {
    const pc = canary.fallbacks / canary.requests;
    const pb = baseline.requests > 0 ? baseline.fallbacks / baseline.requests : 0;
    const excess = pc - pb - policy.maxFallbackRateIncrease;
    const se = Math.sqrt((pc * (1 - pc)) / canary.requests + (baseline.requests > 0 ? (pb * (1 - pb)) / baseline.requests : 0));
    const critical = normalQuantile(1 - policy.alpha);
    // A handful of fallbacks proves nothing (one fallback of one request is 100 %): the test needs
    // at least MIN_FALLBACK_EVENTS of them, the usual n·p ≥ 5 condition for the normal approximation.
    if (canary.fallbacks >= MIN_FALLBACK_EVENTS && excess > 0 && (se === 0 || excess / se > critical)) {
      reasons.push(`fallback rate ${pct(pc)} vs ${pct(pb)} on the current version: above the tolerated +${pct(policy.maxFallbackRateIncrease)} (one-sided z-test, α = ${policy.alpha})`);
    }
  }
  const enough = canary.requests >= policy.minRequests && baseline.requests >= policy.minRequests;
  if (enough && canary.p99 !== null && baseline.p99 !== null) {
    const limit = baseline.p99 * (1 + policy.maxP99Increase) + policy.p99SlackMs;
    if (canary.p99 > limit) reasons.push(`p99 ${canary.p99.toFixed(2)} ms vs ${baseline.p99.toFixed(2)} ms on the current version: above the tolerated ${limit.toFixed(2)} ms`);
  }
  if (reasons.length > 0) return { decision: "fail", reasons };
  if (!enough) return { decision: "wait", reasons: [`${canary.requests} canary and ${baseline.requests} current requests of the ${policy.minRequests} each needed`] };
  return { decision: "advance", reasons: [`fallback rate and p99 within tolerance over ${canary.requests} canary and ${baseline.requests} current requests`] };
}
