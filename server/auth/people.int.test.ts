import * as authRoute from "@/app/api/auth/[...all]/route";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../db/client";
import type { Role } from "../domain/access/permissions";
import { createCaller } from "../routers/_app";
import { failAudit } from "../testing/auditFaults";
import { callerAs, callerAsPerson } from "../testing/callers";
import { contextFor, createContext } from "../trpc";
import { authorizeHttp } from "./http";
import { authenticate } from "./authenticate";
import { ONE_TIME_PASSWORD_MESSAGE } from "./principal";
import { getAuth } from "./auth";
import { ensureFirstAdmin } from "./firstRun";
import { createUser } from "./users";

// Break tests of people and keys, through the console's procedures and better-auth's HTTP handler
// on real PostgreSQL: concurrent demotions of the last two admins, changes whose audit entry fails,
// sign-in answers for disabled accounts, revoking twice, self-service password changes, key names.

const REASON = "break test";

/** A POST to better-auth through its route (app/api/auth/[...all]), which answers a fault of ours as the house does. */
function authRequest(path: string, body: unknown, headers: Record<string, string> = {}) {
  return authRoute.POST(
    new Request(`http://127.0.0.1:3000/api/auth${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://127.0.0.1:3000", host: "127.0.0.1:3000", ...headers },
      body: JSON.stringify(body),
    }),
  );
}

// A fresh client address per attempt: the sign-in rate limit (5 a minute per address) must not answer instead.
let address = 0;
const signIn = (email: string, password: string) => authRequest("/sign-in/email", { email, password }, { "x-forwarded-for": `10.77.${Math.floor(++address / 250)}.${address % 250}` });

async function person(email: string, roles: Role[], password = `${email} long password`) {
  const { user } = await createUser(getDb(), { email, name: email, roles, password });
  return { ...user, password, caller: createCaller(contextFor({ kind: "user", id: user.id, name: user.email, displayName: user.name, roles })) };
}

const activeAdmins = () => getDb().user.count({ where: { disabled: false, roles: { has: "admin" } } });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("creating the same thing twice at once", () => {
  it("two invites of one email, two models of one name: one is created, the other is a 409 naming the field, never a 500", async () => {
    const admin = await callerAsPerson(["admin"], "admin@dup.test");
    const invites = await Promise.allSettled([0, 1].map(() => admin.users.invite({ email: "twice@dup.test", name: "Twice", roles: ["viewer"] })));
    expect(invites.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((invites.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^email: /) });
    expect(await getDb().user.count({ where: { email: "twice@dup.test" } })).toBe(1);
    const models = await Promise.allSettled([0, 1].map(() => admin.models.create({ name: "twice-model", owner: "t", description: "" })));
    expect(models.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((models.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^(name: already taken|a model named "twice-model" already exists)/) });
  });
});

describe("the last active admin, under concurrent changes", () => {
  it("of two admins demoting or disabling each other at the same instant, exactly one is refused (no longer an admin) and one admin remains, round after round", async () => {
    const db = getDb();
    const others = await db.user.findMany({ where: { disabled: false, roles: { has: "admin" } }, select: { id: true } });
    await db.user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabled: true } });
    try {
      const a = await person("race-a@corp.test", ["admin"]);
      const b = await person("race-b@corp.test", ["admin"]);
      const outcomes: string[] = [];
      for (let round = 0; round < 8; round++) {
        await db.user.updateMany({ where: { id: { in: [a.id, b.id] } }, data: { roles: ["admin"], disabled: false } });
        expect(await activeAdmins()).toBe(2);
        // Demote each other, disable each other, or one of each.
        const aActs = round % 3 === 1 ? a.caller.users.setDisabled({ userId: b.id, disabled: true, reason: REASON }) : a.caller.users.setRoles({ userId: b.id, roles: ["viewer"], reason: REASON });
        const bActs = round % 3 === 2 ? b.caller.users.setDisabled({ userId: a.id, disabled: true, reason: REASON }) : b.caller.users.setRoles({ userId: a.id, roles: ["viewer"], reason: REASON });
        const settled = await Promise.allSettled([aActs, bActs]);
        const refused = settled.filter((s) => s.status === "rejected").map((s) => (s as PromiseRejectedResult).reason as { code?: string; message?: string });
        outcomes.push(settled.map((s) => s.status).join(","));
        expect(await activeAdmins(), `round ${round}: ${outcomes.at(-1)}`).toBe(1);
        expect(refused, `round ${round}`).toHaveLength(1);
        // The second to take the admins' lock finds itself demoted or disabled by the first: refused as no
        // longer an admin (before every lever re-checked its caller, as the last active admin).
        expect(refused[0]).toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/^(you have been disabled: nothing was changed|Needs the Admin role to )/) });
      }
    } finally {
      await db.user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabled: false } });
    }
  });
});

describe("a change whose audit entry fails", () => {
  it("fails, and leaves people, passwords, sessions and keys as they were", async () => {
    const db = getDb();
    const admin = await person("audit-admin@corp.test", ["admin"]);
    const target = await person("audit-target@corp.test", ["pm"]);
    const cookie = (await signIn(target.email, target.password)).headers.getSetCookie().find((c) => c.includes("session_token="))!.split(";")[0]!;
    const { apiKey } = await admin.caller.apiKeys.create({ kind: "serving", name: "audited key" });
    const account = () => db.account.findFirstOrThrow({ where: { userId: target.id }, select: { password: true } });
    const passwordBefore = (await account()).password;
    const keysBefore = await db.apiKey.count();
    const entriesBefore = await db.auditLog.count();
    const restore = await failAudit(["user.invite", "user.roles", "user.disable", "user.reset_password", "api_key.create", "api_key.revoke", "user.change_password"]);
    // The procedure fails with the trigger's error (a 500: logged, not shown).
    const refused = (action: string, call: Promise<unknown>) => expect(call).rejects.toMatchObject({ code: "INTERNAL_SERVER_ERROR", cause: { message: expect.stringContaining(`audit entry ${action} refused`) } });
    try {
      await refused("user.invite", admin.caller.users.invite({ email: "never@corp.test", name: "Never", roles: ["viewer"] }));
      await refused("user.roles", admin.caller.users.setRoles({ userId: target.id, roles: ["viewer"], reason: REASON }));
      await refused("user.disable", admin.caller.users.setDisabled({ userId: target.id, disabled: true, reason: REASON }));
      await refused("user.reset_password", admin.caller.users.resetPassword({ userId: target.id, reason: REASON }));
      await refused("api_key.create", admin.caller.apiKeys.create({ kind: "automation", name: "never made", roles: ["viewer"] }));
      await refused("api_key.revoke", admin.caller.apiKeys.revoke({ id: apiKey.id, reason: REASON }));
      const change = await authRequest("/change-password", { currentPassword: target.password, newPassword: "a new long password" }, { cookie });
      // The house's 500 in plain words (it was the library's empty 500).
      expect(change.status).toBe(500);
      expect(await change.json()).toMatchObject({ code: "INTERNAL", message: "changing the password failed: an internal error (logged on the server)" });
    } finally {
      await restore();
    }
    expect(await db.user.findUnique({ where: { email: "never@corp.test" } })).toBeNull();
    expect(await db.user.findUniqueOrThrow({ where: { id: target.id }, select: { roles: true, disabled: true } })).toEqual({ roles: ["pm"], disabled: false });
    expect((await account()).password).toBe(passwordBefore);
    expect(await db.session.count({ where: { userId: target.id } })).toBe(1);
    expect(await db.apiKey.count()).toBe(keysBefore);
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).revokedAt).toBeNull();
    expect(await db.auditLog.count()).toBe(entriesBefore);
    expect((await signIn(target.email, target.password)).status).toBe(200);
  });
});

describe("an admin disabled or demoted while their request is in flight", () => {
  // The caller below was checked as an admin when "the request arrived" (its principal is fixed); the
  // disable or demotion commits before the lever's transaction runs. Every lever over people and keys
  // re-checks its caller under the admins' lock (an invite, a one-time password or a key would outlive it).
  it("changes nothing: invite, roles, disable, password reset, key issue and revoke are refused and nothing is written", async () => {
    const boss = await person("flight-boss@corp.test", ["admin"]);
    const target = await person("flight-target@corp.test", ["pm"]);
    const { apiKey } = await boss.caller.apiKeys.create({ kind: "serving", name: "flight key" });
    const reasons = { disabled: "you have been disabled: nothing was changed", demoted: "Needs the Admin role to invite people, change their roles and disable them" };
    for (const fate of ["disabled", "demoted"] as const) {
      const stale = await person(`flight-${fate}@corp.test`, ["admin"]);
      if (fate === "disabled") await boss.caller.users.setDisabled({ userId: stale.id, disabled: true, reason: REASON });
      else await boss.caller.users.setRoles({ userId: stale.id, roles: ["viewer"], reason: REASON });
      const message = reasons[fate];
      const auditBefore = await getDb().auditLog.count();
      const usersBefore = await getDb().user.findMany({ orderBy: { id: "asc" }, select: { id: true, roles: true, disabled: true } });
      const keysBefore = await getDb().apiKey.findMany({ orderBy: { id: "asc" }, select: { id: true, revokedAt: true } });
      const attempts = {
        invite: stale.caller.users.invite({ email: `flight-new-${fate}@corp.test`, name: "New", roles: ["admin"] }),
        roles: stale.caller.users.setRoles({ userId: target.id, roles: ["admin"], reason: REASON }),
        disable: stale.caller.users.setDisabled({ userId: target.id, disabled: true, reason: REASON }),
        reset: stale.caller.users.resetPassword({ userId: target.id, reason: REASON }),
        issue: stale.caller.apiKeys.create({ kind: "automation", name: `flight ${fate}`, roles: ["admin"] }),
        revoke: stale.caller.apiKeys.revoke({ id: apiKey.id, reason: REASON }),
      };
      const outcomes = await Promise.all(Object.entries(attempts).map(([lever, attempt]) => attempt.then(() => [lever, "done"], (error: { code?: string; message: string }) => [lever, error.code, error.message])));
      const keysReason = message.replace("invite people, change their roles and disable them", "create and revoke API keys");
      expect(outcomes).toEqual(Object.keys(attempts).map((lever) => [lever, "FORBIDDEN", lever === "issue" || lever === "revoke" ? keysReason : message]));
      expect(await getDb().auditLog.count()).toBe(auditBefore);
      expect(await getDb().user.findMany({ orderBy: { id: "asc" }, select: { id: true, roles: true, disabled: true } })).toEqual(usersBefore);
      expect(await getDb().apiKey.findMany({ orderBy: { id: "asc" }, select: { id: true, revokedAt: true } })).toEqual(keysBefore);
      expect(await signIn(target.email, target.password)).toMatchObject({ status: 200 });
    }
  });
});

describe("a roles dialog opened before someone else changed the person's roles", () => {
  it("is refused (409 naming both role sets) instead of granting back what was removed; nothing is written or audited; a fresh pin, or none, applies", async () => {
    const db = getDb();
    const alice = await person("roles-alice@corp.test", ["admin"]);
    const bob = await person("roles-bob@corp.test", ["admin"]);
    const carol = await person("roles-carol@corp.test", ["viewer", "ml_engineer"]);
    const roles = async () => (await db.user.findUniqueOrThrow({ where: { id: carol.id }, select: { roles: true } })).roles;
    const entries = () => db.auditLog.count({ where: { action: "user.roles", entityId: carol.id } });
    // Alice opens the dialog (it shows Viewer, ML engineer) to add Product manager; Bob, offboarding carol, removes ML engineer.
    const shown: Role[] = ["viewer", "ml_engineer"];
    await bob.caller.users.setRoles({ userId: carol.id, roles: ["viewer"], expectRoles: shown, reason: "offboarding" });
    expect(await roles()).toEqual(["viewer"]);
    const audited = await entries();
    expect(audited).toBe(1);
    // Alice saves: it would grant ML engineer back.
    await expect(alice.caller.users.setRoles({ userId: carol.id, roles: ["viewer", "ml_engineer", "pm"], expectRoles: shown, reason: "joins the PM team" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "the roles of roles-carol@corp.test changed since they were shown (it showed Viewer, ML engineer, they are now Viewer): not applied over them; look at them again and decide",
    });
    expect(await roles()).toEqual(["viewer"]);
    expect(await entries()).toBe(audited);
    // She looks again: pinned to what is stored now (a set: order and repeats mean nothing), it applies.
    await alice.caller.users.setRoles({ userId: carol.id, roles: ["viewer", "pm"], expectRoles: ["viewer", "viewer"], reason: "joins the PM team" });
    expect(await roles()).toEqual(["viewer", "pm"]);
    await alice.caller.users.setRoles({ userId: carol.id, roles: ["pm"], expectRoles: ["pm", "viewer"], reason: "no longer only viewing" });
    expect(await roles()).toEqual(["pm"]);
    // Unpinned (scripts): applies as before.
    await bob.caller.users.setRoles({ userId: carol.id, roles: ["viewer"], reason: "script" });
    expect(await roles()).toEqual(["viewer"]);
    expect(await entries()).toBe(audited + 3);
    // Two dialogs pinned to the same roles, saved at once: one applies, the other is a 409 (they take turns on carol's row).
    const both = await Promise.allSettled([
      alice.caller.users.setRoles({ userId: carol.id, roles: ["viewer", "oncall"], expectRoles: ["viewer"], reason: "on call rota" }),
      bob.caller.users.setRoles({ userId: carol.id, roles: ["viewer", "pm"], expectRoles: ["viewer"], reason: "pm rota" }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/^the roles of roles-carol@corp\.test changed since they were shown \(it showed Viewer, they are now Viewer, (On-call|Product manager)\)/) });
    expect(await entries()).toBe(audited + 4);
    // A pin that is not a set of roles is bad input naming the field; nothing changes.
    const now = await roles();
    await expect(alice.caller.users.setRoles({ userId: carol.id, roles: ["viewer"], expectRoles: ["root" as Role], reason: REASON })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^expectRoles\[0\]: /) });
    expect(await roles()).toEqual(now);
  });
});

describe("sign-in of a disabled account", () => {
  it("pays the same password verification as an active or unknown account, and answers in the same words", async () => {
    const active = await person("timing-active@corp.test", ["viewer"]);
    const disabled = await person("timing-disabled@corp.test", ["viewer"]);
    await getDb().user.update({ where: { id: disabled.id }, data: { disabled: true } });
    const context = await getAuth().$context;
    const verify = vi.spyOn(context.password, "verify");
    const hash = vi.spyOn(context.password, "hash");
    const answer = async (email: string, password: string) => {
      const started = performance.now();
      const response = await signIn(email, password);
      return { ms: performance.now() - started, status: response.status, body: await response.json() };
    };
    const wrong = { status: 401, body: await answer(active.email, "not the password").then((a) => a.body) };
    // Each kind of sign-in verifies (or, for an unknown email, hashes) the given password once.
    verify.mockClear();
    hash.mockClear();
    expect(await answer(disabled.email, "not the password")).toMatchObject(wrong);
    expect(await answer(disabled.email, disabled.password)).toMatchObject(wrong);
    expect(verify).toHaveBeenCalledTimes(2);
    expect(await answer("nobody@corp.test", "not the password")).toMatchObject(wrong);
    expect(hash).toHaveBeenCalledTimes(1);
    // And so they take about as long (a ratio within this run: scrypt dominates every one).
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const times: Record<"active" | "disabled" | "unknown", number[]> = { active: [], disabled: [], unknown: [] };
    for (let i = 0; i < 7; i++) {
      times.active.push((await answer(active.email, "not the password")).ms);
      times.disabled.push((await answer(disabled.email, "not the password")).ms);
      times.unknown.push((await answer("nobody@corp.test", "not the password")).ms);
    }
    const [a, d, u] = [median(times.active), median(times.disabled), median(times.unknown)];
    expect(d / a, `medians: active ${a.toFixed(1)} ms, disabled ${d.toFixed(1)} ms`).toBeGreaterThan(0.5);
    expect(u / a, `medians: active ${a.toFixed(1)} ms, unknown ${u.toFixed(1)} ms`).toBeGreaterThan(0.5);
  });
});

describe("API keys", () => {
  it("revoking a key already revoked changes nothing and writes no second audit entry, also when two revocations race", async () => {
    const admin = await person("revoke-admin@corp.test", ["admin"]);
    for (const concurrent of [false, true]) {
      const { apiKey } = await admin.caller.apiKeys.create({ kind: "serving", name: `revoked twice ${concurrent}` });
      const revoke = () => admin.caller.apiKeys.revoke({ id: apiKey.id, reason: REASON });
      const [first, second] = concurrent ? await Promise.all([revoke(), revoke()]) : [await revoke(), await revoke()];
      expect(first.revokedAt).toBeInstanceOf(Date);
      expect(second.revokedAt?.getTime()).toBe(first.revokedAt?.getTime());
      expect(await getDb().auditLog.count({ where: { action: "api_key.revoke", entityId: apiKey.id } })).toBe(1);
    }
  });

  it("disabling a person revokes their keys for good: enabling them again brings none back (break test: a leaked key came back with its owner)", async () => {
    const admin = await person("disable-admin@corp.test", ["admin"]);
    const owner = await person("key-owner@corp.test", ["admin"]); // only admins issue keys
    const serving = await owner.caller.apiKeys.create({ kind: "serving", name: "owner's serving key" });
    const automation = await owner.caller.apiKeys.create({ kind: "automation", name: "owner's pipeline", roles: ["ml_engineer"] });
    const others = await admin.caller.apiKeys.create({ kind: "serving", name: "admin's own key" });
    const bearer = (key: string) => new Headers({ authorization: `Bearer ${key}` });
    expect(await authenticate(getDb(), bearer(serving.key))).toMatchObject({ kind: "api_key" });
    expect((await admin.caller.users.list()).find((u) => u.id === owner.id)!.activeKeys).toEqual({ total: 2, serving: 1 });
    expect(await admin.caller.users.setDisabled({ userId: owner.id, disabled: true, reason: REASON })).toMatchObject({ disabled: true, revokedKeys: 2 });
    const revoked = await getDb().apiKey.findMany({ where: { createdById: owner.id }, orderBy: { createdAt: "asc" } });
    expect(revoked.map((k) => [k.name, k.revokedAt instanceof Date])).toEqual([["owner's serving key", true], ["owner's pipeline", true]]);
    const entries = await getDb().auditLog.findMany({ where: { action: "api_key.revoke", entityId: { in: [serving.apiKey.id, automation.apiKey.id] } }, orderBy: { id: "asc" } });
    expect(entries.map((e) => [e.subjectLabel, e.actor, e.reason])).toEqual([
      ["owner's serving key", admin.email, `${owner.email} was disabled: ${REASON}`], ["owner's pipeline", admin.email, `${owner.email} was disabled: ${REASON}`],
    ]);
    expect(await getDb().auditLog.findFirst({ where: { action: "user.disable", entityId: owner.id } })).toMatchObject({ after: { disabled: true, revokedKeys: 2 } });
    await admin.caller.users.setDisabled({ userId: owner.id, disabled: false, reason: REASON });
    for (const key of [serving.key, automation.key]) expect(await authenticate(getDb(), bearer(key))).toBeNull();
    expect((await admin.caller.users.list()).find((u) => u.id === owner.id)!.activeKeys).toEqual({ total: 0, serving: 0 });
    // Another person's keys are untouched.
    expect(await authenticate(getDb(), bearer(others.key))).toMatchObject({ kind: "api_key", name: "admin's own key" });
  });

  it("a key issued while its owner is being disabled is refused or revoked with the rest, never left live (break test: 6 of 90 survived and served again on re-enable)", async () => {
    const admin = await person("race-admin@corp.test", ["admin"]);
    for (let round = 0; round < 3; round++) {
      const owner = await person(`race-owner-${round}@corp.test`, ["admin"]);
      const issued = Array.from({ length: 12 }, (_, i) => owner.caller.apiKeys.create({ kind: "serving", name: `race ${round} ${i}` }).then((k) => k.key, (error: { code?: string }) => error.code ?? "error"));
      await new Promise((resolve) => setTimeout(resolve, 5 * round));
      await admin.caller.users.setDisabled({ userId: owner.id, disabled: true, reason: REASON });
      const outcomes = await Promise.all(issued);
      // Every creation either made a key (revoked by the disable) or was refused because its owner was disabled.
      expect(outcomes.filter((o) => !o.startsWith("rrk_") && o !== "FORBIDDEN")).toEqual([]);
      expect(await getDb().apiKey.count({ where: { createdById: owner.id, revokedAt: null } })).toBe(0);
      await admin.caller.users.setDisabled({ userId: owner.id, disabled: false, reason: REASON });
      for (const key of outcomes.filter((o) => o.startsWith("rrk_"))) expect(await authenticate(getDb(), new Headers({ authorization: `Bearer ${key}` }))).toBeNull();
      // A second disable of someone disabled changes nothing and writes no entry.
      await admin.caller.users.setDisabled({ userId: owner.id, disabled: true, reason: REASON });
      expect(await admin.caller.users.setDisabled({ userId: owner.id, disabled: true, reason: REASON })).toMatchObject({ disabled: true, revokedKeys: 0 });
      expect(await getDb().auditLog.count({ where: { action: "user.disable", entityId: owner.id } })).toBe(2);
    }
  });

  it("refuses a key name that could pass for a person's email in the audit trail", async () => {
    const admin = await person("name-admin@corp.test", ["admin"]);
    const keysBefore = await getDb().apiKey.count();
    // Look-alikes too (second break test: "pm＠x.io" with U+FF20 and "pm﹫x.io" with U+FE6B were taken).
    for (const input of [{ kind: "serving" as const, name: "pm@x.io" }, { kind: "automation" as const, name: "ci @ night", roles: ["viewer" as const] }, { kind: "serving" as const, name: "pm\uFF20x.io" }, { kind: "serving" as const, name: "pm\uFE6Bx.io" }]) {
      await expect(admin.caller.apiKeys.create(input)).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^name: must not contain @/) });
    }
    // Nor the name the trail gives unknown callers (break test: a key named "anonymous" mixed with refused sign-ins).
    for (const name of ["anonymous", " Anonymous ", "ＡＮＯＮＹＭＯＵＳ"]) {
      await expect(admin.caller.apiKeys.create({ kind: "serving", name })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^name: must not be "anonymous"/) });
    }
    // Nor the name of one of the console's own jobs (third break test: a key named "rollout-analysis" paused canaries as "automatic").
    for (const name of ["rollout-analysis", "Seed", "ＲＥＴＥＮＴＩＯＮ", "first-start"]) {
      await expect(admin.caller.apiKeys.create({ kind: "automation", name, roles: ["ml_engineer"] })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^name: must not be "[a-z-]+" or look like it: the audit trail names one of the console's own jobs so/) });
    }
    // Nor one that looks like one (re-break: Cyrillic "ѕ" and "е", a small capital "ᴀ", U+2010 and U+2011 hyphens passed).
    for (const [name, reserved] of [["\u0455eed", "seed"], ["s\u0435ed", "seed"], ["\u1d00nonymous", "anonymous"], ["rollout\u2010analysis", "rollout-analysis"], ["rollout\u2011analysis", "rollout-analysis"], ["r\u03bfllout-analysis", "rollout-analysis"],
      // Second re-break: other dashes and colons, a modifier letter, and plain ASCII shapes (rn, 0, 1, I, a dotless ı).
      ["rollout\u30FCanalysis", "rollout-analysis"], ["db\uA789retention", "db:retention"], ["db\u02D0retention", "db:retention"], ["anonyrnous", "anonymous"], ["r0llout-analysis", "rollout-analysis"], ["modeIs:train-from-Iogs", "models:train-from-logs"], ["evaluat\u0131on", "evaluation"]]) {
      await expect(admin.caller.apiKeys.create({ kind: "automation", name: name!, roles: ["ml_engineer"] }), name).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining(`name: must not be "${reserved}" or look like it`) });
    }
    // Nor one that reads as another through an invisible character (second break test: "anonymous\u200b", "anonymous\u00ad").
    // Re-break: fillers and blanks that are letters or symbols (U+3164, U+FFA0, U+115F, U+2800), a combining grapheme joiner, a name of nothing but one.
    for (const name of ["anonymous\u200b", "anonymous\u00ad", "ci\u2060pipeline", "seed\u3164", "seed\u2800", "seed\uFFA0", "seed\u034F", "anonymous\u115F", "\u3164"]) {
      await expect(admin.caller.apiKeys.create({ kind: "serving", name })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^name: must not contain invisible characters/) });
    }
    expect(await getDb().apiKey.count()).toBe(keysBefore);
  });
});

describe("self-service password change", () => {
  it("is audited as the person's own change, without the password, and signs every other session of theirs out", async () => {
    const ana = await person("self-pw@corp.test", ["viewer"]);
    const sessionCookie = async () => (await signIn(ana.email, ana.password)).headers.getSetCookie().find((c) => c.includes("session_token="))!.split(";")[0]!;
    const elsewhere = await sessionCookie(); // another browser (or a thief's)
    const cookie = await sessionCookie();
    const response = await authRequest("/change-password", { currentPassword: ana.password, newPassword: "a brand new long password" }, { cookie, "x-request-id": "req-pw-1" });
    expect(response.status).toBe(200);
    // Besides the two sign-ins (audited as such).
    const entries = await getDb().auditLog.findMany({ where: { entityId: ana.id, action: { not: "user.sign_in" } } });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: "user.change_password", actor: ana.email, actorKind: "user", actorId: ana.id, requestId: "req-pw-1", subjectLabel: ana.email, before: null, after: null });
    expect(JSON.stringify(entries, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("brand new");
    // The other session ended with the change (the client did not ask: revokeOtherSessions is forced); this one goes on.
    const sessionOf = async (c: string) => (await getAuth().api.getSession({ headers: new Headers({ cookie: c }) }))?.user.email ?? null;
    expect(await sessionOf(elsewhere)).toBeNull();
    // The session that made the change goes on (the library gives it a fresh cookie): one session left.
    expect(await getDb().session.count({ where: { userId: ana.id } })).toBe(1);
    expect((await signIn(ana.email, "a brand new long password")).status).toBe(200);
    expect((await signIn(ana.email, ana.password)).status).toBe(401);
  });
});

describe("one-time passwords", () => {
  // Found by the access-control break test: the invite's and the reset's "one-time" password never had
  // to be changed, so the admin (or whoever saw the handover) could sign in as that person and be the
  // "other person" of an approval.
  it("a person invited with a one-time password may do nothing but set their own; an admin's reset makes it one-time again", async () => {
    const admin = await person("otp-admin@corp.test", ["admin"]);
    const invited = await admin.caller.users.invite({ email: "otp-new@corp.test", name: "New", roles: ["pm"] });
    const cookieOf = (response: Response) => response.headers.getSetCookie().find((c) => c.includes("session_token="))!.split(";")[0]!;
    const cookie = cookieOf(await signIn("otp-new@corp.test", invited.password));
    const asCookie = async (c: string) => createCaller(await createContext({ headers: new Headers({ cookie: c }) }));
    expect(await (await asCookie(cookie)).auth.me()).toMatchObject({ name: "otp-new@corp.test", mustChangePassword: true });
    await expect((await asCookie(cookie)).surfaces.list()).rejects.toMatchObject({ code: "FORBIDDEN", message: ONE_TIME_PASSWORD_MESSAGE });
    await expect((await asCookie(cookie)).experiments.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await authorizeHttp(new Headers({ cookie }), "console.read")).toMatchObject({ ok: false, status: 403, message: ONE_TIME_PASSWORD_MESSAGE });
    // Setting their own lifts it (and the session that did it goes on).
    const changed = await authRequest("/change-password", { currentPassword: invited.password, newPassword: "my very own password" }, { cookie });
    expect(changed.status).toBe(200);
    expect(await (await asCookie(cookie)).auth.me()).toMatchObject({ mustChangePassword: false });
    expect(Array.isArray(await (await asCookie(cookie)).surfaces.list())).toBe(true);
    // An admin's reset hands over a new one-time password: forced again at the next sign-in.
    const reset = await admin.caller.users.resetPassword({ userId: invited.user.id, reason: "forgot it" });
    const again = cookieOf(await signIn("otp-new@corp.test", reset.password));
    await expect((await asCookie(again)).surfaces.list()).rejects.toMatchObject({ code: "FORBIDDEN", message: ONE_TIME_PASSWORD_MESSAGE });
    // People made with their own password (tests, the first admin) are not forced.
    expect(await (await asCookie(cookieOf(await signIn(admin.email, admin.password)))).auth.me()).toMatchObject({ mustChangePassword: false });
  });
});

describe("webhook URLs in the audit trail and lists", () => {
  it("masks a URL whose only path segment is its secret", async () => {
    const admin = callerAs(["admin"], "hooks-admin@corp.test");
    const { id } = await admin.webhooks.create({ name: "ntfy", url: "https://ntfy.sh/corp-alerts-s3cr3tT0ken", format: "standard", eventKinds: ["rollback"] });
    const entry = await getDb().auditLog.findFirstOrThrow({ where: { action: "webhook.create", entityId: id } });
    expect(entry.after).toMatchObject({ url: "https://ntfy.sh/…" });
    expect((await admin.webhooks.list()).find((e) => e.id === id)?.url).toBe("https://ntfy.sh/…");
  });
});

describe("the first start", () => {
  // Last in this file: it removes every password to look like a database nobody can sign in to.
  it("creates the first admin, their key and the audit entry together, or none of them", async () => {
    const db = getDb();
    await db.account.deleteMany({ where: { providerId: "credential" } });
    const options = { adminEmail: "first@corp.test", credentialsFile: path.join(mkdtempSync(path.join(os.tmpdir(), "first-run-")), "credentials.json") };
    const keysBefore = await db.apiKey.count();
    const restore = await failAudit(["user.create"]);
    try {
      await expect(ensureFirstAdmin(db, options)).rejects.toThrow(/audit entry user.create refused/);
    } finally {
      await restore();
    }
    expect(await db.user.findUnique({ where: { email: "first@corp.test" } })).toBeNull();
    expect(await db.apiKey.count()).toBe(keysBefore);
    // A credentials file that cannot be written (its folder is a file) creates nobody either (break
    // test: the admin was committed, its generated password never shown nor stored).
    const blocked = path.join(mkdtempSync(path.join(os.tmpdir(), "first-run-")), "not-a-folder");
    writeFileSync(blocked, "");
    await expect(ensureFirstAdmin(db, { ...options, credentialsFile: path.join(blocked, "credentials.json") })).rejects.toThrow(/EEXIST|ENOTDIR/);
    expect(await db.user.findUnique({ where: { email: "first@corp.test" } })).toBeNull();
    expect(await db.apiKey.count()).toBe(keysBefore);
    const created = await ensureFirstAdmin(db, options);
    expect(created).toMatchObject({ adminEmail: "first@corp.test" });
    const admin = await db.user.findUniqueOrThrow({ where: { email: "first@corp.test" } });
    expect(await db.auditLog.count({ where: { action: "user.create", entityId: admin.id } })).toBe(1);
    expect((await signIn("first@corp.test", created!.adminPassword)).status).toBe(200);
  });
});
