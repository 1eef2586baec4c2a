import { describe, expect, it } from "vitest";
import { deployMarkerOf } from "./deployMarkers";

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
