import { describe, expect, it } from "vitest";
import { DEPLOY_MARKER_ACTIONS, UNCONDITIONAL_MARKER_ACTIONS, deployMarkerOf, markedAliasesOf } from "./deployMarkers";

const base = { before: null, after: null, reason: null };
const aliases = { serving: "production", fallback: "fallback" };

describe("deployMarkerOf", () => {
  it("labels alias moves, rollbacks, kill switches and canary outcomes", () => {
    const move = { ...base, action: "model.alias.set", before: { alias: "production", version: 2 }, after: { alias: "production", version: 3 } };
    expect(deployMarkerOf({ ...move, reason: "ship v3" }, aliases)).toEqual({ kind: "deploy", label: "v2 → v3" });
    expect(deployMarkerOf({ ...move, before: { alias: "production", version: 3 }, after: { alias: "production", version: 2 }, reason: "rollback: CTR dropped" }, aliases))
      .toEqual({ kind: "rollback", label: "rollback v3 → v2" });
    expect(deployMarkerOf({ ...base, action: "model.alias.set", after: { alias: "production", version: 1 } }, aliases)).toEqual({ kind: "deploy", label: "none → v1" });
    expect(deployMarkerOf({ ...base, action: "model.alias.set", before: { version: 1 }, after: { alias: "fallback", version: 2 } }, aliases)).toEqual({ kind: "deploy", label: "fallback v1 → v2" });
    expect(deployMarkerOf({ ...base, action: "surface.kill_switch", after: { killSwitch: true } }, aliases)).toEqual({ kind: "kill_switch", label: "kill switch on" });
    expect(deployMarkerOf({ ...base, action: "surface.kill_switch", after: { killSwitch: false } }, aliases)).toEqual({ kind: "kill_switch", label: "kill switch off" });
    expect(deployMarkerOf({ ...base, action: "rollout.rolled_back" }, aliases)).toEqual({ kind: "canary", label: "canary rolled back" });
  });

  it("ignores what does not change serving", () => {
    expect(deployMarkerOf({ ...base, action: "model.alias.set", after: { alias: "shadow", version: 3 } }, aliases)).toBeNull();
    expect(deployMarkerOf({ ...base, action: "model.alias.set", after: { alias: "canary", version: 3 } }, aliases)).toBeNull();
    expect(deployMarkerOf({ ...base, action: "model.alias.set", after: { alias: "fallback", version: 3 } }, { serving: "production", fallback: null })).toBeNull();
    expect(deployMarkerOf({ ...base, action: "surface.shadow" }, aliases)).toBeNull();
    expect(deployMarkerOf({ ...base, action: "experiment.start" }, aliases)).toBeNull();
  });
});

describe("markedAliasesOf: the alias moves a reader selects before it limits the rows", () => {
  it("names the serving alias, and the fallback alias when the surface has one", () => {
    expect(markedAliasesOf({ serving: "production", fallback: "fallback" })).toEqual(["production", "fallback"]);
    expect(markedAliasesOf({ serving: "production", fallback: null })).toEqual(["production"]);
    expect(markedAliasesOf({ serving: "production", fallback: "production" })).toEqual(["production"]);
  });

  it("agrees with deployMarkerOf: an alias move is a marker exactly when its alias is named", () => {
    for (const surface of [aliases, { serving: "production", fallback: null }, { serving: "stable", fallback: "production" }]) {
      for (const alias of ["production", "fallback", "stable", "nightly", "shadow", "canary@search"]) {
        const marker = deployMarkerOf({ ...base, action: "model.alias.set", after: { alias, version: 2 } }, surface);
        expect([alias, marker !== null]).toEqual([alias, markedAliasesOf(surface).includes(alias)]);
      }
    }
  });

  it("leaves only the alias move to be selected by alias: every other marker action marks whatever it says", () => {
    expect([...UNCONDITIONAL_MARKER_ACTIONS, "model.alias.set"].sort()).toEqual([...DEPLOY_MARKER_ACTIONS].sort());
    for (const action of UNCONDITIONAL_MARKER_ACTIONS) expect(deployMarkerOf({ ...base, action }, aliases)).not.toBeNull();
  });
});
