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

/**
 * Why a version the alias served is not a rollback target: "rolled_back_from", its latest stint was
 * left by a rollback; "rolled_back_past", a rollback went from a later version to an earlier one
 * over it (v1 → v2 → v3, rollback to v1: v2); "canary_failed", a canary of it failed after its
 * latest stint began (its judge rolled it back).
 */
export type SkippedReason = "rolled_back_from" | "rolled_back_past" | "canary_failed";

/** One version the alias served (its latest stint), and why it is not a rollback target (null: it is one). */
export interface RollbackCandidate {
  stint: Stint;
  skipped: SkippedReason | null;
}

/**
 * The stints the alias's present state rests on, oldest first: a move (alias_move, ship, promotion)
 * stacks its stint on top; a rollback to X unstacks every stint above X's latest one on the stack and
 * puts its own stint of X there (a rollback to a version not on the stack, which older releases
 * allowed, unstacks only the version it left). Returns the stack and the stints a rollback unstacked,
 * each with the rollback that did it ("from": the version it left; "past": one it jumped over).
 */
function rollbackStack(stints: readonly Stint[]) {
  const stack: Stint[] = [];
  const unstacked = new Map<Stint, "rolled_back_from" | "rolled_back_past">();
  for (const s of stints) {
    if (s.kind !== "rollback") {
      stack.push(s);
      continue;
    }
    let at = -1;
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i]!.versionId === s.versionId) { at = i; break; }
    const removed = at >= 0 ? stack.splice(at) : stack.splice(-1);
    // The top of the stack is the version the rollback left; the rest (and X's own older stint) it went past.
    removed.forEach((r, i) => { if (r.versionId !== s.versionId) unstacked.set(r, i === removed.length - 1 ? "rolled_back_from" : "rolled_back_past"); });
    stack.push(s);
  }
  return { stack, unstacked };
}

/**
 * Every version the alias served before, most recently served first, each with why it is or is not
 * a rollback target. A target is a version whose latest stint the present state rests on (it served
 * before the current stint and no rollback has since gone from it or past it: rolling back twice
 * walks v3 → v2 → v1, never re-ships what was rolled back, nor a version newer than the one a
 * rollback went back to), and no canary of it failed after that stint began. The current version is
 * never listed; a version the alias never served is never listed (a rollback goes back to what
 * served; another version is an alias move).
 * @param stints stintsOf the alias's rows; `currentVersionId` what it points at now (null: unset).
 */
export function rollbackCandidates(stints: readonly Stint[], currentVersionId: string | null, registered: readonly RegisteredVersion[] = []): RollbackCandidate[] {
  const failedAt = new Map(registered.filter((v) => v.canaryFailedAt).map((v) => [v.versionId, v.canaryFailedAt!]));
  const { stack, unstacked } = rollbackStack(stints);
  const stacked = new Set(stack);
  const seen = new Set<string>(currentVersionId ? [currentVersionId] : []);
  const out: RollbackCandidate[] = [];
  for (let i = stints.length - 1; i >= 0; i--) {
    const s = stints[i]!;
    // Only a version's latest stint says how it was last left.
    if (seen.has(s.versionId)) continue;
    seen.add(s.versionId);
    // The stint still running is the present state, not a target (the alias cleared: every stint ended).
    if (s.until === null) continue;
    const failed = failedAt.get(s.versionId);
    const skipped: SkippedReason | null = !stacked.has(s) ? (unstacked.get(s) ?? "rolled_back_from")
      : failed && (s.from === null || failed.getTime() > s.from.getTime()) ? "canary_failed" : null;
    out.push({ stint: s, skipped });
  }
  return out;
}

/** Who moved the alias away from `stint` (the row at its end that left its version), or null. */
function movedAwayBy(stint: Stint, changes: readonly AliasChange[]): string | null {
  if (stint.until === null) return null;
  return changes.find((c) => c.ts.getTime() === stint.until!.getTime() && c.fromVersionId === stint.versionId)?.actor ?? null;
}

/**
 * The versions on-call may roll back to (rollbackCandidates that are not skipped), most recently
 * served first: the Serving history page's buttons and `oncall.rollback`'s `toVersion` accept
 * exactly these; the first is the one-click target (defaultRollbackTarget).
 */
export function rollbackOptions(stints: readonly Stint[], changes: readonly AliasChange[], currentVersionId: string | null, registered: readonly RegisteredVersion[] = []): RollbackOption[] {
  return rollbackCandidates(stints, currentVersionId, registered)
    .filter((c) => c.skipped === null)
    .map(({ stint: s }) => ({ versionId: s.versionId, version: s.version, servedUntil: s.until, movedBy: movedAwayBy(s, changes) }));
}

/**
 * The one-click rollback target: the first of rollbackOptions, the most recently served version the
 * present state rests on whose canary did not fail since it last served. So rolling back twice walks
 * further back (v3 → v2 → v1), never re-ships what was just rolled back (nor what a rollback went
 * past), and no-op moves never hide the target (v2 → v1, v1 again: the target stays v2). A version
 * the alias never served (the registry's other versions, a candidate whose canary failed) is never a
 * target: its artifact and quality are unproven here (a press walked 13 → 11 → 10 → 9, a model
 * scoring NaN, that way). Null when no served version qualifies (noDefaultRollbackReason says why):
 * moving the alias elsewhere is then an alias move, which approvals govern.
 */
export function defaultRollbackTarget(stints: readonly Stint[], currentVersionId: string | null, registered: readonly RegisteredVersion[] = []): DefaultRollback | null {
  if (!currentVersionId) return null;
  const found = rollbackCandidates(stints, currentVersionId, registered).find((c) => c.skipped === null)?.stint;
  return found ? { versionId: found.versionId, version: found.version, basis: "history", stint: found } : null;
}

/** A skipped candidate in words: "v3 was rolled back from". */
export function skippedWords(c: RollbackCandidate): string {
  const why = c.skipped === "rolled_back_from" ? "was rolled back from" : c.skipped === "rolled_back_past" ? "was rolled back past" : "failed its canary since";
  return `v${c.stint.version} ${why}`;
}

/**
 * Why there is no one-click target (defaultRollbackTarget is null), in words for the page; null
 * when there is one.
 */
export function noDefaultRollbackReason(stints: readonly Stint[], currentVersionId: string | null, registered: readonly RegisteredVersion[] = []): string | null {
  if (!currentVersionId) return "the alias points at no version";
  const candidates = rollbackCandidates(stints, currentVersionId, registered);
  if (candidates.some((c) => c.skipped === null)) return null;
  if (candidates.length === 0) return "no earlier version served this alias (versions that never served it are not offered: their artifact and quality are unproven)";
  return `every version that served this alias before is ruled out (${candidates.map(skippedWords).join(", ")})`;
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

/** The newest row of one cascade stage's alias that changed what it served (no-op moves left out). */
export interface StageLastChange {
  stage: 1 | 2;
  /** Its write order (promotion_history.id: the order moves happened, under the model's lock); null: the alias never moved. */
  order: bigint | null;
  kind: AliasChangeKind | null;
}

/**
 * Which stage of a surface's cascade the one-click rollback moves: the stage whose standing change
 * was written last. A change stands while it is its alias's newest one and is not itself a rollback
 * (a stage already rolled back is not rolled back further by a second press on another stage's
 * regression: that would go one version past what anyone chose). Stage 1 when no change stands,
 * and for a surface without stage 2. Null when stage 2 was reconfigured (another model or alias,
 * `stage2ConfiguredOrder`: that row's write order) after every alias change of both stages, rollbacks
 * included: the newest change
 * is a configuration, which no alias move undoes (stage 1's alias had not changed, and the newly
 * configured alias's own history is not this surface's regression).
 * Example: stage 2 moved v1 → v2 after stage 1's last move → 2; then stage 2 rolled back → 1.
 */
export function rollbackStageOf(stages: readonly StageLastChange[], stage2ConfiguredOrder: bigint | null = null): 1 | 2 | null {
  let best: StageLastChange | null = null;
  for (const s of stages) {
    if (s.order === null || s.kind === null || s.kind === "rollback") continue;
    if (!best || s.order > best.order!) best = s;
  }
  // The configuration is the newest change only when no alias row of either stage (a rollback included) came after it.
  const newest = stages.reduce<bigint | null>((n, s) => (s.order !== null && (n === null || s.order > n) ? s.order : n), null);
  if (stage2ConfiguredOrder !== null && stages.some((s) => s.stage === 2) && (newest === null || stage2ConfiguredOrder > newest)) return null;
  return best?.stage ?? 1;
}
