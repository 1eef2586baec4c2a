import { createHmac } from "node:crypto";
import { LRUCache } from "lru-cache";
import { authSecret, env } from "./config";

// What the console's own log lines may say about user data: never a raw user or session key, a
// request body or a refused row. Keys appear as a keyed hash (the same key gives the same name in
// every line and replica, and cannot be read back without the secret); rows and bodies as a count
// and a size; errors as their name, code and first message line with every quoted value replaced
// by its length, because database and JSON parser messages quote the input they refused.

// The serving path hashes the same users' and sessions' keys request after request: the last
// 50,000 hashes (~10 MB) are remembered, per secret. One per process, on globalThis.
const remembered = globalThis as unknown as { __rerankKeyedHashes?: { secret: string; hashes: LRUCache<string, string> } };

/** HMAC-SHA256 of `value` under the deployment's secret (AUTH_SECRET, else `.data/auth-secret`): 64 hex characters. */
export function keyedHash(value: string, secret: string = authSecret()): string {
  let memo = remembered.__rerankKeyedHashes;
  if (memo?.secret !== secret) memo = remembered.__rerankKeyedHashes = { secret, hashes: new LRUCache<string, string>({ max: 50_000 }) };
  let hash = memo.hashes.get(value);
  if (hash === undefined) {
    hash = createHmac("sha256", secret).update(value, "utf8").digest("hex");
    memo.hashes.set(value, hash);
  }
  return hash;
}

/** How a log line names a user or session key: "#" and the first 12 hex characters of its keyed hash. */
export function logKey(value: string, secret?: string): string {
  return `#${keyedHash(value, secret).slice(0, 12)}`;
}

const MAX_MESSAGE = 300;

/**
 * The first line of `message` with everything from its first quote (" or ') to its last replaced by
 * its length ("[5 chars]"), at most 300 characters. One span, not each pair: quoted input may hold
 * quotes itself (JSON.parse quotes the body it refused), so pairs cannot be trusted; an unpaired
 * quote masks the rest of the line.
 */
export function redactMessage(message: string): string {
  let line = message.split("\n", 1)[0]!;
  const first = line.search(/["']/);
  if (first >= 0) {
    const last = Math.max(line.lastIndexOf('"'), line.lastIndexOf("'"));
    const end = last > first ? last : line.length;
    line = `${line.slice(0, first + 1)}[${end - first - 1} chars]${line.slice(end)}`;
  }
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}…` : line;
}

function describe(error: unknown): string {
  if (typeof error !== "object" || error === null) return `thrown ${typeof error}: ${redactMessage(String(error))}`;
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  const name = typeof e.name === "string" && e.name ? e.name : "Error";
  // SQLSTATE (22P05), Prisma (P2002) or errno (ECONNREFUSED) codes say what failed without data.
  const code = typeof e.code === "string" && /^[A-Za-z0-9_]{1,40}$/.test(e.code) ? ` ${e.code}` : "";
  return `${name}${code}: ${redactMessage(typeof e.message === "string" ? e.message : "")}`;
}

/**
 * An error as a log line: name, code and redacted first message line, the same for up to three
 * causes, then (unless `stack: false`) the stack frames, which hold no data. Never the fields
 * drivers add (PostgreSQL's detail and where, query parameters), which quote the rows.
 */
export function errorForLog(error: unknown, options: { stack?: boolean } = {}): string {
  const parts = [describe(error)];
  let cause = (error as { cause?: unknown } | null)?.cause;
  for (let depth = 0; cause !== undefined && depth < 3; depth++) {
    parts.push(`cause: ${describe(cause)}`);
    cause = (cause as { cause?: unknown } | null)?.cause;
  }
  const line = parts.join(" ← ");
  if (options.stack === false) return line;
  const stack = (error as { stack?: unknown } | null)?.stack;
  const frames = typeof stack === "string" ? stack.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 10) : [];
  return [line, ...frames].join("\n");
}

/** How a log line describes rows or bodies it must not print: "1 row, 812 bytes of JSON". */
export function rowsForLog(rows: readonly unknown[]): string {
  let bytes = 0;
  for (const row of rows) {
    try {
      bytes += Buffer.byteLength(JSON.stringify(row) ?? "");
    } catch {
      // unserialisable: counted, not measured
    }
  }
  return `${rows.length} row${rows.length === 1 ? "" : "s"}, ${bytes} bytes of JSON`;
}

/**
 * A copy of `payload` in which every field named in `fields` (DEBUG_MASKED_FIELDS by default), at
 * any depth, holds the logKey of its value instead (null stays null; objects become "[masked]").
 */
export function maskFields<T>(payload: T, fields: readonly string[] = env().DEBUG_MASKED_FIELDS, secret?: string): T {
  const masked = new Set(fields);
  const seen = new WeakMap<object, unknown>();
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value !== "object" || value === null) return value;
    if (seen.has(value)) return seen.get(value);
    if (depth > 64) return "[too deep]";
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      seen.set(value, copy);
      for (const item of value) copy.push(walk(item, depth + 1));
      return copy;
    }
    if (value instanceof Date) return value;
    const copy: Record<string, unknown> = {};
    seen.set(value, copy);
    for (const [key, field] of Object.entries(value)) {
      if (!masked.has(key) || field === null || field === undefined) copy[key] = walk(field, depth + 1);
      else copy[key] = typeof field === "object" ? "[masked]" : logKey(String(field), secret);
    }
    return copy;
  };
  return walk(payload, 0) as T;
}

/** How long the same internal error (same place, same first line) is summarised instead of logged again. */
export const INTERNAL_ERROR_LOG_WINDOW_MS = 10_000;

const internalErrorLog = globalThis as unknown as { __rerankInternalErrors?: LRUCache<string, { since: number; suppressed: number }> };

/**
 * Logs a fault of ours answered with a 5xx (`where`: "[http] POST /api/v1/rerank", "[trpc] surfaces.list"):
 * errorForLog's line and frames the first time, then at most one line per INTERNAL_ERROR_LOG_WINDOW_MS
 * for the same place and first line, saying how many were not printed. During a database outage
 * every request fails the same way: the log says so once per window, not once per request.
 * @param now ms since the epoch (tests); `write` receives each line (default console.error).
 */
export function logInternalError(where: string, error: unknown, options: { now?: number; write?: (line: string) => void } = {}): void {
  const now = options.now ?? Date.now();
  const write = options.write ?? ((line: string) => console.error(line));
  const seen = (internalErrorLog.__rerankInternalErrors ??= new LRUCache({ max: 1000 }));
  const line = errorForLog(error, { stack: false });
  const key = `${where}\u0000${line}`;
  const entry = seen.get(key);
  if (entry && now - entry.since < INTERNAL_ERROR_LOG_WINDOW_MS) {
    entry.suppressed++;
    return;
  }
  const repeats = entry?.suppressed ? ` (and ${entry.suppressed} more like it in the last ${Math.round((now - entry.since) / 1000)} s)` : "";
  seen.set(key, { since: now, suppressed: 0 });
  write(`${where}: ${entry ? line : errorForLog(error)}${repeats}`);
}
