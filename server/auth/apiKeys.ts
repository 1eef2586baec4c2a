import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Db } from "../db/client";
import { NotFoundError } from "../errors";
import type { Role } from "../domain/access/permissions";
import { toRoles, type Principal } from "./principal";

// API keys for machines: 32 random bytes shown once, stored as their sha256 (a key has 256 bits of
// entropy, so a plain hash is as strong as a keyed one and lets any replica look it up). Every
// request checks the key's row and its creator in PostgreSQL, so a revoked key or a disabled
// creator is refused on the next request in every replica; concurrent requests with the same key
// share one lookup.

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
}

/**
 * Creates a key and returns it once; only its hash is stored.
 * @returns `key` (e.g. `rrk_3kq…`, 47 characters) and the stored row without the hash.
 */
export async function createApiKey(db: Pick<Db, "apiKey">, input: NewApiKey, createdById: string) {
  const key = KEY_PREFIX + randomBytes(32).toString("base64url");
  const row = await db.apiKey.create({
    data: {
      name: input.name,
      kind: input.kind,
      roles: input.kind === "automation" ? (input.roles ?? []) : [],
      surfaces: input.kind === "serving" ? (input.surfaces ?? []) : [],
      expiresAt: input.expiresAt ?? null,
      prefix: key.slice(0, KEY_PREFIX.length + 6),
      keyHash: hashApiKey(key),
      createdById,
    },
    omit: { keyHash: true },
  });
  return { key, apiKey: row };
}

/** Revokes a key for every replica from its next request. Revoking twice keeps the first time. */
export async function revokeApiKey(db: Pick<Db, "apiKey">, id: string) {
  const existing = await db.apiKey.findUnique({ where: { id }, omit: { keyHash: true } });
  if (!existing) throw new NotFoundError("API key", id);
  if (existing.revokedAt) return existing;
  return db.apiKey.update({ where: { id }, data: { revokedAt: new Date() }, omit: { keyHash: true } });
}

export function listApiKeys(db: Pick<Db, "apiKey">) {
  return db.apiKey.findMany({
    orderBy: { createdAt: "desc" },
    omit: { keyHash: true },
    include: { createdBy: { select: { email: true, name: true } } },
  });
}

const inflight = new Map<string, Promise<Principal | null>>();
const lastUsedWritten = new Map<string, number>();

// Keys this process verified in the last ten minutes, by hash: honoured while the database does not
// answer within STALE_AFTER_MS (paused) or fails (refused), so that serving — whose feature reads
// already have a deadline — is not stalled by the key check. A lookup that answers always wins: a
// revoked or expired key stops working at once whenever the database is reachable.
const verified = new LRUCache<string, Principal>({ max: 10_000, ttl: 10 * 60_000 });
const STALE_AFTER_MS = 250;

/**
 * The principal behind `key`, or null when it is unknown, revoked, expired or its creator is
 * disabled. An automation key's roles are capped by its creator's current roles. One database lookup per call (shared by concurrent calls with the same key);
 * when it takes longer than 250 ms or fails, a key verified in the last ten minutes is honoured.
 */
export function verifyApiKey(db: Db, key: string): Promise<Principal | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 100) return Promise.resolve(null);
  const hash = hashApiKey(key);
  let pending = inflight.get(hash);
  if (!pending) {
    pending = lookup(db, hash)
      .then((principal) => {
        if (principal) verified.set(hash, principal);
        else verified.delete(hash);
        return principal;
      })
      .finally(() => inflight.delete(hash));
    inflight.set(hash, pending);
  }
  const known = verified.get(hash);
  if (!known) return pending;
  let timer: NodeJS.Timeout | undefined;
  const stale = new Promise<Principal>((resolve) => (timer = setTimeout(resolve, STALE_AFTER_MS, known)));
  return Promise.race([pending.then((p) => p, () => known), stale]).finally(() => clearTimeout(timer));
}

async function lookup(db: Db, hash: string): Promise<Principal | null> {
  const row = await db.apiKey.findUnique({ where: { keyHash: hash }, include: { createdBy: { select: { disabled: true, roles: true } } } });
  const now = Date.now();
  if (!row || row.revokedAt || row.createdBy.disabled || (row.expiresAt && row.expiresAt.getTime() <= now)) return null;
  if (now - (lastUsedWritten.get(row.id) ?? 0) >= LAST_USED_WRITE_MS) {
    lastUsedWritten.set(row.id, now);
    // Off the request path; a failed write only leaves last-used older.
    db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date(now) } }).catch(() => {});
  }
  // A key never acts with more than its creator holds now: demoting a person demotes their keys.
  const creator = toRoles(row.createdBy.roles);
  const roles = creator.includes("admin") ? toRoles(row.roles) : toRoles(row.roles).filter((r) => r !== "admin" && creator.includes(r));
  return { kind: "api_key", id: row.id, name: row.name, keyKind: row.kind, roles, surfaces: row.surfaces ?? [] };
}
