import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import { env } from "../config";
import type { Db } from "../db/client";
import { configListenerUp, onConfigChange } from "../db/configChanges";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { rolesAllow, SERVING_PERMISSIONS, type Role } from "../domain/access/permissions";
import { describeRateLimit } from "../domain/admission/rateLimit";
import { changedSince } from "../domain/changedSince";
import { withDeadline } from "../domain/time/deadline";
import { rateLimitOf, storedRateLimit } from "./keyRateLimit";
import { toRoles, type Principal } from "./principal";

// API keys for machines: 32 random bytes shown once, stored as their sha256 (a key has 256 bits of
// entropy, so a plain hash is as strong as a keyed one and lets any replica look it up).
//
// A key's verdict (its principal, or refused) is cached in process, so a request with a known key
// costs no database read. A change to any key or person (revocation, expiry, roles, disabling)
// fires a NOTIFY in its own transaction (migration 20261129140000_config_notify); every process's
// listener (server/db/configChanges.ts) then forgets every verdict, so the change holds in every
// replica within milliseconds of its commit — and at once in the process that made it. Backstops:
// a verdict is re-checked after CONFIG_BACKSTOP_MS even so, and after CONFIG_WATCH_INTERVAL_MS while
// the listener is down; an expiry time is checked on every request. Concurrent first requests with
// the same key share one lookup.

const KEY_PREFIX = "rrk_";
/** last_used_at is written at most this often per key and process (ms), not on every request. */
const LAST_USED_WRITE_MS = 60_000;

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export interface NewApiKey {
  name: string;
  kind: "serving" | "automation";
  roles?: Role[];
  surfaces?: string[];
  expiresAt?: Date | null;
  /** Serving keys: requests per second and burst (null burst: one second's worth); null: no limit. */
  rateLimit?: { rate: number; burst: number | null } | null;
}

/**
 * Creates a key and returns it once; only its hash is stored.
 * @returns `key` (e.g. `rrk_3kq…`, 47 characters) and the stored row without the hash.
 */
export async function createApiKey(db: Pick<Db, "apiKey">, input: NewApiKey, createdById: string) {
  const key = KEY_PREFIX + randomBytes(32).toString("base64url");
  const limit = input.kind === "serving" ? storedRateLimit(input.rateLimit) : null;
  const row = await db.apiKey.create({
    data: {
      name: input.name,
      kind: input.kind,
      roles: input.kind === "automation" ? (input.roles ?? []) : [],
      surfaces: input.kind === "serving" ? (input.surfaces ?? []) : [],
      expiresAt: input.expiresAt ?? null,
      rateLimit: limit?.rate ?? null,
      rateBurst: limit?.burst ?? null,
      prefix: key.slice(0, KEY_PREFIX.length + 6),
      keyHash: hashApiKey(key),
      createdById,
    },
    omit: { keyHash: true },
  });
  return { key, apiKey: row };
}

/**
 * Revokes a key, in `tx`. The caller forgets cached verdicts once it commits (forgetVerifiedKeys):
 * the key is then refused at once in this process, in the others when the change's NOTIFY arrives
 * (milliseconds; within CONFIG_WATCH_INTERVAL_MS while their listener is down).
 * @returns the key, and `revoked`: false when it was revoked already (it keeps its first revocation
 *   time; of two revocations at once, one is the change and the other finds it done).
 * @throws NotFoundError for an unknown id.
 */
export async function revokeApiKey(tx: Pick<Db, "apiKey">, id: string) {
  // Conditional: a concurrent revocation waits for this row's lock and then matches nothing.
  const { count } = await tx.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  const apiKey = await tx.apiKey.findUnique({ where: { id }, omit: { keyHash: true } });
  if (!apiKey) throw new NotFoundError("API key", id);
  return { apiKey, revoked: count === 1 };
}

/** A limit in words, as the API keys page says it. */
const limitWords = (limit: { rate: number; burst: number | null } | null) => (limit ? describeRateLimit(limit) : "no limit of its own");

/**
 * Sets a serving key's rate limit (null: none), in `tx`, its row locked. The change reaches every
 * process as any key change does (NOTIFY; the verdict caches forget the key).
 * `expect`: the limit the caller's dialog showed (null: none; undefined: not pinned), compared as
 * stored (a burst spelt as the rate's default is the default) under the lock.
 * @returns before and after ({ rate, burst } or null), and `changed`: false when it was already so.
 * @throws NotFoundError for an unknown id; InvalidInputError (`id`) for an automation key (it does
 *   not serve) or a revoked one; ConflictError when the limit is no longer `expect` (nothing written).
 */
export async function setApiKeyRateLimit(tx: Pick<Db, "apiKey" | "$queryRaw">, id: string, limit: { rate: number; burst: number | null } | null, expect?: { rate: number; burst: number | null } | null) {
  await tx.$queryRaw`SELECT 1 FROM api_keys WHERE id = ${id} FOR UPDATE`;
  const row = await tx.apiKey.findUnique({ where: { id }, omit: { keyHash: true } });
  if (!row) throw new NotFoundError("API key", id);
  if (row.kind !== "serving") throw new InvalidInputError("id", `"${row.name}" is an automation key: only serving keys send the requests a rate limit counts`);
  if (row.revokedAt) throw new InvalidInputError("id", `"${row.name}" is revoked: it sends nothing a limit could count`);
  const before = row.rateLimit === null ? null : { rate: row.rateLimit, burst: row.rateBurst };
  if (expect !== undefined && JSON.stringify(storedRateLimit(expect)) !== JSON.stringify(storedRateLimit(before))) {
    throw new ConflictError(changedSince({ what: `the rate limit of "${row.name}"`, change: { shown: limitWords(expect), now: limitWords(before) }, since: "shown" }));
  }
  const after = storedRateLimit(limit);
  const changed = JSON.stringify(before) !== JSON.stringify(after);
  const apiKey = changed ? await tx.apiKey.update({ where: { id }, data: { rateLimit: after?.rate ?? null, rateBurst: after?.burst ?? null }, omit: { keyHash: true } }) : row;
  return { apiKey, before, after, changed };
}

export function listApiKeys(db: Pick<Db, "apiKey">) {
  return db.apiKey.findMany({
    orderBy: { createdAt: "desc" },
    omit: { keyHash: true },
    include: { createdBy: { select: { email: true, name: true } } },
  });
}

interface Verdict {
  principal: Principal | null;
  /** Epoch ms of the lookup. */
  checkedAt: number;
  /** Epoch ms after which the key is expired (null: never). */
  expiresAt: number | null;
}

interface KeyCache {
  verdicts: LRUCache<string, Verdict>;
  inflight: Map<string, Promise<Verdict>>;
  lastUsedWritten: Map<string, number>;
  /** Bumped by every invalidation: a lookup that started before one does not store its verdict. */
  generation: number;
  subscribed: boolean;
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankApiKeys?: KeyCache };
const cache: KeyCache = (holder.__rerankApiKeys ??= {
  // Bounded: keys sprayed by a caller (unknown ones are cached as refused) cannot grow it without end.
  verdicts: new LRUCache<string, Verdict>({ max: 10_000 }),
  inflight: new Map(),
  lastUsedWritten: new Map(),
  generation: 0,
  subscribed: false,
});

/** Forgets every cached verdict in this process (the listener calls it on any key or person change). */
export function forgetVerifiedKeys(): void {
  cache.generation++;
  cache.verdicts.clear();
  cache.inflight.clear();
}

/**
 * The principal behind `key`, or null when it is unknown, revoked, expired or its creator is
 * disabled. An automation key's roles are capped by its creator's current roles. Served from the
 * process's cache (see above); a database lookup on a miss, shared by concurrent calls with the same key.
 *
 * A cached verdict that is due for a re-read (CONFIG_BACKSTOP_MS with the change listener up,
 * CONFIG_WATCH_INTERVAL_MS without) is served while the re-read runs in the background
 * (stale-while-revalidate), up to API_KEY_STALE_MAX_MS old: a database that stalls must not hold
 * every request of a known key. Without a usable verdict the request waits for the lookup at most
 * API_KEY_LOOKUP_TIMEOUT_MS. Errors: the lookup's own (database unreachable), or an error with code
 * ETIMEDOUT past the deadline; both map to 503 (server/errorMapping.ts).
 */
export async function verifyApiKey(db: Db, key: string): Promise<Principal | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 100) return null;
  if (!cache.subscribed) {
    cache.subscribed = true;
    onConfigChange((topic) => topic !== "surfaces" && forgetVerifiedKeys());
  }
  const now = Date.now();
  const settings = env();
  let verdict = cache.verdicts.get(key);
  if (!verdict || now - verdict.checkedAt > (configListenerUp() ? settings.CONFIG_BACKSTOP_MS : settings.CONFIG_WATCH_INTERVAL_MS)) {
    const pending = refresh(db, key);
    if (!verdict || now - verdict.checkedAt > settings.API_KEY_STALE_MAX_MS) verdict = await withinLookupDeadline(pending, settings.API_KEY_LOOKUP_TIMEOUT_MS);
  }
  const { principal } = verdict;
  if (!principal || (verdict.expiresAt !== null && verdict.expiresAt <= now)) return null;
  if (now - (cache.lastUsedWritten.get(principal.id) ?? 0) >= LAST_USED_WRITE_MS) {
    cache.lastUsedWritten.set(principal.id, now);
    // Off the request path; a failed write only leaves last-used older.
    db.apiKey.update({ where: { id: principal.id }, data: { lastUsedAt: new Date(now) } }).catch(() => {});
  }
  return principal;
}

/** The lookup of `key` in flight, or a new one (stored as the key's verdict when no invalidation came in between). */
function refresh(db: Db, key: string): Promise<Verdict> {
  const inflight = cache.inflight.get(key);
  if (inflight) return inflight;
  const generation = cache.generation;
  const pending = lookup(db, hashApiKey(key)).then((v) => {
    if (cache.generation === generation) cache.verdicts.set(key, v);
    return v;
  });
  cache.inflight.set(key, pending);
  // A background re-read that fails leaves the cached verdict (and is tried again on the next request).
  void pending.finally(() => cache.inflight.get(key) === pending && cache.inflight.delete(key)).catch(() => {});
  return pending;
}

/** `pending`, or an ETIMEDOUT error (503) once `ms` pass first; the lookup itself goes on and fills the cache. */
function withinLookupDeadline(pending: Promise<Verdict>, ms: number): Promise<Verdict> {
  return withDeadline(pending, ms, () => {
    throw Object.assign(new Error(`the API key could not be checked: the database did not answer within ${ms} ms`), { code: "ETIMEDOUT" });
  });
}

async function lookup(db: Db, hash: string): Promise<Verdict> {
  const row = await db.apiKey.findUnique({ where: { keyHash: hash }, include: { createdBy: { select: { disabled: true, roles: true } } } });
  const checkedAt = Date.now();
  if (!row || row.revokedAt || row.createdBy.disabled) return { principal: null, checkedAt, expiresAt: null };
  // A key never acts with more than its creator holds now: demoting a person demotes their keys, a
  // serving key's too (it kept serving for a creator demoted to viewer).
  const creator = toRoles(row.createdBy.roles);
  const roles = creator.includes("admin") ? toRoles(row.roles) : toRoles(row.roles).filter((r) => r !== "admin" && creator.includes(r));
  const principal: Principal = { kind: "api_key", id: row.id, name: row.name, keyKind: row.kind, roles, surfaces: row.surfaces ?? [] };
  if (row.kind === "serving") {
    principal.serving = SERVING_PERMISSIONS.filter((p) => rolesAllow(creator, p));
    const limit = rateLimitOf(row);
    if (limit) principal.rateLimit = limit;
  }
  return { principal, checkedAt, expiresAt: row.expiresAt?.getTime() ?? null };
}
