// Canary rollouts: a growing, sticky share of a surface's traffic is served by the new version
// while the rest stays on the current one, and an automated analysis compares the two arms at each
// step before widening the share, promoting the version or rolling it back.

export const DEFAULT_STEPS = [1, 5, 25, 50];

/**
 * The model alias a surface's canary serves under: one per surface (`canary@search`), because
 * rollouts are per surface and two surfaces may roll out two versions of one model at once. The
 * rollout row is the source of truth (serving reads its version); this alias mirrors it, is set
 * when the rollout starts and cleared when it ends, and only by that surface's rollout. The "@"
 * is outside the grammar of hand-set alias names, so no person can move it or collide with it.
 */
export const canaryAliasOf = (surfaceKey: string) => `canary@${surfaceKey}`;

/**
 * The statuses of a rollout whose canary still serves its share and whose levers act: a paused
 * canary keeps its share too. Every other status has ended ("pending" is never written).
 */
export const ACTIVE_ROLLOUT_STATUSES = ["running", "paused"] as const;

/** Whether a rollout in `status` is active (ACTIVE_ROLLOUT_STATUSES): running or paused. */
export const isActiveRollout = (status: string) => (ACTIVE_ROLLOUT_STATUSES as readonly string[]).includes(status);

/** The request log marks a rollout's traffic with this experiment key and the arm as the variant. */
export const rolloutLogKey = (rolloutId: string) => `rollout:${rolloutId}`;

/** Whether a unit is in the canary at `percent`: a unit in at p% stays in at every larger share (sticky as it grows). */
export function inCanary(hash32: number, percent: number): boolean {
  return (hash32 / 2 ** 32) * 100 < percent;
}

/**
 * The smallest share a step may give the canary, in percent (steps are percentages, 1 → 5 → 25 → 50):
 * 0.1 % is one request in a thousand. Below it a step never gathers the requests the judge needs
 * (minRequests per arm) before its deadline, so it can only end by pausing there.
 */
export const MIN_STEP_PERCENT = 0.1;

/** A problem with a rollout's steps: `step` is the index of the step at fault (null: the list itself). */
export interface StepsProblem {
  step: number | null;
  message: string;
}

/** The field a StepsProblem names: `steps` or `steps[i]`. */
export const stepsField = (problem: StepsProblem) => (problem.step === null ? "steps" : `steps[${problem.step}]`);

/** Why `steps` cannot run, or null: shares in [0.1, 100) percent, strictly rising; the version is promoted after the last one passes. */
export function validateSteps(steps: readonly number[]): StepsProblem | null {
  if (steps.length === 0) return { step: null, message: "give at least one step" };
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (!(s >= MIN_STEP_PERCENT && s < 100)) {
      return { step: i, message: `${s} must be at least ${MIN_STEP_PERCENT} and below 100 (a share of traffic in percent; the version is promoted after the last step)` };
    }
    if (i > 0 && s <= steps[i - 1]!) return { step: i, message: `steps must rise: ${steps[i - 1]} then ${s}` };
  }
  return null;
}

/**
 * The probability with which each of an arm's `requests` rows of a step is kept for its latency
 * sample of at most `sample` (a Bernoulli sample, then `sample` of those at random: a uniform subset
 * of a uniform subset is uniform, and no query sorts every row of the step). Every row when the arm
 * has at most `sample`; else 1.25 × `sample` rows expected, so keeping fewer than `sample` is more
 * than 15 standard deviations away (and would still be uniform, only smaller).
 */
export function latencyKeepRate(requests: number, sample: number): number {
  return requests <= sample ? 1 : Math.min(1, (1.25 * sample) / requests);
}
