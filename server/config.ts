import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { z } from "zod";

// Every environment variable the console reads, declared once: its zod parser (type, bounds,
// default) and the one-line description the README's table is generated from (npm run docs:config).
// Parsed on first use, not at import: `next build` imports server code with no DATABASE_URL, and
// tests change variables between runs (setEnv). The result is cached on globalThis so that every
// bundle Next makes of this module (instrumentation, route handlers) shares one parse.

/** Which README table a setting is listed in. */
type Scope = "console" | "tests";

export interface Setting<T> {
  /** Parses the raw value: undefined when the variable is unset or blank. */
  schema: z.ZodType<T>;
  /** Completes "NAME must be …": the accepted values, in words. */
  expected: string;
  /** One line for the README's table. */
  doc: string;
  /** The README's default column (Markdown). */
  defaultDoc: string;
  scope: Scope;
  /** How a rejected value is echoed in the error line; secrets are never echoed. */
  show: (raw: string) => string;
}

interface Common {
  doc: string;
  defaultDoc?: string;
  scope?: Scope;
}

const quoted = (raw: string) => JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
const lengthOnly = (raw: string) => `a value of ${raw.length} character${raw.length === 1 ? "" : "s"}`;

function setting<T>(schema: z.ZodType<T>, expected: string, o: Common & { fallback?: T | (() => T); show?: (raw: string) => string }): Setting<T> {
  const withDefault = o.fallback === undefined ? schema.optional() : schema.default(o.fallback as never);
  const defaultDoc = o.defaultDoc ?? (o.fallback === undefined ? "unset" : `\`${String(o.fallback)}\``);
  return { schema: withDefault as z.ZodType<T>, expected, doc: o.doc, defaultDoc, scope: o.scope ?? "console", show: o.show ?? quoted };
}

const digits = (n: number) => n.toLocaleString("en-US").replaceAll(",", "");

function integer(o: Common & { min: number; max: number; default: number | (() => number) }): Setting<number>;
function integer(o: Common & { min: number; max: number }): Setting<number | undefined>;
function integer(o: Common & { min: number; max: number; default?: number | (() => number) }): Setting<number | undefined> {
  const schema = z.string().regex(/^[+-]?\d+$/).transform(Number).pipe(z.number().int().min(o.min).max(o.max));
  return setting<number | undefined>(schema, `an integer from ${digits(o.min)} to ${digits(o.max)}`, { ...o, fallback: o.default });
}

/** A number in (min, max] when exclusiveMin, else [min, max]. */
function decimal(o: Common & { min: number; max: number; exclusiveMin?: boolean; default: number }): Setting<number> {
  const bounded = o.exclusiveMin ? z.number().gt(o.min).lte(o.max) : z.number().gte(o.min).lte(o.max);
  const schema = z.string().regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/).transform(Number).pipe(bounded);
  const expected = o.exclusiveMin ? `a number above ${o.min} and at most ${o.max}` : `a number from ${o.min} to ${o.max}`;
  return setting(schema, expected, { ...o, fallback: o.default });
}

const TRUE = ["1", "true", "yes", "on"];
const FALSE = ["0", "false", "no", "off"];

/** A yes/no switch: 1/0, true/false, yes/no, on/off (any case). */
function flag(o: Common & { default: boolean }): Setting<boolean> {
  const schema = z.string().transform((s) => s.toLowerCase()).pipe(z.enum([...TRUE, ...FALSE])).transform((s) => TRUE.includes(s));
  return setting(schema, "1 or 0 (also true/false, yes/no, on/off)", { ...o, fallback: o.default });
}

function choice<const V extends readonly [string, ...string[]]>(values: V, o: Common & { default: V[number] }): Setting<V[number]> {
  const schema = z.string().transform((s) => s.toLowerCase()).pipe(z.enum(values));
  return setting(schema, values.map((v) => `"${v}"`).join(" or "), { ...o, fallback: o.default });
}

/** Comma-separated items, blanks ignored; each item must match `item`. */
function list(item: z.ZodType<string, string>, expected: string, o: Common & { default: string[] }): Setting<string[]>;
function list(item: z.ZodType<string, string>, expected: string, o: Common): Setting<string[] | undefined>;
function list(item: z.ZodType<string, string>, expected: string, o: Common & { default?: string[] }): Setting<string[] | undefined> {
  const schema = z.string().transform((s) => s.split(",").map((part) => part.trim()).filter(Boolean)).pipe(z.array(item).min(1));
  return setting<string[] | undefined>(schema, expected, { ...o, fallback: o.default });
}

interface TextOptions extends Common {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** Never echoed in an error line, only its length. */
  sensitive?: boolean;
}

function text(expected: string, o: TextOptions & { default: string | (() => string) }): Setting<string>;
function text(expected: string, o: TextOptions): Setting<string | undefined>;
function text(expected: string, o: TextOptions & { default?: string | (() => string) }): Setting<string | undefined> {
  let schema = z.string().min(o.min ?? 1).max(o.max ?? 4096);
  if (o.pattern) schema = schema.regex(o.pattern);
  return setting<string | undefined>(schema, expected, { ...o, fallback: o.default, show: o.sensitive ? lengthOnly : quoted });
}

const PORT = { min: 1, max: 65_535 };
// host[:port]: a DNS name, an IPv4 address or a bracketed IPv6 address; port 1–65535.
const HOST_AND_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)(:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5]))?$/;

const postgresUrl = z.string().refine((raw) => {
  try {
    const url = new URL(raw);
    return (url.protocol === "postgresql:" || url.protocol === "postgres:") && url.hostname !== "";
  } catch {
    return false;
  }
});
const httpUrl = z.string().refine((raw) => {
  try {
    const url = new URL(raw);
    return (url.protocol === "http:" || url.protocol === "https:") && !url.search && !url.hash;
  } catch {
    return false;
  }
}).transform((raw) => raw.replace(/\/+$/, ""));

/**
 * A database URL as it may be shown: the userinfo's password (everything between the user's ":" and
 * the last "@" before the query, so an unescaped "/" or "@" in it stays hidden) and any `password=`
 * parameter become "***" (break test: "postgres://u:Ab+/cd==@…" and "?password=s3cretpw" were echoed).
 */
export function withoutPassword(raw: string): string {
  let out = raw;
  const start = out.indexOf("//");
  if (start >= 0) {
    const query = out.indexOf("?", start + 2);
    const at = out.lastIndexOf("@", query < 0 ? out.length : query);
    const colon = out.indexOf(":", start + 2);
    if (at > start && colon >= 0 && colon < at) out = `${out.slice(0, colon + 1)}***${out.slice(at)}`;
  }
  return out.replace(/([?&]password=)[^&]*/gi, "$1***");
}

/** The settings, in the README's order. */
export const SETTINGS = {
  DATABASE_URL: setting<string | undefined>(postgresUrl, "a PostgreSQL URL such as postgresql://postgres@127.0.0.1:5432/rerank", {
    doc: "PostgreSQL to use, e.g. `postgresql://postgres@127.0.0.1:5432/rerank`. A missing database on a reachable server is created. An unreachable server makes `npm start` exit 1 with one line naming host and port.",
    defaultDoc: "unset: embedded PostgreSQL",
    // Echo the URL without its password.
    show: (raw) => quoted(withoutPassword(raw)),
  }),
  DATABASE_POOL_SIZE: integer({ min: 1, max: 200, default: 10, doc: "connections per server process" }),
  PORT: integer({ ...PORT, doc: "HTTP port of `npm start` (also `--port`)", defaultDoc: "first free of 3000–3003" }),
  HOST: text("a host name or IP address such as 127.0.0.1, 0.0.0.0 or :: (IPv6 without brackets)", {
    pattern: /^[A-Za-z0-9.:-]+$/,
    max: 253,
    default: "127.0.0.1",
    doc: "interface to listen on (also `--host`; `0.0.0.0` for all)",
  }),
  ALLOWED_HOSTS: list(z.string().transform((s) => s.toLowerCase()).pipe(z.string().refine((h) => h === "*" || HOST_AND_PORT.test(h.replace(/^\*\./, "")))), "a comma-separated list of host[:port] patterns such as console.example.com,*.corp.example,10.0.0.5:3000 (or *)", {
    doc: "`Host` header values the server answers, others get 421 (`*.domain` for subdomains, no port = any port, `*` = any host)",
    defaultDoc: "the listen address, `localhost`, `127.0.0.1`, `[::1]` on the listen port",
  }),
  TRUST_PROXY: choice(["off", "on"], { default: "off", doc: "`on` behind a reverse proxy or load balancer: the client address (sign-in limits, audit trail) is the one it appended to `X-Forwarded-For`, not the socket's" }),
  SIGN_IN_ATTEMPTS_PER_MINUTE: integer({ min: 1, max: 10_000, default: 5, doc: "sign-in attempts (successful or not) a client address may make per minute, counted in PostgreSQL across replicas; more get 429. Password changes (which check the current password) are limited alike" }),
  RERANK_DEV: flag({ default: false, defaultDoc: "`0`", doc: "set by `npm run dev` for its server process: Next.js in development mode (hot reload)" }),
  PUBLIC_URL: setting<string | undefined>(httpUrl, "an http:// or https:// URL without query or fragment, such as https://rerank.example.com", {
    doc: "the address users reach the console at, behind a proxy (links in messages, allowed origin of sign-in)",
    defaultDoc: "unset: the listen address",
  }),
  SERVING_AUTH: choice(["on", "off"], {
    default: "on",
    doc: "`off` serves /api/v1/rerank and /api/v1/events without an API key (a trusted network only; a warning at start)",
  }),
  METRICS_AUTH: choice(["off", "on"], { default: "off", doc: "`on` puts /api/metrics behind an API key" }),
  AUTH_SECRET: text("at least 32 characters (e.g. openssl rand -base64 32)", {
    min: 32,
    sensitive: true,
    doc: "key for session signing and the keyed hashes of user and session keys; shared by every replica",
    defaultDoc: "unset: generated into `.data/auth-secret` (mode 600) on first start",
  }),
  ADMIN_EMAIL: setting<string | undefined>(z.email(), "an email address", { doc: "email of the first admin, created on an empty database", defaultDoc: "unset: generated" }),
  ADMIN_PASSWORD: text("8 to 128 characters", { min: 8, max: 128, sensitive: true, doc: "password of the first admin", defaultDoc: "unset: generated, printed once" }),
  FIRST_RUN_CREDENTIALS_FILE: text("a file path", {
    default: () => path.join(".data", "first-run-credentials.json"),
    defaultDoc: "`.data/first-run-credentials.json`",
    doc: "where `npm start` writes the first admin's sign-in and the demo API key (mode 600) on a first start",
  }),
  DEBUG_MASKED_FIELDS: list(z.string().regex(/^[A-Za-z_$][\w$-]*$/), "a comma-separated list of field names such as userKey,sessionKey", {
    default: ["userKey", "sessionKey"],
    defaultDoc: "`userKey,sessionKey`",
    doc: "fields whose values debug payloads and logs show as a keyed hash",
  }),
  MODEL_MAX_BYTES: integer({ min: 1, max: 1_073_741_824, default: 52_428_800, defaultDoc: "`52428800` (50 MiB)", doc: "largest model artifact the registry accepts" }),
  MODEL_MAX_FEATURES: integer({ min: 1, max: 65_536, default: 4096, doc: "most input features an uploaded or imported model may declare" }),
  MODEL_MAX_TREES: integer({ min: 1, max: 1_000_000, default: 20_000, doc: "most trees an imported LightGBM / XGBoost model may have" }),
  MODEL_MAX_NODES: integer({ min: 1, max: 100_000_000, default: 4_000_000, doc: "most nodes (splits and leaves, all trees together) an imported model may have" }),
  RERANK_MAX_IN_FLIGHT: integer({ min: 2, max: 100_000, default: 64, doc: "serving requests (/api/v1/rerank, /v1/rerank, /v2/rerank) a worker process runs at once before callers share it fairly: from half of it on, a caller holding its share (this over the callers in flight) gets 429 with Retry-After; twice it in all, 503" }),
  MODEL_UPLOAD_CONCURRENCY: integer({ min: 1, max: 64, default: 2, doc: "model uploads a process converts at once; more get 503 with Retry-After" }),
  MODEL_IMPORT_TIMEOUT_MS: integer({ min: 1000, max: 3_600_000, default: 60_000, doc: "longest an upload's parse, conversion and smoke test may run (in a worker thread) before it is refused" }),
  MODEL_UPLOAD_DIR: text("a directory path", { default: () => tmpdir(), defaultDoc: "the system's temporary folder", doc: "where uploads stream to (one folder per upload, removed when it is answered)" }),
  MODEL_IMPORT_MEMORY_MB: integer({ min: 64, max: 16_384, default: 1024, doc: "heap limit of the worker thread that parses, converts and smoke-tests an upload" }),
  RERANK_MAX_PAYLOAD_BYTES: integer({ min: 1024, max: 67_108_864, default: 1_048_576, doc: "largest rerank / events request body" }),
  // turbopackIgnore: the build would otherwise trace everything under .data (the auth secret, the embedded database) into its output.
  TELEMETRY_SPILL_DIR: text("a directory path", { default: () => path.join(/*turbopackIgnore: true*/ process.cwd(), ".data", "spill"), defaultDoc: "`.data/spill`", doc: "where unwritten log rows wait during a database outage" }),
  EVENTS_ACK: choice(["durable", "buffered"], {
    default: "durable",
    doc: "`durable`: POST /api/v1/events answers once its events are in PostgreSQL or fsynced to the spill file (group commit), so a crash loses no acknowledged event; `buffered` answers at once (benchmarks only)",
  }),
  SHUTDOWN_DRAIN_MS: integer({ min: 0, max: 600_000, default: 10_000, doc: "on SIGTERM/SIGINT, how long the server waits for requests in flight before it closes their connections, flushes the logs and exits" }),
  WORKERS: integer({
    min: 1,
    max: 64,
    default: () => Math.min(8, availableParallelism()),
    defaultDoc: "one per core, at most 8 (`npm run dev` and the tests: 1)",
    doc: "server processes sharing the port (node:cluster); each has its own telemetry writer, spill file and config watch, and /api/metrics joins them (counts summed, states such as an open circuit at their maximum, `process_max_fds` at the least, `process_open_fds` and `process_start_time_seconds` at the most)",
  }),
  WORKER_HANG_TIMEOUT_MS: integer({
    min: 1_000,
    max: 600_000,
    default: 30_000,
    doc: "with WORKERS > 1, how long a worker may leave the primary's heartbeats unanswered (its event loop blocked, or the process stopped) before the primary kills it and starts it again; counted in `rerank_worker_restarts_total{reason=\"hang\"}`",
  }),
  RERANK_WORKER_ID: integer({ min: 1, max: 64, defaultDoc: "unset: not a worker", doc: "set by the primary for each of its workers (WORKERS > 1), not by hand: the worker's number in logs, in `x-rerank-worker` and for the IPC between workers" }),
  TELEMETRY_BUFFER_MAX_BYTES: integer({
    min: 1_048_576,
    max: 68_719_476_736,
    default: 67_108_864,
    defaultDoc: "`67108864` (64 MiB)",
    doc: "heap each telemetry stream's memory buffer may hold (request log, outcome events, shadow comparisons, scoring samples; estimated) before rows wait in the spill file instead, as during a database outage; counted in `rerank_telemetry_overflow_rows`",
  }),
  TELEMETRY_FLUSH_INTERVAL_MS: integer({
    min: 10,
    max: 60_000,
    default: 200,
    doc: "how often each telemetry stream writes its buffered rows (request log, shadow comparisons, scoring samples; outcome events are written when acknowledged). A SIGKILL loses the request rows of about one interval; longer intervals write bigger batches (measured at 550 req/s: 1,000 ms took the database thread's CPU per request from 58 to 26 µs and PostgreSQL's from 80 to 58 µs)",
  }),
  TELEMETRY_DISABLED: flag({ default: false, defaultDoc: "`0`", doc: "`1` serves without writing the request log (benchmarks only)" }),
  BREAKER_RESET_MS: integer({ min: 10, max: 3_600_000, default: 5000, doc: "how long an open circuit waits before a trial request" }),
  SHADOW_QUEUE_MAX: integer({ min: 1, max: 100_000, default: 64, doc: "mirrored requests waiting to be scored by a shadow model; beyond it mirrors are dropped and counted" }),
  DRIFT_SAMPLE_ROWS: integer({ min: 1, max: 1_000_000, default: 2000, doc: "feature rows each process keeps per surface and model version for drift checks" }),
  DRIFT_ROW_RATE: decimal({ min: 0, max: 1, exclusiveMin: true, default: 0.04, doc: "chance that a scored feature row is offered to that sample" }),
  DEBUG_SAMPLE_RATE: decimal({ min: 0, max: 1, default: 0.01, doc: "share of requests whose full scoring rows (features of the served items, scores, stage timings) are kept for the Debug page; requests sent from the Debug page are always kept" }),
  ROLLOUT_TICK_MS: integer({ min: 100, max: 3_600_000, default: 5000, doc: "how often a running canary is judged (one queued job per rollout, run by any process with a job worker)" }),
  CONFIG_WATCH_INTERVAL_MS: integer({ min: 10, max: 600_000, default: 500, doc: "how often each process polls surfaces, aliases and API keys for changes while its LISTEN connection is down" }),
  MODEL_THREAD_NICE: integer({ min: 0, max: 19, default: 10, doc: "how much nicer than the process the model worker threads run (heavy tabular models, cross-encoders; added to the process's nice value, at most 19; Linux sets it per thread): their runs yield the cores to the event loop serving light requests and to PostgreSQL when both want them; 0 leaves them at the process's priority" }),
  MODEL_THREAD_SCHED: choice(["normal", "idle"], {
    default: "normal",
    doc: "Linux scheduling policy of the model worker threads: `idle` (SCHED_IDLE, set with util-linux's `chrt`) lets the event loop and PostgreSQL preempt a model run the moment they wake up (tabular p99 beside text traffic ×0.84–1.02 instead of ×1.30–1.50, `npm run bench:text`), but a model thread then runs only on CPU nothing else wants: on a saturated machine text requests all fall back, and the event loop stalls while a starved model thread holds something it needs (worst stalls 0.35–1.3 s against under 0.1 s with `normal`, `npm run bench:saturation`), hence not the default. `normal` leaves them at MODEL_THREAD_NICE",
  }),
  API_KEY_LOOKUP_TIMEOUT_MS: integer({ min: 10, max: 60_000, default: 1000, doc: "longest a request waits for the database to look up an API key this process has no usable verdict for; past it the request gets 503 (the database is unavailable)" }),
  API_KEY_STALE_MAX_MS: integer({ min: 0, max: 86_400_000, default: 300_000, defaultDoc: "`300000` (5 min)", doc: "how long a verified API key's cached verdict keeps serving while its re-read is slow or failing (a database outage): a due re-read runs in the background and the request goes on with the cached verdict; older than this, the request waits for the re-read (at most API_KEY_LOOKUP_TIMEOUT_MS)" }),
  MODEL_WARM_WAIT_MS: integer({ min: 0, max: 600_000, default: 10_000, doc: "longest a config change that brings in a model (a canary's start, an alias moved to a new version, a new shadow, cascade stage or experiment arm) waits in each process for the model to open (on the scoring pool's threads too, for a heavy one) before that process serves the change; past it the change is served and the model finishes opening in the background (meanwhile a request waits for it at most its budget, then its fallback serves it as a timeout). Changes that bring in no model (a kill switch, a rollback to a serving version) never wait" }),
  CONFIG_BACKSTOP_MS: integer({ min: 0, max: 3_600_000, default: 30_000, doc: "while the LISTEN connection is up (changes arrive by NOTIFY), how often surface configs and verified API keys are re-read anyway" }),
  CROSS_ENCODER_WORKERS: integer({
    min: 1,
    max: 64,
    // One core stays for the event loop and PostgreSQL: on 2 cores tabular p99 read ×0.8–2.4 beside
    // two model threads and ×0.5–1.9 beside one (`npm run bench:text`, 2026-11-30: within its noise,
    // but a model thread per core leaves the loop none of its own). At most 4: each thread holds its
    // own copy of every bundle (a MiniLM-L6 export is ~90 MB).
    default: () => Math.max(1, Math.min(4, availableParallelism() - 1)),
    defaultDoc: "cores − 1, at least 1 and at most 4",
    doc: "worker threads that run text cross-encoders (POST /v2/rerank), off the event loop; each holds its own copy of every cross-encoder it has served",
  }),
  CROSS_ENCODER_MAX_BATCH: integer({ min: 0, max: 4096, default: 64, doc: "most (query, document) pairs one cross-encoder run scores: text rerank requests that arrive while every cross-encoder worker is busy share the next free worker's run; `0` turns dynamic batching off (one run per request)" }),
  CROSS_ENCODER_MAX_WAIT_MS: integer({
    min: 0,
    max: 1000,
    // 0: a timer per batch is one more wake-up of the event loop per batch, and under load requests batch anyway (crossEncoder/pool.ts).
    default: 0,
    doc: "longest a text rerank request that finds a cross-encoder worker free waits for others to share its run; `0` sends it at once (requests that arrive while every worker is busy are batched either way)",
  }),
  INFERENCE_THREADS: integer({
    min: 1,
    max: 64,
    // Two threads score a tree ensemble ~3× faster on 2 cores; more rarely help a single request.
    default: () => Math.max(1, Math.min(2, availableParallelism())),
    defaultDoc: "`2` (or 1 on a single core)",
    doc: "threads one onnxruntime run may use; two score a 100-tree ensemble ~3× faster on 2 cores (`npm run bench:models`)",
  }),
  INFERENCE_WORKER_MS: decimal({ min: 0, max: 60_000, default: 1, doc: "a model whose run over 100 candidates takes longer (ms, measured when it is opened) is scored on a worker thread, so it never blocks other requests" }),
  INFERENCE_WORKERS: integer({ min: 1, max: 64, default: 1, doc: "worker threads for heavy models (see INFERENCE_WORKER_MS)" }),
  FEATURE_CACHE_REFRESH_MS: integer({ min: 100, max: 86_400_000, default: 60_000, doc: "age after which a cached item's features are re-read in the background" }),
  JOBS_ENABLED: flag({ default: true, defaultDoc: "`1`", doc: "`0` runs no job worker in this process (jobs still queue in PostgreSQL for the replicas that run one): webhook deliveries, retention" }),
  JOBS_CONCURRENCY: integer({ min: 1, max: 64, default: 4, doc: "jobs one server process runs at once (webhook deliveries mostly wait on the network)" }),
  JOBS_POLL_INTERVAL_MS: integer({ min: 100, max: 600_000, default: 2000, doc: "how often the worker looks for due jobs besides PostgreSQL's LISTEN/NOTIFY wake-up (retries and scheduled jobs become due without a notification)" }),
  WEBHOOK_TIMEOUT_MS: integer({ min: 100, max: 120_000, default: 10_000, doc: "how long one webhook delivery attempt may take (connect, send, response) before it counts as failed" }),
  WEBHOOK_MAX_ATTEMPTS: integer({ min: 1, max: 25, default: 8, doc: "attempts per webhook delivery; retries wait 2.7 s, 7.4 s, 20 s, 55 s, 2.5 min, 6.7 min, 18 min … (the job queue's backoff)" }),
  WEBHOOK_PRIVATE_ADDRESSES: choice(["allow", "deny"], {
    default: "allow",
    doc: "`deny` refuses webhook URLs that resolve to loopback or private addresses (127/8, 10/8, 172.16/12, 192.168/16, 100.64/10, ::1, fc00::/7); link-local and unspecified addresses (cloud metadata at 169.254.169.254) are refused either way",
  }),
  RETENTION_DAYS: integer({ min: 1, max: 3650, default: 30, doc: "days of request log, outcome events and shadow records kept; older day partitions are dropped daily (rollups stay)" }),
  FEATURE_READ_BUDGET_SHARE: decimal({
    min: 0,
    max: 10,
    exclusiveMin: true,
    default: 0.5,
    doc: "share of a surface's latency budget (its `timeoutMs`) a request waits for features missing from the in-process cache; past it (or when the read fails) those candidates and the user are served with the features' defaults, counted (`rerank_feature_reads_timed_out_total`) and marked (`features.timedOut`)",
  }),
  FEATURE_CACHE_MAX_BYTES: integer({ min: 1_048_576, max: 68_719_476_736, default: 268_435_456, defaultDoc: "`268435456` (256 MiB)", doc: "heap the in-process feature store may hold (estimated; known items 11/16, unknown item ids 1/16, users with features 3/16, user keys without 1/16: FEATURE_CACHE_SHARES in server/features/store.ts), least recently used first out" }),
  RECENT_RESPONSES_MAX_BYTES: integer({ min: 1_048_576, max: 68_719_476_736, default: 67_108_864, defaultDoc: "`67108864` (64 MiB)", doc: "heap the recent responses may hold (estimated; idempotent replays, checking events before the log is written), shared fairly among the callers that sent them (over it, the least recently used response of the caller holding the most goes first); also at most 20,000 and an hour old" }),

  OTEL_EXPORTER_OTLP_ENDPOINT: setting<string | undefined>(httpUrl, "an http:// or https:// URL such as http://otel-collector:4318", { doc: "OpenTelemetry collector (OTLP/HTTP): when set, each rerank request is traced, a span per pipeline stage, sent to its /v1/traces" }),
  OTEL_TRACES_SAMPLER: choice(["parentbased_traceidratio", "traceidratio", "parentbased_always_on", "always_on", "parentbased_always_off", "always_off"], {
    default: "parentbased_traceidratio",
    doc: "which requests are traced (head sampling, the OpenTelemetry SDK's samplers by their spec names); with a ratio, requests served by a fallback are traced always",
  }),
  OTEL_TRACES_SAMPLER_ARG: decimal({ min: 0, max: 1, default: 0.01, doc: "the ratio of `traceidratio` samplers: the share of requests traced — new traces by trace id, requests whose caller sent a sampled `traceparent` by a random draw at the same ratio, so a caller cannot force tracing (spans cost about a third of throughput when every request is traced)" }),
  OTEL_SERVICE_NAME: text("a service name", { default: "rerank-console", doc: "the service.name of the exported traces" }),
  E2E_PORT: integer({ ...PORT, default: 3100, scope: "tests", doc: "port of the server the end-to-end tests start" }),
  BENCH_DURATION_S: integer({ min: 1, max: 3600, scope: "tests", defaultDoc: "`5` (serving), `4` (shadow)", doc: "seconds of each load round in `bench:serving` and of each rate in `bench:shadow`" }),
  BENCH_PORT_BASE: integer({ ...PORT, scope: "tests", defaultDoc: "unset (free ports)", doc: "first of ten consecutive ports `bench:serving` and `test:replicas` start their servers on" }),
  BENCH_ROUNDS: integer({ min: 1, max: 100, default: 3, scope: "tests", doc: "alternating load rounds in `bench:serving`" }),
  BENCH_PIN: flag({ default: false, defaultDoc: "`0`", scope: "tests", doc: "`1`: `bench:serving` runs the servers under test on CPU 0 and the load generator and PostgreSQL (its postmaster and every process it forks, for the run; put back after) on the other CPUs (taskset; Linux, 2 or more CPUs), so throughput is what one core gives a server (server/bench/pinning.ts)" }),
  BENCH_TELEMETRY_PAIRS: integer({ min: 1, max: 1000, scope: "tests", defaultDoc: "`10` (`6` with `--quick`)", doc: "pairs of blocks (telemetry on, off), ABBA, per kind of server in `bench:serving`'s telemetry figure; 6 or more give its 95 % interval" }),
  BENCH_PACED_S: integer({ min: 1, max: 3600, default: 10, scope: "tests", doc: "seconds a side (console, bare) of the paced half-of-max phase in `bench:serving`, in 6 blocks a side, ABBA" }),
  BENCH_REQUESTS: integer({ min: 1000, max: 100_000_000, default: 1_000_000, scope: "tests", doc: "logged requests `bench:experiments` writes before timing the results query" }),
  BENCH_REPLICATIONS: integer({ min: 1, max: 1000, default: 15, scope: "tests", doc: "runs per design in `bench:interleaving`" }),
  BENCH_SCALE_ROWS: integer({ min: 10_000, max: 1_000_000_000, default: 10_000_000, scope: "tests", doc: "logged requests `bench:scale-out` generates before timing the app's queries (docs/SCALE-OUT.md)" }),
  REPLICAS_LOAD_S: integer({ min: 5, max: 3600, scope: "tests", defaultDoc: "`60` (`20` with `--quick`)", doc: "seconds of load (with the kill switch and rollback pressed) in `test:replicas`, before a replica is killed" }),
  STATS_SIM_REPORT: flag({ default: false, defaultDoc: "`0`", scope: "tests", doc: "`1` prints the simulated error rates of the statistics tests" }),
} satisfies Record<string, Setting<unknown>>;

/** Variables the scripts set for the libraries they start; the console itself never reads them. */
export const LIBRARY_SETTINGS = [
  { names: ["NEXT_TELEMETRY_DISABLED", "ORT_DISABLE_TELEMETRY"], defaultDoc: "set to `1` by the scripts", doc: "no outbound telemetry from Next.js or onnxruntime" },
  { names: ["NODE_ENV"], defaultDoc: "set by `npm start` (`production`, or `development` with `--dev`) and by the container image", doc: "Next.js's and React's mode" },
];

export type SettingName = keyof typeof SETTINGS;
export type Env = { readonly [K in SettingName]: z.output<(typeof SETTINGS)[K]["schema"]> };

/** A bad value: `message` is the one line `npm start` prints. Recognised by `code` (classes differ across Next's bundles). */
export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(readonly problems: string[]) {
    super(`Configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return (error as { code?: unknown } | null)?.code === "CONFIG_INVALID";
}

/**
 * Parses `source` (process.env by default) against SETTINGS. Blank values count as unset.
 * @returns every setting, typed; @throws ConfigError naming each bad variable and what it got.
 */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, s] of Object.entries(SETTINGS) as Array<[SettingName, Setting<unknown>]>) {
    const raw = source[name]?.trim() || undefined;
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) {
      values[name] = parsed.data;
      continue;
    }
    // A list names its bad item too: "… got "a,b c" (item 2)".
    const item = parsed.error.issues.map((i) => i.path[0]).find((p) => typeof p === "number");
    problems.push(`${name} must be ${s.expected}, got ${s.show(raw!)}${item === undefined ? "" : ` (item ${item + 1})`}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(values) as Env;
}

/**
 * Removes the variables `names` from this process's environment — neither the configuration parsed
 * after this nor a child process started later sees them — and parses them alone. For settings that
 * matter only where a command uses them (ADMIN_EMAIL, ADMIN_PASSWORD: server/cli/adminSettings.ts),
 * so that a bad one stops only that use. Blank counts as unset.
 * @returns the values when all are valid (else none), which were set (even to a bad value), and each
 *   bad one's problem as parseEnv words it.
 */
export function takeSettings<N extends SettingName>(names: readonly N[]): { values: Partial<Pick<Env, N>>; set: Record<N, boolean>; problems: string[] } {
  const raw: Record<string, string | undefined> = {};
  const set = {} as Record<N, boolean>;
  for (const name of names) {
    raw[name] = process.env[name];
    set[name] = Boolean(raw[name]?.trim());
    delete process.env[name];
  }
  resetEnv();
  try {
    const parsed = parseEnv(raw);
    return { values: Object.fromEntries(names.map((name) => [name, parsed[name]])) as Partial<Pick<Env, N>>, set, problems: [] };
  } catch (error) {
    if (!isConfigError(error)) throw error;
    return { values: {}, set, problems: error.problems };
  }
}

const holder = globalThis as unknown as { __rerankEnv?: Env; __rerankAuthSecret?: { file: string; secret: string; defaultFor?: string } };

/** The parsed settings, cached for the process. @throws ConfigError on the first call if a value is bad. */
/**
 * What the process was launched with that is not a setting of ours, read as it is now (undefined
 * when unset): the package manager's script and path (`npm_lifecycle_script`, `npm_execpath`, which
 * npm, pnpm and yarn set for `npm start`: server/cli/launcher.ts tells a start npm launched from one
 * started directly) and Node's `NODE_OPTIONS` (extended for the build's processes: server/cli/build.ts).
 */
export function launchEnvironment(): { npmLifecycleScript?: string; npmExecPath?: string; nodeOptions?: string } {
  return { npmLifecycleScript: process.env.npm_lifecycle_script, npmExecPath: process.env.npm_execpath, nodeOptions: process.env.NODE_OPTIONS };
}

export function env(): Env {
  holder.__rerankEnv ??= parseEnv(process.env);
  return holder.__rerankEnv;
}

/** Forgets the cached parse (tests), so the next env() reads process.env again. */
export function resetEnv(): void {
  holder.__rerankEnv = undefined;
  holder.__rerankAuthSecret = undefined;
}

/**
 * Sets (or with undefined, unsets) a variable for this process and the child processes it starts,
 * and forgets the cached parse. For the CLI and tests that hand a database to what they start.
 */
export function setEnv(name: SettingName, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  resetEnv();
}

const SECRET_FILE = "auth-secret";

/**
 * The deployment's secret: AUTH_SECRET when set, else the contents of `<folder>/auth-secret`
 * (`folder` defaults to `<working directory>/.data`),
 * created on first call with 32 random bytes (base64url, 43 characters), mode 600. Two processes
 * starting at once agree: the file appears atomically (a hard link of a finished temporary file) and
 * the loser reads the winner's. Every replica must share it (set AUTH_SECRET when they do not share
 * a folder). @throws ConfigError when the file holds fewer than 32 characters.
 */
export function authSecret(folder?: string): string {
  const configured = env().AUTH_SECRET;
  if (configured) return configured;
  if (folder !== undefined) return secretIn(folder);
  // The serving path asks once per request (keyedHash): the default folder's secret is remembered
  // with the working directory it was found from, without building its path again (two path.join
  // calls were ~7 µs a request on the serving thread in a CPU profile at 400 req/s, 2026-12-03).
  const cwd = process.cwd();
  const remembered = holder.__rerankAuthSecret;
  if (remembered?.defaultFor === cwd) return remembered.secret;
  const secret = secretIn(path.join(/*turbopackIgnore: true*/ cwd, ".data"));
  holder.__rerankAuthSecret!.defaultFor = cwd;
  return secret;
}

/** The secret in `<dataDir>/auth-secret`, read once per file (created as authSecret says). */
function secretIn(dataDir: string): string {
  const file = path.join(dataDir, SECRET_FILE);
  if (holder.__rerankAuthSecret?.file === file) return holder.__rerankAuthSecret.secret;
  let secret = readSecretFile(file);
  if (secret === null) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(temporary, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(temporary, 0o600); // whatever the umask
    try {
      linkSync(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      unlinkSync(temporary);
    }
    secret = readSecretFile(file)!;
  }
  if (secret.length < 32) {
    throw new ConfigError([`${path.relative(process.cwd(), file) || file} must hold at least 32 characters, got ${secret.length} (delete it to generate a new one, or set AUTH_SECRET)`]);
  }
  holder.__rerankAuthSecret = { file, secret };
  return secret;
}

function readSecretFile(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * For command-line entry points (npm start, db:migrate): parses the settings now, so a bad value
 * stops the command before it starts anything, with one line on stderr and exit code 1.
 */
export function loadConfigOrExit(): Env {
  try {
    return env();
  } catch (error) {
    if (!isConfigError(error)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
