import type { Principal } from "../auth/principal";
import type { Role } from "../domain/access/permissions";
import { createCaller } from "../routers/_app";
import { contextFor } from "../trpc";

// In-process tRPC callers acting as a person with given roles (integration tests): the same
// procedures, guards and audit trail as over HTTP.

export function testPerson(roles: Role[], email = `${roles.join("-")}@rerank.test`): Principal {
  return { kind: "user", id: `test-${email}`, name: email, displayName: email, roles };
}

const stored = new Map<string, Promise<unknown>>();

/**
 * Stores `person`'s row once (created on first use and then left as tests change it): every audited
 * lever re-checks in its transaction that its person exists and is not disabled (server/audit/record.ts).
 */
export async function storePerson(person: Principal & { kind: "user" }): Promise<void> {
  // The promise is kept before anything is awaited: presses made at once share one upsert (several raced on the insert).
  if (!stored.has(person.id)) {
    stored.set(person.id, import("../db/client").then(({ getDb }) => getDb().user.upsert({ where: { id: person.id }, create: { id: person.id, email: person.name, name: person.name, roles: person.roles }, update: {} })));
  }
  await stored.get(person.id);
}

/** A caller acting as a person with `roles`, whose row is stored on its first call (storePerson); `context` adjusts the context (an actor with request headers). */
export function callerAs(roles: Role[], email?: string, context: (ctx: ReturnType<typeof contextFor>) => ReturnType<typeof contextFor> = (ctx) => ctx) {
  const principal = testPerson(roles, email) as Principal & { kind: "user" };
  return createCaller(async () => {
    await storePerson(principal);
    return context(contextFor(principal));
  });
}

/**
 * callerAs, for a person stored in the database (the same id, upserted): the levers over people and
 * keys re-check their caller's row inside their transaction (server/auth/users.ts lockAsActiveAdmin).
 */
export async function callerAsPerson(roles: Role[], email?: string) {
  const { getDb } = await import("../db/client");
  const principal = testPerson(roles, email);
  await getDb().user.upsert({ where: { id: principal.id }, create: { id: principal.id, email: principal.name, name: principal.name, roles }, update: { roles, disabled: false } });
  return createCaller(contextFor(principal));
}

/**
 * A person created as the console creates one (server/auth/users.ts createUser: a hashed password, an
 * account), as the Principal a signed-in session of theirs carries. For tests where the person's own
 * row matters (approvals by someone else, an actor re-checked inside the lever's transaction).
 */
export async function createdPerson(email: string, roles: Role[]): Promise<Principal> {
  const [{ getDb }, { createUser }] = await Promise.all([import("../db/client"), import("../auth/users")]);
  const { user } = await createUser(getDb(), { email, name: email, roles, password: "a long enough password" });
  return { kind: "user", id: user.id, name: user.email, displayName: user.name, roles };
}

const keys = new Map<string, Promise<string>>();

/**
 * `Authorization` headers with a real API key in the test database (made once per kind and roles),
 * for tests that call the HTTP endpoints: a serving key, or an automation key with `roles`.
 */
export async function keyHeaders(kind: "serving" | "automation" = "serving", roles: Role[] = []): Promise<Record<string, string>> {
  const { getDb } = await import("../db/client");
  const { createApiKey } = await import("../auth/apiKeys");
  const id = `${kind}:${roles.join(",")}`;
  if (!keys.has(id)) {
    keys.set(id, (async () => {
      const db = getDb();
      const owner = await db.user.upsert({ where: { email: "key-owner@rerank.test" }, create: { email: "key-owner@rerank.test", name: "Key owner", roles: ["admin"] }, update: {} });
      return (await createApiKey(db, { name: `test ${id}`, kind, roles }, owner.id)).key;
    })());
  }
  return { authorization: `Bearer ${await keys.get(id)!}` };
}
