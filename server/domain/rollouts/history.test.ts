import { describe, expect, it } from "vitest";
import { defaultRollbackTarget, rollbackStageOf, noDefaultRollbackReason, rollbackCandidates, rollbackOptions, stintsOf, versionAt, type AliasChange, type AliasChangeKind, type RegisteredVersion } from "./history";

const t = (minute: number) => new Date(Date.UTC(2026, 10, 29, 12, minute));
const move = (minute: number, from: number | null, to: number | null, kind: AliasChangeKind = "alias_move", actor = "ml@x"): AliasChange => ({
  ts: t(minute), kind, fromVersionId: from === null ? null : `id-v${from}`, fromVersion: from, toVersionId: to === null ? null : `id-v${to}`, toVersion: to, actor, reason: null,
});
const versions = (stints: ReturnType<typeof stintsOf>) => stints.map((s) => s.version);

describe("promotion history of an alias", () => {
  it("issue #14 point 1: production v2 → v1, then v1 set again (a no-op move or a ship of the serving variant): the rollback target stays v2", () => {
    for (const again of ["alias_move", "ship"] as const) {
      const changes = [move(0, null, 2), move(10, 2, 1), move(20, 1, 1, again)];
      const stints = stintsOf(changes);
      expect(versions(stints)).toEqual([2, 1]);
      expect(defaultRollbackTarget(stints, "id-v1")).toMatchObject({ version: 2, basis: "history", stint: { from: t(0), until: t(10) } });
      expect(rollbackOptions(stints, changes, "id-v1").map((o) => o.version)).toEqual([2]);
    }
  });

  it("rolling back twice walks further back instead of re-shipping what was rolled back", () => {
    const changes = [move(0, null, 1), move(1, 1, 2), move(2, 2, 3), move(3, 3, 2, "rollback", "oncall@x")];
    const stints = stintsOf(changes);
    expect(versions(stints)).toEqual([1, 2, 3, 2]);
    expect(defaultRollbackTarget(stints, "id-v2")?.version).toBe(1);
    // v3, just rolled back from, is no option: re-serving it is an alias move (lever break test, finding 1).
    expect(rollbackOptions(stints, changes, "id-v2")).toEqual([{ versionId: "id-v1", version: 1, servedUntil: t(1), movedBy: "ml@x" }]);
    expect(rollbackCandidates(stints, "id-v2").map((c) => [c.stint.version, c.skipped])).toEqual([[3, "rolled_back_from"], [1, null]]);
  });

  it("lever break test (finding 1): a rollback's options are the versions the present state rests on, never one a rollback left or went past", () => {
    const failed = (version: number, minute: number): RegisteredVersion[] => [{ versionId: `id-v${version}`, version, canaryFailedAt: t(minute) }];
    const table: Array<{ name: string; changes: AliasChange[]; current: number; registered?: RegisteredVersion[]; options: number[]; skipped: Array<[number, string]> }> = [
      // The break test: production v3 → rollback to v2: v3 (newer, just rolled back from) is no option; v1 is.
      { name: "v3 rolled back to v2", changes: [move(0, null, 1), move(1, 1, 2), move(2, 2, 3), move(3, 3, 2, "rollback")], current: 2, options: [1], skipped: [[3, "rolled_back_from"]] },
      // An explicit rollback v3 → v1 went past v2: v2 is newer than what serves, so no option either (it was a default target before).
      { name: "explicit rollback past a version", changes: [move(0, null, 1), move(1, 1, 2), move(2, 2, 3), move(3, 3, 1, "rollback")], current: 1, options: [], skipped: [[3, "rolled_back_from"], [2, "rolled_back_past"]] },
      // …but the versions below it stay: v0 served before v1.
      { name: "explicit rollback keeps what is below", changes: [move(0, null, 0), move(1, 0, 1), move(2, 1, 2), move(3, 2, 3), move(4, 3, 1, "rollback")], current: 1, options: [0], skipped: [[3, "rolled_back_from"], [2, "rolled_back_past"]] },
      // Shipped again by a move after the rollback: a move stacks it, so it is an option again.
      { name: "reshipped after a rollback", changes: [move(0, null, 1), move(1, 1, 2), move(2, 2, 1, "rollback"), move(3, 1, 2), move(4, 2, 3)], current: 3, options: [2, 1], skipped: [] },
      // Any version the state rests on may be chosen, not only the one-click target.
      { name: "a deeper version", changes: [move(0, null, 1), move(1, 1, 2), move(2, 2, 3), move(3, 3, 4)], current: 4, options: [3, 2, 1], skipped: [] },
      // A version that served before X's earlier stint but whose latest stint a rollback went past: v1 → v2 → v1 → v3, rollback to v2.
      { name: "a version whose latest stint was rolled back past", changes: [move(0, null, 1), move(1, 1, 2), move(2, 2, 1), move(3, 1, 3), move(4, 3, 2, "rollback")], current: 2, options: [], skipped: [[3, "rolled_back_from"], [1, "rolled_back_past"]] },
      // A canary of v2 failed after v2 last served: no option (it was offered before).
      { name: "canary failed since", changes: [move(0, null, 1), move(1, 1, 2), move(2, 2, 3)], current: 3, registered: failed(2, 5), options: [1], skipped: [[2, "canary_failed"]] },
      // A rollback to a version not on the stack (older releases offered never-served versions): only the version it left is ruled out.
      { name: "a legacy rollback to a version that never served", changes: [move(0, null, 1), move(1, 1, 3), move(2, 3, 2, "rollback")], current: 2, options: [1], skipped: [[3, "rolled_back_from"]] },
    ];
    for (const row of table) {
      const stints = stintsOf(row.changes);
      const current = `id-v${row.current}`;
      expect(rollbackOptions(stints, row.changes, current, row.registered).map((o) => o.version), row.name).toEqual(row.options);
      expect(rollbackCandidates(stints, current, row.registered).filter((c) => c.skipped).map((c) => [c.stint.version, c.skipped]), row.name).toEqual(row.skipped);
      // The one-click target is always the first option.
      expect(defaultRollbackTarget(stints, current, row.registered)?.version ?? null, row.name).toBe(row.options[0] ?? null);
    }
    expect(noDefaultRollbackReason(stintsOf(table[1]!.changes), "id-v1")).toBe("every version that served this alias before is ruled out (v3 was rolled back from, v2 was rolled back past)");
  });

  it("issue #14 break test: after a rollback v3 → v2, the next one-click target is v1, never v3 that was just rolled back", () => {
    const registered = [1, 2, 3].map((v) => ({ versionId: `id-v${v}`, version: v }));
    // The seed creates production at v2 (v1 never served it); v3 ships and is rolled back.
    const seeded = stintsOf([move(0, null, 2), move(1, 2, 3), move(2, 3, 2, "rollback", "oncall@x")]);
    expect(defaultRollbackTarget(seeded, "id-v2")).toBeNull();
    // v1 never served production: not a default target either (finding 2 of the rollouts break test).
    expect(defaultRollbackTarget(seeded, "id-v2", registered)).toBeNull();
    // v3 had served production before v2 (v3 → v2 → v3 → rollback to v2): still never v3.
    const back = stintsOf([move(1, 3, 2), move(2, 2, 3), move(3, 3, 2, "rollback")]);
    expect(defaultRollbackTarget(back, "id-v2", registered)).toBeNull();
    // v1 did serve: the history's own stint is the target.
    const full = stintsOf([move(0, null, 1), move(1, 1, 2), move(2, 2, 3), move(3, 3, 2, "rollback")]);
    expect(defaultRollbackTarget(full, "id-v2", registered)).toMatchObject({ version: 1, basis: "history", stint: { from: t(0), until: t(1) } });
    // A version rolled back from, then shipped again and left by a plain move, is a target again.
    const reshipped = stintsOf([move(0, null, 1), move(1, 1, 2), move(2, 2, 1, "rollback"), move(3, 1, 2), move(4, 2, 3)]);
    expect(defaultRollbackTarget(reshipped, "id-v3", registered)?.version).toBe(2);
    // Two rollbacks in a row (v4 and then v3 rolled back): v2's earlier stint does not count, v1 does.
    const twice = stintsOf([move(0, null, 1), move(1, 1, 2), move(2, 2, 3), move(3, 3, 2, "rollback"), move(4, 2, 4), move(5, 4, 2, "rollback")]);
    expect(defaultRollbackTarget(twice, "id-v2", [...registered, { versionId: "id-v4", version: 4 }])).toMatchObject({ version: 1, basis: "history" });
    // Nothing below the oldest version.
    expect(defaultRollbackTarget(stintsOf([move(0, null, 1), move(1, 1, 2), move(2, 2, 1, "rollback")]), "id-v1", registered)).toBeNull();
  });

  it("rollouts break test (finding 2): the one-click target is never a version that never served the alias, nor one whose canary failed since it served; none qualifies: no target, and the reason says why", () => {
    // Versions 1…13 registered; v12's canary failed (its artifact did not load) and v9, v10, v11 never served production.
    const failedAt = (minute: number) => t(minute);
    const registry = (failed: Record<number, number> = {}): RegisteredVersion[] => Array.from({ length: 13 }, (_, i) => ({
      versionId: `id-v${i + 1}`, version: i + 1, canaryFailedAt: failed[i + 1] === undefined ? null : failedAt(failed[i + 1]!),
    }));
    const table: Array<{ name: string; changes: AliasChange[]; current: number; failed?: Record<number, number>; target: number | null; reason?: RegExp }> = [
      // The break test: production v3 → v13 (a promotion), v12's canary failed before: never v12, nor v11, v10, v9 (never served): v3.
      { name: "walks to the last served version, not down the registry", changes: [move(0, null, 3), move(5, 3, 13, "promotion")], current: 13, failed: { 12: 4 }, target: 3 },
      // Pressed again from v3 (v13 rolled back): nothing else served, so no default target (before: 11, 10, 9 …).
      { name: "after rolling back to the only other served version", changes: [move(0, null, 3), move(5, 3, 13, "promotion"), move(6, 13, 3, "rollback")], current: 3, target: null, reason: /v13 was rolled back from/ },
      { name: "production created at its first version: nothing served before", changes: [move(0, null, 13)], current: 13, target: null, reason: /no earlier version served this alias/ },
      // v5 served, then v6; a later canary of v5 (started to go back) failed: v5 is skipped, v4 (served before it) is the target.
      { name: "a version whose canary failed after it served", changes: [move(0, null, 4), move(1, 4, 5), move(2, 5, 6)], current: 6, failed: { 5: 3 }, target: 4 },
      // …but a canary that failed before the version was deliberately served again does not rule it out.
      { name: "a canary failure older than the version's last stint", changes: [move(0, null, 4), move(2, 4, 5), move(3, 5, 6)], current: 6, failed: { 5: 1 }, target: 5 },
      { name: "every served version rolled back from or failed", changes: [move(0, null, 4), move(1, 4, 5), move(2, 5, 4, "rollback"), move(3, 4, 6)], current: 6, failed: { 4: 4 }, target: null, reason: /^every version that served this alias before is ruled out \(v4 failed its canary since, v5 was rolled back from\)$/ },
    ];
    for (const row of table) {
      const stints = stintsOf(row.changes);
      const current = `id-v${row.current}`;
      expect(defaultRollbackTarget(stints, current, registry(row.failed))?.version ?? null, row.name).toBe(row.target);
      const reason = noDefaultRollbackReason(stints, current, registry(row.failed));
      if (row.reason) expect(reason, row.name).toMatch(row.reason);
      else expect(reason, row.name).toBeNull();
      // Whatever the target, it served the alias: basis "history" only.
      if (row.target !== null) expect(defaultRollbackTarget(stints, current, registry(row.failed))?.basis, row.name).toBe("history");
    }
  });

  it("has no rollback target when the current version was only rolled back to, or never moved onto", () => {
    const changes = [move(1, 1, 2), move(2, 2, 1, "rollback")];
    const stints = stintsOf(changes);
    expect(versions(stints)).toEqual([1, 2, 1]);
    expect(stints[0]).toMatchObject({ from: null, until: t(1), kind: null });
    expect(defaultRollbackTarget(stints, "id-v1")).toBeNull();
    // v2 was rolled back from: not an option either (serving it again is an alias move).
    expect(rollbackOptions(stints, changes, "id-v1")).toEqual([]);
    expect(noDefaultRollbackReason(stints, "id-v1")).toBe("every version that served this alias before is ruled out (v2 was rolled back from)");
    expect(defaultRollbackTarget(stintsOf([]), "id-v1")).toBeNull();
    expect(rollbackOptions([], [], "id-v1")).toEqual([]);
  });

  it("answers what the alias pointed at at any time the history covers", () => {
    const changes = [move(10, 1, 2), move(20, 2, 3), move(30, 3, null), move(40, null, 3)];
    const stints = stintsOf(changes);
    expect(versions(stints)).toEqual([1, 2, 3, 3]);
    expect(versionAt(stints, changes, t(5))).toMatchObject({ version: 1, from: null });
    expect(versionAt(stints, changes, t(10))?.version).toBe(2);
    expect(versionAt(stints, changes, t(25))).toMatchObject({ version: 3, from: t(20), until: t(30) });
    expect(versionAt(stints, changes, t(35))).toBeNull();
    expect(versionAt(stints, changes, t(45))).toMatchObject({ version: 3, from: t(40) });
    // A history that starts with the alias's creation says nothing of the time before it.
    expect(versionAt(stintsOf([move(10, null, 1)]), [move(10, null, 1)], t(5))).toBeUndefined();
  });
});

describe("rollbackStageOf: which stage of a cascade the one-click rollback moves", () => {
  const stage = (s: 1 | 2, order: number | null, kind: AliasChangeKind | null = "alias_move") => ({ stage: s, order: order === null ? null : BigInt(order), kind });
  it("rolls back the stage that changed last (stage 2's alias moved after stage 1's)", () => {
    expect(rollbackStageOf([stage(1, 10), stage(2, 12)])).toBe(2);
    expect(rollbackStageOf([stage(1, 14, "ship"), stage(2, 12)])).toBe(1);
    expect(rollbackStageOf([stage(1, 10), stage(2, 12, "promotion")])).toBe(2);
  });
  it("a stage already rolled back does not stand: the other stage's change is the one to undo", () => {
    // Stage 2 regressed at 12, on-call rolled stage 1 back at 14 by mistake: the one click now moves stage 2.
    expect(rollbackStageOf([stage(1, 14, "rollback"), stage(2, 12)])).toBe(2);
    // Both rolled back: nothing stands, stage 1 (the serving alias) as before cascades existed.
    expect(rollbackStageOf([stage(1, 14, "rollback"), stage(2, 16, "rollback")])).toBe(1);
  });
  it("stage 2 reconfigured after every standing change: no stage takes the one click (a configuration is no alias move)", () => {
    expect(rollbackStageOf([stage(1, 10), stage(2, null, null)], 12n)).toBeNull();
    expect(rollbackStageOf([stage(1, 10), stage(2, 14)], 12n)).toBe(2);
    expect(rollbackStageOf([stage(1, 14), stage(2, null, null)], 12n)).toBe(1);
    // A rollback after the configuration is the newest change: no configuration to speak of, stage 1 as ever.
    expect(rollbackStageOf([stage(1, 14, "rollback"), stage(2, null, null)], 12n)).toBe(1);
    // Without stage 2 now (removed), stage 1 as ever.
    expect(rollbackStageOf([stage(1, 10)], 12n)).toBe(1);
  });
  it("stage 1 without stage 2, or when no alias ever moved", () => {
    expect(rollbackStageOf([stage(1, 3)])).toBe(1);
    expect(rollbackStageOf([stage(1, null, null), stage(2, null, null)])).toBe(1);
    expect(rollbackStageOf([stage(1, null, null), stage(2, 5)])).toBe(2);
  });
});
