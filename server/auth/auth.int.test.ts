import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { callerAs, callerAsPerson } from "../testing/callers";
import { START_DEADLINE_MS, waitForStart } from "../testing/startup";
import { createApiKey } from "./apiKeys";
import { failAudit } from "../testing/auditFaults";
import { FAILED_SIGN_INS_KEPT_PER_HOUR, getAuth } from "./auth";
import { authenticate } from "./authenticate";
import { authorizeHttp } from "./http";
import type { Role } from "../domain/access/permissions";
import { createUser, setUserDisabled, setUserRoles } from "./users";

const disable = (id: string) => getDb().$transaction((tx) => setUserDisabled(tx, id, true, null));
const setRoles = (id: string, roles: Role[]) => getDb().$transaction((tx) => setUserRoles(tx, id, roles));

// Sign-in, sessions and API keys on real PostgreSQL through better-auth, and a second process on
// the same database that must refuse a disabled person's session on its next request, and a revoked
// key or a disabled person's keys as soon as the change's NOTIFY reaches it.

async function signIn(email: string, password: string, ip = "10.1.2.3") {
  return getAuth().handler(
    new Request("http://127.0.0.1:3000/api/auth/sign-in/email", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://127.0.0.1:3000", host: "127.0.0.1:3000", "x-forwarded-for": ip },
      body: JSON.stringify({ email, password }),
    }),
  );
}

function sessionCookie(response: Response): string {
  const cookies = response.headers.getSetCookie();
  const session = cookies.find((c) => c.includes("session_token="));
  if (!session) throw new Error(`no session cookie in ${JSON.stringify(cookies)}`);
  return session.split(";")[0]!;
}

let second: ChildProcess;
let secondUrl: string;

beforeAll(async () => {
  second = spawn(process.execPath, ["--import", "tsx", "server/testing/principalServer.ts"], { env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  second.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  second.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitForStart(second, "the second principal server", async () => /listening (\d+)/.test(output), () => output);
  secondUrl = `http://127.0.0.1:${/listening (\d+)/.exec(output)![1]}`;
}, START_DEADLINE_MS + 10_000);

afterAll(() => {
  second?.kill();
});

const askSecond = async (headers: Record<string, string>) => (await fetch(secondUrl, { headers })).json() as Promise<{ kind?: string; name?: string; roles?: string[] } | null>;

describe("sign-in", () => {
  it("signs a person in with the password the library hashed, and the session carries their roles", async () => {
    const { user } = await createUser(getDb(), { email: "Ana@Corp.test", name: "Ana", roles: ["pm", "oncall"], password: "correct horse battery" });
    expect(user.email).toBe("ana@corp.test");
    const account = await getDb().account.findFirstOrThrow({ where: { userId: user.id } });
    expect(account.password).not.toContain("correct horse");
    const response = await signIn("ana@corp.test", "correct horse battery");
    expect(response.status).toBe(200);
    const cookie = sessionCookie(response);
    expect(response.headers.getSetCookie().join(";")).toMatch(/HttpOnly/i);
    const principal = await authenticate(getDb(), new Headers({ cookie }));
    expect(principal).toMatchObject({ kind: "user", name: "ana@corp.test", roles: ["pm", "oncall"] });
    expect(await askSecond({ cookie })).toMatchObject({ kind: "user", name: "ana@corp.test" });
  });

  it("refuses a wrong password and rate-limits repeated attempts from one address", async () => {
    await createUser(getDb(), { email: "bo@corp.test", name: "Bo", roles: ["viewer"], password: "the right password" });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await signIn("bo@corp.test", "a wrong password", "10.9.9.9")).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // Another address is not held back by the first one's attempts.
    expect((await signIn("bo@corp.test", "the right password", "10.9.9.10")).status).toBe(200);
  });

  it("signs a disabled person out everywhere: the second process refuses their cookie on the next request", async () => {
    const { user } = await createUser(getDb(), { email: "cy@corp.test", name: "Cy", roles: ["ml_engineer"], password: "cy's long password" });
    const cookie = sessionCookie(await signIn("cy@corp.test", "cy's long password", "10.7.7.7"));
    const { key } = await createApiKey(getDb(), { name: "cy's pipeline", kind: "automation", roles: ["ml_engineer"] }, user.id);
    expect(await askSecond({ cookie })).toMatchObject({ name: "cy@corp.test" });
    expect(await askSecond({ authorization: `Bearer ${key}` })).toMatchObject({ kind: "api_key", name: "cy's pipeline" });
    await disable(user.id);
    expect(await askSecond({ cookie })).toBeNull();
    // Their key's cached verdict is forgotten when the change's NOTIFY reaches the second process.
    await expect.poll(() => askSecond({ authorization: `Bearer ${key}` }), { interval: 20 }).toBeNull();
    // Signing in again: the same answer as a wrong password, so nothing says the password was right.
    const again = await signIn("cy@corp.test", "cy's long password", "10.7.7.8");
    const wrong = await signIn("cy@corp.test", "not the password", "10.7.7.9");
    expect([again.status, (await again.json()).message]).toEqual([401, "Invalid email or password"]);
    expect([wrong.status, (await wrong.json()).message]).toEqual([401, "Invalid email or password"]);
    // The audit trail tells them apart (admins only read it): the caller's address, never what was typed.
    const refused = await getDb().auditLog.findMany({ where: { action: "user.sign_in_failed", entityId: user.id }, orderBy: { id: "asc" } });
    expect(refused.map((e) => [e.actor, e.actorKind, e.actorId, e.clientAddress, e.reason])).toEqual([["anonymous", "anonymous", null, "10.7.7.8", "disabled"], ["anonymous", "anonymous", null, "10.7.7.9", "disabled"]]);
  });

  it("audits sign-ins, sign-outs and refused sign-ins as someone who exists; an address that names nobody is not recorded", async () => {
    const { user } = await createUser(getDb(), { email: "di@corp.test", name: "Di", roles: ["viewer"], password: "di's long password" });
    const before = await getDb().auditLog.count({ where: { action: "user.sign_in_failed" } });
    expect((await signIn("di@corp.test", "not di's password", "10.5.5.1")).status).toBe(401);
    expect((await signIn("nobody-at-all@corp.test", "whatever it is", "10.5.5.2")).status).toBe(401);
    const cookie = sessionCookie(await signIn("di@corp.test", "di's long password", "10.5.5.3"));
    const out = await getAuth().handler(new Request("http://127.0.0.1:3000/api/auth/sign-out", {
      method: "POST", headers: { "content-type": "application/json", origin: "http://127.0.0.1:3000", host: "127.0.0.1:3000", "x-forwarded-for": "10.5.5.4", cookie }, body: "{}",
    }));
    expect(out.status).toBe(200);
    expect(await authenticate(getDb(), new Headers({ cookie }))).toBeNull();
    const entries = await getDb().auditLog.findMany({ where: { entityType: "user", entityId: user.id, action: { startsWith: "user.sign" } }, orderBy: { id: "asc" } });
    expect(entries.map((e) => [e.action, e.actor, e.actorId, e.clientAddress, e.reason])).toEqual([
      ["user.sign_in_failed", "anonymous", null, "10.5.5.1", "wrong password"],
      ["user.sign_in", "di@corp.test", user.id, "10.5.5.3", null],
      ["user.sign_out", "di@corp.test", user.id, "10.5.5.4", null],
    ]);
    expect(await getDb().auditLog.count({ where: { action: "user.sign_in_failed" } })).toBe(before + 1);
  });

  it("sign-in entries are read by those who manage people only: a viewer's Audit page, facets and CSV leave them out", async () => {
    const { user } = await createUser(getDb(), { email: "el@corp.test", name: "El", roles: ["viewer"], password: "el's long password" });
    expect((await signIn("el@corp.test", "el's long password", "10.5.6.1")).status).toBe(200);
    const filter = { action: "user.sign_in" as const, actor: "el@corp.test" };
    const admin = callerAs(["admin"], "audit-admin@corp.test");
    const viewer = callerAs(["viewer"], "audit-viewer@corp.test");
    expect((await admin.audit.list({ filter, limit: 10 })).entries.map((e) => [e.subject.id, e.clientAddress])).toEqual([[user.id, "10.5.6.1"]]);
    expect((await viewer.audit.list({ filter, limit: 10 })).entries).toEqual([]);
    expect((await viewer.audit.list({ filter: {}, limit: 200 })).entries.filter((e) => e.action.startsWith("user.sign"))).toEqual([]);
    expect((await viewer.audit.facets()).actions.map((a) => a.name)).not.toContain("user.sign_in");
    expect((await viewer.audit.facets()).actors.map((a) => a.name)).not.toContain("anonymous");
    expect((await admin.audit.facets()).actions.map((a) => a.name)).toContain("user.sign_in");
    expect((await viewer.audit.export(filter)).rows).toBe(0);
    // Nor any entry's client address (second break test: a colleague's own password change showed theirs).
    const changes = { action: "user.change_password" as const };
    await getDb().auditLog.create({ data: { action: "user.change_password", actor: "el@corp.test", actorKind: "user", actorId: user.id, clientAddress: "10.5.6.2", entityType: "user", entityId: user.id, subjectLabel: "el@corp.test" } });
    expect((await admin.audit.list({ filter: changes, limit: 1 })).entries[0]!.clientAddress).toBe("10.5.6.2");
    expect((await viewer.audit.list({ filter: changes, limit: 1 })).entries[0]!.clientAddress).toBeNull();
    expect((await viewer.audit.export(changes)).csv).not.toContain("10.5.6.2");
  });

  it("one sign-out entry for a session signed out by several requests at once, none for an expired session's", async () => {
    const { user } = await createUser(getDb(), { email: "fy@corp.test", name: "Fy", roles: ["viewer"], password: "fy's long password" });
    const signOut = (cookie: string) => getAuth().handler(new Request("http://127.0.0.1:3000/api/auth/sign-out", {
      method: "POST", headers: { "content-type": "application/json", origin: "http://127.0.0.1:3000", host: "127.0.0.1:3000", "x-forwarded-for": "10.5.7.1", cookie }, body: "{}",
    }));
    const outs = () => getDb().auditLog.count({ where: { action: "user.sign_out", entityId: user.id } });
    const first = sessionCookie(await signIn("fy@corp.test", "fy's long password", "10.5.7.2"));
    expect((await Promise.all(Array.from({ length: 8 }, () => signOut(first)))).map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await outs()).toBe(1);
    const second = sessionCookie(await signIn("fy@corp.test", "fy's long password", "10.5.7.3"));
    await getDb().session.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 3_600_000) } });
    expect((await signOut(second)).status).toBe(200);
    expect(await outs()).toBe(1);
    expect(await getDb().session.count({ where: { userId: user.id } })).toBe(0);
  });

  it("a sign-in whose audit entry cannot be written fails and leaves no session behind", async () => {
    const { user } = await createUser(getDb(), { email: "gu@corp.test", name: "Gu", roles: ["viewer"], password: "gu's long password" });
    const restore = await failAudit(["user.sign_in"]);
    try {
      // The library's router throws our fault (onAPIError.throw; the route answers it as a 500 in words): no cookie is set.
      await expect(signIn("gu@corp.test", "gu's long password", "10.5.8.1")).rejects.toThrow(/audit entry user.sign_in refused/);
    } finally {
      await restore();
    }
    expect(await getDb().session.count({ where: { userId: user.id } })).toBe(0);
  });

  it(`keeps at most ${FAILED_SIGN_INS_KEPT_PER_HOUR} refused sign-ins a person an hour in the append-only trail (break test: an anonymous caller could add thousands a day)`, async () => {
    const { user } = await createUser(getDb(), { email: "ha@corp.test", name: "Ha", roles: ["viewer"], password: "ha's long password" });
    const statuses: number[] = [];
    for (let i = 0; i < FAILED_SIGN_INS_KEPT_PER_HOUR + 4; i++) statuses.push((await signIn("ha@corp.test", "a wrong guess", `10.6.${Math.floor(i / 4)}.${i % 4}`)).status);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(await getDb().auditLog.count({ where: { action: "user.sign_in_failed", entityId: user.id } })).toBe(FAILED_SIGN_INS_KEPT_PER_HOUR);
  });

  it("will not disable the last active admin", async () => {
    const { user } = await createUser(getDb(), { email: "root@corp.test", name: "Root", roles: ["admin"], password: "root's long password" });
    const others = await getDb().user.findMany({ where: { id: { not: user.id }, roles: { has: "admin" }, disabled: false }, select: { id: true } });
    await getDb().user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabled: true } });
    try {
      await expect(disable(user.id)).rejects.toThrow(/last active admin/);
      await expect(setRoles(user.id, ["viewer"])).rejects.toThrow(/last active admin/);
    } finally {
      await getDb().user.updateMany({ where: { id: { in: others.map((o) => o.id) } }, data: { disabled: false } });
    }
    await createUser(getDb(), { email: "root2@corp.test", name: "Root 2", roles: ["admin"], password: "root2's long password" });
    expect((await setRoles(user.id, ["viewer"])).after.roles).toEqual(["viewer"]);
  });
});

describe("self-service account changes", () => {
  it("refuses renames, email changes and deletions: admins manage people", async () => {
    await createUser(getDb(), { email: "self@corp.test", name: "Self", roles: ["viewer"], password: "self long password" });
    const cookie = sessionCookie(await signIn("self@corp.test", "self long password", "10.6.6.6"));
    const rename = await getAuth().handler(new Request("http://127.0.0.1:3000/api/auth/update-user", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://127.0.0.1:3000", host: "127.0.0.1:3000", cookie },
      body: JSON.stringify({ name: "Admin" }),
    }));
    expect(rename.status).toBe(403);
    expect((await getDb().user.findUniqueOrThrow({ where: { email: "self@corp.test" } })).name).toBe("Self");
  });
});

describe("API keys", () => {
  it("authenticates a serving key, and refuses it after revocation: here at once, in the second process when the NOTIFY arrives", async () => {
    const { user } = await createUser(getDb(), { email: "ops@corp.test", name: "Ops", roles: ["admin"], password: "ops long password" });
    const { key, apiKey } = await createApiKey(getDb(), { name: "search frontend", kind: "serving", surfaces: ["search"] }, user.id);
    const stored = await getDb().apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(stored.keyHash).not.toContain(key.slice(4));
    expect(key.startsWith(stored.prefix)).toBe(true);
    expect(await askSecond({ authorization: `Bearer ${key}` })).toMatchObject({ kind: "api_key", keyKind: "serving", surfaces: ["search"] });
    expect(await authenticate(getDb(), new Headers({ authorization: `Bearer ${key}` }))).toMatchObject({ kind: "api_key" });
    await (await callerAsPerson(["admin"])).apiKeys.revoke({ id: apiKey.id, reason: "no longer used" });
    expect(await authenticate(getDb(), new Headers({ authorization: `Bearer ${key}` }))).toBeNull();
    // The second process cached the key's verdict; the revocation's NOTIFY makes it forget it.
    await expect.poll(() => askSecond({ authorization: `Bearer ${key}` }), { interval: 20 }).toBeNull();
  });

  it("caps an automation key by its creator's current roles: a demoted admin's key is demoted too (second process)", async () => {
    await createUser(getDb(), { email: "other-admin@corp.test", name: "Other", roles: ["admin"], password: "other admin password" });
    const { user } = await createUser(getDb(), { email: "was-admin@corp.test", name: "Was admin", roles: ["admin", "ml_engineer"], password: "was admin password" });
    const { key } = await createApiKey(getDb(), { name: "ci with admin", kind: "automation", roles: ["admin", "ml_engineer"] }, user.id);
    expect(await askSecond({ authorization: `Bearer ${key}` })).toMatchObject({ roles: ["admin", "ml_engineer"] });
    await setRoles(user.id, ["ml_engineer"]);
    await expect.poll(() => askSecond({ authorization: `Bearer ${key}` }), { interval: 20 }).toMatchObject({ roles: ["ml_engineer"] });
    await setRoles(user.id, ["viewer"]);
    await expect.poll(() => askSecond({ authorization: `Bearer ${key}` }), { interval: 20 }).toMatchObject({ roles: [] });
  });

  it("caps a serving key by its creator's current roles too: a creator demoted to viewer stops its keys serving, with a 403 that says why", async () => {
    // Found by the access-control break test: a serving key kept serving (200) for a creator demoted to viewer.
    const { user } = await createUser(getDb(), { email: "serving-creator@corp.test", name: "Serving creator", roles: ["admin"], password: "serving creator password" });
    const { key } = await createApiKey(getDb(), { name: "search serving", kind: "serving" }, user.id);
    const bearer = new Headers({ authorization: `Bearer ${key}` });
    expect(await authorizeHttp(bearer, "rerank.serve")).toMatchObject({ ok: true });
    expect(await authorizeHttp(bearer, "events.write")).toMatchObject({ ok: true });
    await setRoles(user.id, ["ml_engineer"]);
    // ML engineers send rerank requests but do not record events (events.write is the admins').
    await expect.poll(() => authorizeHttp(bearer, "events.write"), { interval: 20 }).toMatchObject({
      ok: false, status: 403, message: "this key's creator no longer holds the permission to record outcome events (a key never acts with more than its creator holds now): ask an admin for a new key",
    });
    expect(await authorizeHttp(bearer, "rerank.serve")).toMatchObject({ ok: true });
    await setRoles(user.id, ["viewer"]);
    await expect.poll(async () => (await authorizeHttp(bearer, "rerank.serve")).ok, { interval: 20 }).toBe(false);
    // Another admin's key is untouched.
    expect(await authorizeHttp(new Headers({ authorization: `Bearer ${(await createApiKey(getDb(), { name: "admin's", kind: "serving" }, (await createUser(getDb(), { email: "still-admin@corp.test", name: "Still", roles: ["admin"], password: "still admin password" })).user.id)).key}` }), "rerank.serve")).toMatchObject({ ok: true });
  });

  it("lets only a person revoke an API key, as only a person issues one (a leaked automation key took serving keys down)", async () => {
    const { user } = await createUser(getDb(), { email: "revoker@corp.test", name: "Revoker", roles: ["admin"], password: "revoker long password" });
    const victim = await createApiKey(getDb(), { name: "production serving", kind: "serving" }, user.id);
    const automation = await createApiKey(getDb(), { name: "ci admin", kind: "automation", roles: ["admin"] }, user.id);
    const { createCaller } = await import("../routers/_app");
    const { contextFor } = await import("../trpc");
    const ci = await authenticate(getDb(), new Headers({ authorization: `Bearer ${automation.key}` }));
    await expect(createCaller(contextFor(ci)).apiKeys.revoke({ id: victim.apiKey.id, reason: "oops" })).rejects.toMatchObject({ code: "FORBIDDEN", message: "only a signed-in person can do this, not an API key" });
    expect((await getDb().apiKey.findUniqueOrThrow({ where: { id: victim.apiKey.id } })).revokedAt).toBeNull();
    await (await callerAsPerson(["admin"], "revoker-admin@corp.test")).apiKeys.revoke({ id: victim.apiKey.id, reason: "rotated" });
    expect((await getDb().apiKey.findUniqueOrThrow({ where: { id: victim.apiKey.id } })).revokedAt).not.toBeNull();
  });

  it("refuses an expired key and an unknown one", async () => {
    const { user } = await createUser(getDb(), { email: "exp@corp.test", name: "Exp", roles: ["admin"], password: "exp long password" });
    const { key } = await createApiKey(getDb(), { name: "old", kind: "serving", expiresAt: new Date(Date.now() - 1000) }, user.id);
    expect(await authenticate(getDb(), new Headers({ authorization: `Bearer ${key}` }))).toBeNull();
    expect(await authenticate(getDb(), new Headers({ authorization: "Bearer rrk_not-a-key" }))).toBeNull();
  });

  it("keeps a serving key to its surfaces on tRPC", async () => {
    const { user } = await createUser(getDb(), { email: "scope@corp.test", name: "Scope", roles: ["admin"], password: "scope long password" });
    const { key } = await createApiKey(getDb(), { name: "feed only", kind: "serving", surfaces: ["home-feed"] }, user.id);
    const principal = await authenticate(getDb(), new Headers({ authorization: `Bearer ${key}` }));
    const { createCaller } = await import("../routers/_app");
    const { contextFor } = await import("../trpc");
    const error = await createCaller(contextFor(principal)).rerank.rank({ surface: "search", topK: 1, candidates: [{ id: "a" }] }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: "FORBIDDEN", message: 'surface: this key may serve home-feed only, not "search"' });
  });
});

describe("people and keys through the console's procedures", () => {
  it("lets an admin invite a person with several roles, shown a one-time password, and audits it", async () => {
    const admin = await callerAsPerson(["admin"], "boss@corp.test");
    const { user, password } = await admin.users.invite({ email: "dee@corp.test", name: "Dee", roles: ["pm", "ml_engineer"] });
    expect(password).toHaveLength(20);
    expect((await signIn("dee@corp.test", password, "10.5.5.5")).status).toBe(200);
    const audit = await getDb().auditLog.findFirstOrThrow({ where: { action: "user.invite", entityId: user.id } });
    expect(audit).toMatchObject({ actor: "boss@corp.test", after: { email: "dee@corp.test", roles: ["pm", "ml_engineer"] } });
    await expect(admin.users.invite({ email: "DEE@corp.test", name: "Dee again", roles: ["viewer"] })).rejects.toThrow("email: dee@corp.test already has an account");
  });
});

describe("an API key's expiry (#14 break test)", () => {
  it("takes strict ISO 8601 text from a plain JSON caller as well as a Date, and refuses one already past", async () => {
    const { fetchRequestHandler } = await import("@trpc/server/adapters/fetch");
    const { createCaller, appRouter } = await import("../routers/_app");
    const { contextFor } = await import("../trpc");
    const { user } = await createUser(getDb(), { email: "expiry@corp.test", name: "Expiry", roles: ["admin"], password: "expiry long password" });
    const admin = { kind: "user" as const, id: user.id, name: user.email, displayName: user.name, roles: user.roles as ["admin"] };
    // A plain JSON caller: superjson's envelope without the meta that would tag a Date.
    const create = (json: unknown) =>
      fetchRequestHandler({
        endpoint: "/api/trpc", router: appRouter, createContext: () => contextFor(admin),
        req: new Request("http://test/api/trpc/apiKeys.create", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ json }) }),
      });
    for (const [text, iso] of [["2027-01-01", "2027-01-01T00:00:00.000Z"], ["2027-01-01T00:00:00Z", "2027-01-01T00:00:00.000Z"], ["2027-03-04T05:06:07.5+01:00", "2027-03-04T04:06:07.500Z"]] as const) {
      const response = await create({ kind: "serving", name: `until ${text}`, expiresAt: text });
      expect(response.status, text).toBe(200);
      const { apiKey } = (await response.json()).result.data.json;
      expect(new Date(apiKey.expiresAt).toISOString()).toBe(iso);
      expect((await getDb().apiKey.findUniqueOrThrow({ where: { id: apiKey.id } })).expiresAt?.toISOString()).toBe(iso);
    }
    // Loose text and an expiry already past: 400 naming the field, and no key made.
    const keysBefore = await getDb().apiKey.count();
    for (const [text, message] of [
      ["2027-02-30", "must be an ISO 8601 date"], ["12", "must be an ISO 8601 date"], ["2027-01-01T00:00:00", "must be an ISO 8601 date"],
      ["2020-01-01", "must be in the future"], [new Date(Date.now() - 60_000).toISOString(), "must be in the future"],
    ]) {
      const response = await create({ kind: "automation", name: "bad expiry", roles: ["viewer"], expiresAt: text });
      expect(response.status, text).toBe(400);
      expect((await response.json()).error.json.message, text).toMatch(new RegExp(`^expiresAt: ${message}`));
    }
    expect(await getDb().apiKey.count()).toBe(keysBefore);
    // The console's superjson caller sends a Date: the same rules.
    const caller = createCaller(contextFor(admin));
    const later = new Date(Date.now() + 86_400_000);
    expect((await caller.apiKeys.create({ kind: "serving", name: "a day", expiresAt: later })).apiKey.expiresAt?.getTime()).toBe(later.getTime());
    await expect(caller.apiKeys.create({ kind: "serving", name: "yesterday", expiresAt: new Date(Date.now() - 86_400_000) })).rejects.toMatchObject({ code: "BAD_REQUEST", message: "expiresAt: must be in the future" });
    expect((await caller.apiKeys.create({ kind: "serving", name: "forever" })).apiKey.expiresAt).toBeNull();
  });
});
