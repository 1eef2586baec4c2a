// Two experiments on one surface: the first that enrols a request serves it (server/rerank/assignment.ts),
// so an earlier experiment takes the units it enrols from a later one. This says how much it takes.

/** What decides which requests an experiment enrols (a subset of its definition). */
export interface Reach {
  hashAttribute: string;
  /** Share of eligible traffic enrolled, in [0, 1]. */
  coverage: number;
  namespace: { id: string; start: number; end: number } | null;
  /** Number of targeting rules (any rule may leave requests out). */
  targetingRules: number;
}

/**
 * How much of `later`'s traffic `earlier` takes when both run on one surface and `earlier` is
 * checked first:
 * - "all": every unit `later` could enrol is enrolled by `earlier` first (full coverage, no
 *   targeting, the same randomisation unit, and no namespace, or one of the same id whose range
 *   contains `later`'s): `later` would get no traffic at all;
 * - "none": the two take disjoint ranges of one namespace, so they never share a unit;
 * - "some": anything else (coverage, targeting, another unit or namespace leave `later` part of its traffic).
 */
export function trafficTaken(earlier: Reach, later: Reach): "all" | "some" | "none" {
  const a = earlier.namespace;
  const b = later.namespace;
  if (a && b && a.id === b.id && (a.end <= b.start || b.end <= a.start)) return "none";
  const containsLater = !a || (b !== null && a.id === b.id && a.start <= b.start && a.end >= b.end);
  if (earlier.coverage >= 1 && earlier.targetingRules === 0 && earlier.hashAttribute === later.hashAttribute && containsLater) return "all";
  return "some";
}
