import { describe, expect, it } from "vitest";
import { missingPermissionReason, PERMISSION_NAMES, permissionsOf, rolesAllow, ROLES } from "./permissions";

describe("permissions", () => {
  it("gives admins every permission and viewers only reading", () => {
    expect(permissionsOf(["admin"])).toEqual(PERMISSION_NAMES);
    expect(permissionsOf(["viewer"])).toEqual(["console.read", "audit.read"]);
  });

  it("lets a person hold several roles", () => {
    expect(rolesAllow(["pm"], "oncall.rollback")).toBe(false);
    expect(rolesAllow(["pm", "oncall"], "oncall.rollback")).toBe(true);
    expect(rolesAllow(["pm", "oncall"], "experiments.ship")).toBe(true);
  });

  it("keeps the levers apart: on-call cannot ship, product managers cannot pull the kill switch", () => {
    expect(rolesAllow(["oncall"], "experiments.ship")).toBe(false);
    expect(rolesAllow(["pm"], "oncall.killSwitch")).toBe(false);
    expect(rolesAllow(["ml_engineer"], "canary.start")).toBe(true);
    expect(rolesAllow(["oncall"], "canary.abort")).toBe(true);
    expect(rolesAllow(["oncall"], "canary.start")).toBe(false);
  });

  it("grants nothing to no roles", () => {
    for (const p of PERMISSION_NAMES) expect(rolesAllow([], p)).toBe(false);
    expect(ROLES).toContain("viewer");
  });

  it("says which roles a missing permission needs", () => {
    expect(missingPermissionReason("oncall.killSwitch")).toBe("Needs the On-call or Admin role to turn a surface's kill switch on or off");
    expect(missingPermissionReason("users.manage")).toBe("Needs the Admin role to invite people, change their roles and disable them");
  });
});
