// Promotion history as data: the rows of one model alias (what it pointed at, from when, moved by
// whom and how) folded into stints of distinct versions, and the rollback targets they offer. A
// move onto the version already served (re-applying it, shipping the variant that already serves)
// changes nothing that was served, so it never starts a stint: rollback targets come from distinct
// versions only.

export type AliasChangeKind = "alias_move" | "rollback" | "ship" | "promotion";

/** One alias row of the history, oldest first in the arrays below. `toVersionId` null: the alias was cleared. */
export interface AliasChange {
  ts: Date;
  kind: AliasChangeKind;
  fromVersionId: string | null;
  fromVersion: number | null;
  toVersionId: string | null;
  toVersion: number | null;
  actor: string;
  reason: string | null;
  /** Every surface the move reached (promotion_history.surfaces); absent where not known. */
  surfaces?: string[];
}

/** A stretch of time during which the alias pointed at one version. */
export interface Stint {
  versionId: string;
  version: number;
  /** When it started; null for the version the alias pointed at before the history's first row. */
  from: Date | null;
  /** When the alias moved away; null while it still points here. */
  until: Date | null;
  /** How it started: null for the version before the first row. */
  kind: AliasChangeKind | null;
  by: string | null;
  reason: string | null;
  /** The surfaces the move that started it reached, when known. */
  surfaces?: string[];
}

/**
 * Folds alias rows (oldest first) into stints of distinct versions. A row whose target is the
 * version already pointed at is a no-op and is skipped; the version the first row moved away from
 * becomes an opening stint of unknown start.
 */
export function stintsOf(changes: readonly AliasChange[]): Stint[] {
  const stints: Stint[] = [];
  const first = changes[0];
  if (first?.fromVersionId && first.fromVersion !== null) {
    stints.push({ versionId: first.fromVersionId, version: first.fromVersion, from: null, until: null, kind: null, by: null, reason: null });
  }
  let current: string | null = stints[0]?.versionId ?? null;
  for (const change of changes) {
    if (change.toVersionId === current) continue;
    const open = stints.at(-1);
    if (open && open.until === null && current !== null) open.until = change.ts;
    current = change.toVersionId;
    if (change.toVersionId !== null && change.toVersion !== null) {
      stints.push({ versionId: change.toVersionId, version: change.toVersion, from: change.ts, until: null, kind: change.kind, by: change.actor, reason: change.reason, surfaces: change.surfaces });
    }
  }
  return stints;
}

export interface RollbackOption {
  versionId: string;
  version: number;
  /** The end of its latest stint: when the alias last moved away from it; null for a version the history never shows serving. */
  servedUntil: Date | null;
  /** Who moved the alias away from it then. */
  movedBy: string | null;
}

/**
 * Every earlier version the alias pointed at, most recently served first, excluding the current
 * one: on-call may roll back to any of them.
 */
export function rollbackOptions(stints: readonly Stint[], changes: readonly AliasChange[], currentVersionId: string | null): RollbackOption[] {
  const seen = new Set<string>(currentVersionId ? [currentVersionId] : []);
  const options: RollbackOption[] = [];
  for (let i = stints.length - 1; i >= 0; i--) {
    const s = stints[i]!;
    if (seen.has(s.versionId) || s.until === null) continue;
    seen.add(s.versionId);
    const leaving = changes.find((c) => c.ts.getTime() === s.until!.getTime() && c.fromVersionId === s.versionId);
    options.push({ versionId: s.versionId, version: s.version, servedUntil: s.until, movedBy: leaving?.actor ?? null });
  }
  return options;
}

/** A version of the model, as the registry lists it, with how its canaries went. */
export interface RegisteredVersion {
  versionId: string;
  version: number;
  /**
   * When its latest failed canary ended (its judge rolled it back); null or
   * absent: none failed. A canary that failed after the version last served says it is bad now.
   */
  canaryFailedAt?: Date | null;
}

/** The one-click rollback target and what it rests on. */
export interface DefaultRollback {
  versionId: string;
  version: number;
  /** "history": the alias served it before (`stint` is its latest stint); a version it never served is never a default target. */
  basis: "history";
  stint: Stint | null;
}

/** Why a version the alias served is not the one-click target. */
export type SkippedReason = "rolled_back_from" | "canary_failed";

/**
 * The versions the alias served before, newest first, each with why it is or is not a one-click
 * target: skipped when its latest stint ended in a rollback, or when a canary of it failed after
 * that stint (its judge rolled it back).
 */
function servedCandidates(stints: readonly Stint[], currentVersionId: string, registered: readonly RegisteredVersion[]) {
  const failedAt = new Map(registered.filter((v) => v.canaryFailedAt).map((v) => [v.versionId, v.canaryFailedAt!]));
  const seen = new Set<string>();
  const out: Array<{ stint: Stint; skipped: SkippedReason | null }> = [];
  for (let i = stints.length - 1; i >= 0; i--) {
    const s = stints[i]!;
    if (seen.has(s.versionId)) continue;
    seen.add(s.versionId);
    if (s.versionId === currentVersionId) continue;
    const failed = failedAt.get(s.versionId);
    // Only a version's latest stint says how it was last left.
    const skipped: SkippedReason | null = stints[i + 1]?.kind === "rollback" ? "rolled_back_from"
      : failed && (s.from === null || failed.getTime() > s.from.getTime()) ? "canary_failed" : null;
    out.push({ stint: s, skipped });
  }
  return out;
}

/**
 * The one-click rollback target: the most recently served version that is not the current one, was
 * not rolled back away from (its latest stint did not end in a rollback) and whose canary did not
 * fail since it last served. So rolling back twice walks further back (v3 → v2 → v1), never
 * re-ships what was just rolled back, and no-op moves never hide the target (v2 → v1, v1 again: the
 * target stays v2). A version the alias never served (the registry's other versions, a candidate
 * whose canary failed) is never a default target: its artifact and quality are unproven here (a
 * press walked 13 → 11 → 10 → 9, a model scoring NaN, that way). Null when no served version
 * qualifies: the on-call then picks one explicitly (noDefaultRollbackReason says why).
 */
export function defaultRollbackTarget(stints: readonly Stint[], currentVersionId: string | null, registered: readonly RegisteredVersion[] = []): DefaultRollback | null {
  if (!currentVersionId) return null;
  const found = servedCandidates(stints, currentVersionId, registered).find((c) => c.skipped === null)?.stint;
  return found ? { versionId: found.versionId, version: found.version, basis: "history", stint: found } : null;
}

/**
 * Why there is no one-click target (defaultRollbackTarget is null), in words for the page; null
 * when there is one.
 */
export function noDefaultRollbackReason(stints: readonly Stint[], currentVersionId: string | null, registered: readonly RegisteredVersion[] = []): string | null {
  if (!currentVersionId) return "the alias points at no version";
  const candidates = servedCandidates(stints, currentVersionId, registered);
  if (candidates.some((c) => c.skipped === null)) return null;
  if (candidates.length === 0) return "no earlier version served this alias (versions that never served it are not offered: their artifact and quality are unproven)";
  const why = candidates.map((c) => `v${c.stint.version} ${c.skipped === "rolled_back_from" ? "was rolled back from" : "failed its canary since"}`);
  return `every version that served this alias before is ruled out (${why.join(", ")})`;
}

/** The version the alias pointed at, at `at`, from its stints; undefined when the history does not reach back that far. */
export function versionAt(stints: readonly Stint[], changes: readonly AliasChange[], at: Date): Stint | null | undefined {
  if (changes.length === 0 || at < changes[0]!.ts) return stints[0]?.from === null ? stints[0] : undefined;
  // The last row at or before `at` says what the alias pointed at then (null: cleared).
  let last: AliasChange | undefined;
  for (const c of changes) if (c.ts <= at) last = c;
  if (!last || last.toVersionId === null) return null;
  for (let i = stints.length - 1; i >= 0; i--) {
    const s = stints[i]!;
    if (s.versionId === last.toVersionId && (s.from === null || s.from <= at)) return s;
  }
  return null;
}
