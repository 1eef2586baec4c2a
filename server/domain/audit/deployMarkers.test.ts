import { describe, expect, it } from "vitest";
import { deployMarkerOf } from "./deployMarkers";

const base = { before: null, after: null, reason: null, surfaces: ["search"] };

describe("deployMarkerOf", () => {
  it("labels alias moves, rollbacks, kill switches and canary outcomes", () => {
    const move = { ...base, action: "model.alias.set", before: { alias: "production", version: 2 }, after: { alias: "production", version: 3 } };
    expect(deployMarkerOf({ ...move, reason: "ship v3" })).toEqual({ kind: "deploy", label: "v2 → v3" });
    expect(deployMarkerOf({ ...move, before: { alias: "production", version: 3 }, after: { alias: "production", version: 2 }, reason: "rollback: CTR dropped" }))
      .toEqual({ kind: "rollback", label: "rollback v3 → v2" });
    expect(deployMarkerOf({ ...base, action: "model.alias.set", after: { version: 1 } })).toEqual({ kind: "deploy", label: "none → v1" });
    expect(deployMarkerOf({ ...base, action: "surface.kill_switch", after: { killSwitch: true } })).toEqual({ kind: "kill_switch", label: "kill switch on" });
    expect(deployMarkerOf({ ...base, action: "surface.kill_switch", after: { killSwitch: false } })).toEqual({ kind: "kill_switch", label: "kill switch off" });
    expect(deployMarkerOf({ ...base, action: "rollout.rolled_back" })).toEqual({ kind: "canary", label: "canary rolled back" });
  });

  it("ignores what does not change serving", () => {
    expect(deployMarkerOf({ ...base, action: "model.alias.set", surfaces: [], after: { alias: "shadow", version: 3 } })).toBeNull();
    expect(deployMarkerOf({ ...base, action: "surface.shadow" })).toBeNull();
    expect(deployMarkerOf({ ...base, action: "experiment.start" })).toBeNull();
  });
});
