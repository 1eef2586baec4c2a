import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { actorOf } from "../audit/actor";
import type { Principal } from "../auth/principal";
import type { Db } from "../db/client";
import { PERMISSIONS, ROLES, rolesAllow, SERVING_PERMISSIONS, type Permission } from "../domain/access/permissions";
import type { Context, Meta } from "../trpc";
import { appRouter, createCaller } from "./_app";

// The role × procedure matrix, generated from the router: every procedure declares a permission
// (or "public"), and calling it as each role is allowed or FORBIDDEN exactly as the permission
// table says; anonymous callers get UNAUTHORIZED. The guard runs before input parsing and before
// any database access, so a procedure that lets a caller through fails later for another reason
// (bad input, no database here): anything but UNAUTHORIZED/FORBIDDEN counts as "allowed".

type ProcedureDef = { _def: { meta?: Meta; type: string } };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, ProcedureDef>);

function context(principal: Principal | null): Context {
  // A database that fails every call: the guard must decide before touching it.
  const db = new Proxy({}, { get: () => { throw new Error("no database in this test"); } }) as unknown as Db;
  return { db, principal, actor: actorOf(principal, undefined) };
}

async function outcome(path: string, principal: Principal | null): Promise<"allowed" | "UNAUTHORIZED" | "FORBIDDEN"> {
  const caller = createCaller(context(principal)) as unknown as Record<string, unknown>;
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (input: unknown) => Promise<unknown>;
  try {
    await fn({ __matrix_probe: true });
    return "allowed";
  } catch (error) {
    const code = error instanceof TRPCError ? error.code : null;
    return code === "UNAUTHORIZED" || code === "FORBIDDEN" ? code : "allowed";
  }
}

const person = (role: (typeof ROLES)[number]): Principal => ({ kind: "user", id: `u-${role}`, name: `${role}@test`, displayName: role, roles: [role] });
const servingKey: Principal = { kind: "api_key", id: "k1", name: "serving", keyKind: "serving", roles: [], surfaces: [] };
const automationKey: Principal = { kind: "api_key", id: "k2", name: "ci", keyKind: "automation", roles: ["ml_engineer"], surfaces: [] };

describe("role × procedure matrix", () => {
  it("finds the procedures", () => {
    expect(procedures.length).toBeGreaterThan(40);
  });

  it.each(procedures.map(([path, p]) => [path, p] as const))("%s declares a known permission", (_path, procedure) => {
    const permission = procedure._def.meta?.permission;
    expect(permission === "public" || (permission !== undefined && permission in PERMISSIONS)).toBe(true);
  });

  it("opens only the sign-in page's and the load balancer's needs to anonymous callers", () => {
    const open = procedures.filter(([, p]) => p._def.meta?.permission === "public").map(([path]) => path).sort();
    expect(open).toEqual(["auth.me", "system.health"]);
  });

  const guarded = procedures.filter(([, p]) => p._def.meta?.permission !== "public");

  it.each(guarded.map(([path, p]) => [path, p._def.meta!.permission as Permission] as const))("%s (%s) as each role, key and anonymous", async (path, permission) => {
    expect(await outcome(path, null)).toBe("UNAUTHORIZED");
    for (const role of ROLES) {
      expect([role, await outcome(path, person(role))]).toEqual([role, rolesAllow([role], permission) ? "allowed" : "FORBIDDEN"]);
    }
    expect(["serving key", await outcome(path, servingKey)]).toEqual(["serving key", SERVING_PERMISSIONS.includes(permission) ? "allowed" : "FORBIDDEN"]);
    expect(["automation key", await outcome(path, automationKey)]).toEqual(["automation key", rolesAllow(["ml_engineer"], permission) ? "allowed" : "FORBIDDEN"]);
  });

  it("guards each production lever with the permission of the role that pulls it", () => {
    const declared = Object.fromEntries(procedures.map(([path, p]) => [path, p._def.meta?.permission]));
    expect({
      killSwitch: declared["oncall.killSwitch"], rollback: declared["oncall.rollback"], ship: declared["experiments.ship"],
      setAlias: declared["models.setAlias"], canaryStart: declared["rollouts.start"], canaryAbort: declared["rollouts.abort"],
      canaryPause: declared["rollouts.pause"], canaryResume: declared["rollouts.resume"], canaryPromote: declared["rollouts.promote"],
      shadow: declared["shadow.configure"], invite: declared["users.invite"], disable: declared["users.setDisabled"],
      createKey: declared["apiKeys.create"], revokeKey: declared["apiKeys.revoke"], rerank: declared["rerank.rank"], events: declared["events.record"],
      requestData: declared["shadow.disagreements"], webhooks: declared["webhooks.create"], deliveries: declared["webhooks.deliveries"],
    }).toEqual({
      killSwitch: "oncall.killSwitch", rollback: "oncall.rollback", ship: "experiments.ship", setAlias: "models.write",
      canaryStart: "canary.start", canaryAbort: "canary.abort",
      canaryPause: "canary.abort", canaryResume: "canary.resume", canaryPromote: "canary.promote", shadow: "shadow.write", invite: "users.manage", disable: "users.manage",
      createKey: "keys.manage", revokeKey: "keys.manage", rerank: "rerank.serve", events: "events.write", requestData: "requests.read",
      webhooks: "settings.write", deliveries: "settings.write",
    });
  });

  it("gives a viewer no lever: every mutation is forbidden to them", async () => {
    const mutations = guarded.filter(([, p]) => p._def.type === "mutation");
    expect(mutations.length).toBeGreaterThan(15);
    for (const [path] of mutations) expect([path, await outcome(path, person("viewer"))]).toEqual([path, "FORBIDDEN"]);
  });
});
