import { describe, expect, it } from "vitest";
import { AUDIT_ACTION_NAMES } from "./actions";
import { NOT_CHANGES, REACH_RECORDING_ACTIONS, RECENT_CHANGE_ACTIONS, isRecentChange, isRecentChangeEntry } from "./recentChanges";

describe("Recent changes: what touches serving, without entries that change nothing", () => {
  it("keeps alias moves, kill switches, shadow, cascade, experiment and canary changes", () => {
    for (const action of ["model.alias.set", "model.alias.clear", "surface.kill_switch", "surface.shadow", "surface.stage2", "experiment.ship", "rollout.start", "rollout.advance", "rollout.paused", "rollout.promoted", "rollout.rolled_back", "rollout.aborted"]) {
      expect([action, isRecentChange(action)]).toEqual([action, true]);
    }
  });

  it("leaves out \"Analyse now\" (its decisions have their own entries) and what does not touch serving", () => {
    expect(isRecentChange("rollout.analysed")).toBe(false);
    for (const action of ["user.sign_in", "api_key.create", "webhook.test", "model.version.create", "model.create", "change_request.approve"]) {
      expect([action, isRecentChange(action)]).toEqual([action, false]);
    }
  });

  it("leaves out an alias move recorded as reaching no surface; keeps one that reached some, and one written before reach was recorded", () => {
    const move = (after: unknown) => ({ action: "model.alias.set", after });
    expect(isRecentChangeEntry(move({ alias: "nightly", versionId: "v2", version: 2, model: "ranker", reached: [] }))).toBe(false);
    expect(isRecentChangeEntry({ action: "model.alias.clear", after: { alias: "nightly", model: "ranker", reached: [] } })).toBe(false);
    expect(isRecentChangeEntry(move({ alias: "production", versionId: "v2", version: 2, model: "ranker", reached: ["search"] }))).toBe(true);
    expect(isRecentChangeEntry(move({ alias: "production", versionId: "v2", version: 2, model: "ranker" }))).toBe(true);
    expect(isRecentChangeEntry(move(null))).toBe(true);
    // Only alias entries are read so; other actions as isRecentChange says.
    expect(isRecentChangeEntry({ action: "surface.kill_switch", after: { killSwitch: true, surface: "search", reached: [] } })).toBe(true);
    expect(isRecentChangeEntry({ action: "rollout.analysed", after: null })).toBe(false);
    for (const action of REACH_RECORDING_ACTIONS) expect(RECENT_CHANGE_ACTIONS).toContain(action);
  });

  it("selects from the trail's vocabulary: every recent-change action is a known one, and nothing left out is", () => {
    expect(RECENT_CHANGE_ACTIONS).toEqual(AUDIT_ACTION_NAMES.filter(isRecentChange));
    expect(RECENT_CHANGE_ACTIONS).toContain("rollout.advance");
    for (const action of NOT_CHANGES) expect(RECENT_CHANGE_ACTIONS).not.toContain(action);
    // Each entry left out is one the prefixes would have taken: otherwise the exclusion names nothing.
    for (const action of NOT_CHANGES) expect(AUDIT_ACTION_NAMES.includes(action) && /^(model\.alias|surface\.|experiment\.|rollout\.)/.test(action)).toBe(true);
  });
});
