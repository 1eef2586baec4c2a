// An experiment that enrols all of a surface's traffic starves the surface's other comparisons:
// a canary takes only traffic no experiment enrolled, and the shadow mirrors only requests the
// serving model itself scored (not an experiment's variants). Issue #13, point 8.

export interface TrafficUse {
  status: string;
  coverage: number;
  /** A namespace range leaves the rest of the traffic to others. */
  namespace: unknown;
  targetingRules: number;
}

export interface SurfaceComparisons {
  /** A canary rollout running on the surface. */
  canaryRunning: boolean;
  /** The shadow alias mirrored, when the sample rate is above 0. */
  shadowAlias: string | null;
  shadowSampleRate: number;
}

/** Warnings, in words, for the comparisons this experiment leaves without traffic; empty when none. */
export function starvedComparisons(experiment: TrafficUse, surface: SurfaceComparisons): string[] {
  const takesAll = experiment.status === "running" && experiment.coverage >= 1 && !experiment.namespace && experiment.targetingRules === 0;
  if (!takesAll) return [];
  const warnings: string[] = [];
  if (surface.canaryRunning) warnings.push("This experiment enrols all of the surface's traffic, so the running canary gets none: a canary takes only traffic no experiment enrolled. Lower the coverage or use a namespace.");
  if (surface.shadowAlias && surface.shadowSampleRate > 0) warnings.push(`This experiment enrols all of the surface's traffic, so the shadow of "${surface.shadowAlias}" compares nothing: only requests the serving model itself scored are mirrored.`);
  return warnings;
}
