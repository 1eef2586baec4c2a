import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { demoCatalog, type DemoItem } from "../demo/catalog";
import { createRng, type Rng } from "../domain/random";
import {
  clickModelFor, createSession, createUserPicker, createUsers, simulateList, type ClickModelParams, type SimEvent, type SimUser, type UserOptions,
} from "../domain/simulation/clickModel";
import { buildCatalogIndex, retrieve } from "../domain/simulation/retrieval";
import { creditOf } from "../domain/interleaving/credit";
import { interleavingWinner, type Team } from "../domain/interleaving/teamDraft";
import { mix32 } from "../domain/hashing";
import { urlFor } from "../cli/listenUrl";
import { isLinkLocalIpv6 } from "../http/listenAddress";

// The traffic simulator's core loop: synthetic users search the demo catalog, the running server
// reranks through POST /api/v1/rerank, and the users' impressions, clicks, add-to-carts and
// purchases (by the click model of server/domain/simulation/clickModel.ts) go to POST
// /api/v1/events. Paced at `rate` requests/s with at most `concurrency` requests in flight, and
// bounded in count (rate × duration) and time (duration + one request timeout). The CLI is
// server/simulate/run.ts; an integration test can call simulateTraffic against a server URL.

export interface TrafficOptions {
  /** Base URL of the server; loopback hosts only. */
  url: string;
  /** A serving API key, sent as `Authorization: Bearer <key>`; none where SERVING_AUTH=off. */
  apiKey?: string;
  surface: string;
  /** Requests per second (0 < rate ≤ 1000). */
  rate: number;
  /** Seconds to generate traffic for (0 < duration ≤ 3600). */
  durationSeconds: number;
  seed: number;
  /** Synthetic users (1–1,000,000). */
  users: number;
  /** Requests in flight at most (1–64). */
  concurrency: number;
  /** Items served per request; default 10. */
  topK?: number;
  /** Candidates retrieved per request; default 50. */
  candidates?: number;
  /** Stop after this many requests even if time is left. */
  maxRequests?: number;
  clickModel?: Partial<ClickModelParams>;
  userOptions?: UserOptions;
  /** Per-HTTP-call timeout; default 10 s. */
  requestTimeoutMs?: number;
  /** Stops the run early (in-flight requests finish). */
  signal?: AbortSignal;
  /** Defaults to demoCatalog(), the catalog the server seeded. */
  catalog?: readonly DemoItem[];
}

export interface VariantStats {
  requests: number;
  impressions: number;
  clicks: number;
  addToCarts: number;
  purchases: number;
  revenue: number;
}

export interface InterleavingStats {
  experiment: string;
  /** Requests each variant won (more clicks on the items it contributed). */
  wins: Record<string, number>;
  ties: number;
  noClicks: number;
}

export interface TrafficStats {
  /** Rerank requests sent. */
  requests: number;
  /** Rerank responses received (2xx). */
  responses: number;
  /** Rerank requests served by a fallback (cascade model or retrieval order). */
  fallbacks: number;
  events: { sent: number; accepted: number; duplicates: number; rejected: number };
  errors: number;
  /** Requests the run will send at most. */
  plannedRequests: number;
  elapsedMs: number;
}

export interface TrafficSummary extends TrafficStats {
  /** Per variant seen in responses: "<experiment>/<variant>", or "(no experiment)". */
  variants: Record<string, VariantStats>;
  interleaving: InterleavingStats[];
  /** Why the run ended before its planned requests, if it did. */
  stoppedBecause: string | null;
}

export interface TrafficError {
  kind: "unreachable" | "http" | "invalid_response" | "timeout";
  endpoint: "rerank" | "events" | "health";
  message: string;
  status?: number;
}

export interface TrafficHooks {
  /** Called after every request (at most every 100 ms is up to the caller to throttle). */
  onProgress?(stats: TrafficStats): void;
  onError?(error: TrafficError): void;
}

export const TRAFFIC_LIMITS = { maxRate: 1000, maxDurationSeconds: 3600, maxUsers: 1_000_000, maxConcurrency: 64 } as const;

/** The server cannot be reached (connection refused, DNS, timeout) or is unhealthy. */
export class ServerUnreachableError extends Error {
  constructor(readonly url: string, readonly reason: string) {
    super(`cannot reach the server at ${url} (${reason})`);
    this.name = "ServerUnreachableError";
  }
}

/** The server refused the simulator's requests outright (unknown surface, bad request). */
export class TrafficRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrafficRefusedError";
  }
}

/**
 * The URL of the console `npm start` runs with the same environment: its HOST and PORT (a wildcard
 * HOST reached on loopback), port 3000 when PORT is unset (npm start's first choice; it takes the
 * next free of 3000–3003 when that one is taken: pass --url then). The simulator ignored PORT and
 * drove port 3000 whatever the console listened on (break test).
 */
export function consoleUrl(config: { HOST: string; PORT?: number }): string {
  return urlFor(config.HOST, config.PORT ?? 3000);
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** The console's settings a target URL was made of (consoleUrl), when no --url was given. */
export interface ConsoleAddress {
  HOST: string;
  PORT?: number;
}

/**
 * Checks the simulator's options. @throws RangeError naming the flag (`--rate: …`) — or, for a
 * target made of the console's settings (`fromConsole`: no --url given), HOST, never a --url the
 * user did not pass (break test: a bad HOST was blamed on --url).
 */
export function checkTrafficOptions(options: TrafficOptions, fromConsole?: ConsoleAddress): void {
  let url: URL;
  const hostIs = fromConsole ? `HOST=${fromConsole.HOST}` : "";
  const byFlag = (when: string) => `: pass --url http://127.0.0.1:${fromConsole?.PORT ?? 3000} ${when}`;
  try {
    url = new URL(options.url);
  } catch {
    throw new RangeError(fromConsole ? `${hostIs}: the console's address makes no URL ("${options.url}")${byFlag("or the console's URL")}` : `--url: "${options.url}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`--url: only http(s) URLs, got ${url.protocol}`);
  if (!LOOPBACK.test(url.hostname)) {
    if (!fromConsole) throw new RangeError(`--url: the simulator generates load against localhost only, not ${url.hostname}`);
    // HOST is where the console listens; the simulator targets it when no --url is given.
    const linkLocal = isLinkLocalIpv6(fromConsole.HOST)
      ? " (and a link-local IPv6 address, fe80::/10, needs a zone id such as fe80::1%eth0, which no URL takes: npm start refuses it too)"
      : "";
    throw new RangeError(`${hostIs}: the simulator generates load against localhost only, and HOST (the console's address, its target without --url) is not a loopback address${linkLocal}${byFlag("when the console listens there too (HOST=0.0.0.0 or ::)")}`);
  }
  const check = (name: string, value: number, ok: boolean, range: string) => {
    if (!ok) throw new RangeError(`--${name}: expected ${range}, got ${value}`);
  };
  check("rate", options.rate, options.rate > 0 && options.rate <= TRAFFIC_LIMITS.maxRate, `a number in (0, ${TRAFFIC_LIMITS.maxRate}]`);
  check("duration", options.durationSeconds, options.durationSeconds > 0 && options.durationSeconds <= TRAFFIC_LIMITS.maxDurationSeconds, `seconds in (0, ${TRAFFIC_LIMITS.maxDurationSeconds}]`);
  check("users", options.users, Number.isInteger(options.users) && options.users >= 1 && options.users <= TRAFFIC_LIMITS.maxUsers, `an integer in [1, ${TRAFFIC_LIMITS.maxUsers}]`);
  check("concurrency", options.concurrency, Number.isInteger(options.concurrency) && options.concurrency >= 1 && options.concurrency <= TRAFFIC_LIMITS.maxConcurrency, `an integer in [1, ${TRAFFIC_LIMITS.maxConcurrency}]`);
  check("seed", options.seed, Number.isSafeInteger(options.seed), "an integer");
  if (options.surface.trim() === "") throw new RangeError("--surface: must not be empty");
  const topK = options.topK ?? 10;
  const candidates = options.candidates ?? 50;
  check("topK", topK, Number.isInteger(topK) && topK >= 1 && topK <= 100, "an integer in [1, 100]");
  check("candidates", candidates, Number.isInteger(candidates) && candidates >= topK && candidates <= 1000, `an integer in [topK, 1000]`);
  if (options.maxRequests !== undefined) check("maxRequests", options.maxRequests, Number.isInteger(options.maxRequests) && options.maxRequests >= 0, "a non-negative integer");
}

const baseUrl = (url: string) => url.replace(/\/+$/, "");

function describeFetchFailure(error: unknown): { kind: "unreachable" | "timeout"; reason: string } {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return { kind: "timeout", reason: "timed out" };
  return { kind: "unreachable", reason: e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error) };
}

/** GET /api/health: throws ServerUnreachableError when the server is down or unhealthy. */
export async function checkServer(url: string, timeoutMs = 5000): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl(url)}/api/health`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new ServerUnreachableError(url, describeFetchFailure(error).reason);
  }
  if (!response.ok) {
    const body = await response.text().catch(() => "");
    throw new ServerUnreachableError(url, `health check answered ${response.status}${body ? `: ${body.slice(0, 200)}` : ""}`);
  }
  await response.body?.cancel().catch(() => {});
}

/** A seed per request, so a request's jitter and clicks do not depend on the order responses arrive. */
function requestSeed(seed: number, index: number): number {
  return mix32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

interface RerankItemBody {
  id: string;
  position: number;
  reasons?: string[];
}

interface RerankBody {
  requestId: string;
  items: RerankItemBody[];
  variant: { experiment: string; key: string; phase: number } | null;
  fallback?: { used?: boolean };
}

function isRerankBody(body: unknown): body is RerankBody {
  const b = body as RerankBody;
  return typeof b === "object" && b !== null && typeof b.requestId === "string" && Array.isArray(b.items)
    && b.items.every((i) => typeof i?.id === "string" && Number.isInteger(i.position));
}

const teamOf = (item: RerankItemBody) => creditOf(item.reasons);

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return `${body.error.code ?? response.status}: ${body.error.message}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || response.statusText;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

const emptyVariant = (): VariantStats => ({ requests: 0, impressions: 0, clicks: 0, addToCarts: 0, purchases: 0, revenue: 0 });

/** Consecutive connection failures after which the run stops: the server went away. */
const MAX_CONSECUTIVE_UNREACHABLE = 20;

/**
 * Drives the server at `options.url` with synthetic search traffic and outcome events. Resolves
 * with the totals when the planned requests are sent (or the signal aborts); rejects with
 * ServerUnreachableError when the server stops answering, TrafficRefusedError when it refuses the
 * rerank requests (e.g. unknown surface).
 */
export async function simulateTraffic(options: TrafficOptions, hooks: TrafficHooks = {}): Promise<TrafficSummary> {
  checkTrafficOptions(options);
  const url = baseUrl(options.url);
  const topK = options.topK ?? 10;
  const size = options.candidates ?? 50;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const catalog = options.catalog ?? demoCatalog();
  const index = buildCatalogIndex(catalog);
  const categories = [...new Set(catalog.map((i) => i.category))].sort();
  const users = createUsers(options.users, options.seed, categories, options.userOptions);
  const models = new Map<string, ClickModelParams>();
  const modelOf = (u: SimUser) => {
    let m = models.get(u.userKey);
    if (!m) models.set(u.userKey, (m = clickModelFor(u, options.clickModel)));
    return m;
  };
  const pickUser = createUserPicker(users);
  const trafficRng = createRng(options.seed);
  const sessionCounts = new Map<string, number>();
  let queue: Array<{ user: SimUser; sessionKey: string; query: string }> = [];
  const nextSearch = () => {
    if (queue.length === 0) {
      const user = pickUser(trafficRng);
      const n = sessionCounts.get(user.userKey) ?? 0;
      sessionCounts.set(user.userKey, n + 1);
      const session = createSession(user, n, trafficRng, index.queriesFor);
      queue = session.queries.map((query) => ({ user, sessionKey: `${session.sessionKey}-${options.seed}`, query })).reverse();
    }
    return queue.pop()!;
  };

  const planned = Math.min(Math.floor(options.rate * options.durationSeconds), options.maxRequests ?? Infinity);
  const stats: TrafficStats = { requests: 0, responses: 0, fallbacks: 0, events: { sent: 0, accepted: 0, duplicates: 0, rejected: 0 }, errors: 0, plannedRequests: planned, elapsedMs: 0 };
  const variants: Record<string, VariantStats> = {};
  const interleaving = new Map<string, InterleavingStats>();
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  let nextSlot = 0;
  let consecutiveUnreachable = 0;
  let fatal: Error | null = null;
  const stop = new AbortController();
  // Every sleeping worker listens for the stop.
  setMaxListeners(TRAFFIC_LIMITS.maxConcurrency + 2, stop.signal);
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const report = () => {
    stats.elapsedMs = performance.now() - started;
    hooks.onProgress?.({ ...stats, events: { ...stats.events } });
  };
  const fail = (error: TrafficError) => {
    stats.errors++;
    hooks.onError?.(error);
    if (error.kind === "unreachable") {
      if (++consecutiveUnreachable >= MAX_CONSECUTIVE_UNREACHABLE && !fatal) {
        fatal = new ServerUnreachableError(url, `${consecutiveUnreachable} requests in a row failed: ${error.message}`);
        stop.abort();
      }
    } else consecutiveUnreachable = 0;
  };
  const post = async (endpoint: "rerank" | "events", path: string, body: unknown): Promise<Response | null> => {
    try {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      consecutiveUnreachable = 0;
      return response;
    } catch (error) {
      const { kind, reason } = describeFetchFailure(error);
      fail({ kind, endpoint, message: `${endpoint}: ${reason}` });
      return null;
    }
  };

  const one = async (slot: number) => {
    const { user, sessionKey, query } = nextSearch();
    const rng: Rng = createRng(requestSeed(options.seed, slot));
    const candidates = retrieve(index, query, { size, rng });
    if (candidates.length === 0) return;
    const requestId = randomUUID();
    stats.requests++;
    const response = await post("rerank", "/api/v1/rerank", {
      surface: options.surface, requestId, userKey: user.userKey, sessionKey,
      context: { query, device: user.device, country: user.country, returning: user.returning },
      topK, candidates: candidates.map((c) => ({ id: c.item.id, retrievalScore: c.retrievalScore })),
    });
    if (!response) return;
    if (!response.ok) {
      const message = await errorMessage(response);
      fail({ kind: "http", endpoint: "rerank", status: response.status, message: `rerank: ${response.status} ${message}` });
      // A refused request (unknown surface, invalid payload) will be refused every time: stop.
      if ((response.status === 400 || response.status === 404) && !fatal) {
        fatal = new TrafficRefusedError(`the server refused the rerank request (${response.status} ${message})`);
        stop.abort();
      }
      return;
    }
    const body: unknown = await response.json().catch(() => null);
    if (!isRerankBody(body)) {
      fail({ kind: "invalid_response", endpoint: "rerank", message: "rerank: the response is not a rerank result" });
      return;
    }
    stats.responses++;
    if (body.fallback?.used) stats.fallbacks++;

    const served = [...body.items].sort((a, b) => a.position - b.position);
    const known = served.map((i) => index.byId.get(i.id));
    const outcome = simulateList(served.map((item, i) => ({ id: item.id, quality: known[i]?.quality ?? 0, price: known[i]?.price ?? 0 })), rng, modelOf(user));
    // Positions as served (they are 1..k in order, but the server's numbers are the ones to echo).
    const events = outcome.events.map((e: SimEvent) => ({ ...e, position: served[e.position - 1]!.position }));
    tally(body, served, events, outcome.clickedPositions);
    report();
    if (events.length === 0) return;

    const batch = events.map((e) => ({
      eventId: `${body.requestId}:${e.type}:${e.position}`, requestId: body.requestId, type: e.type, itemId: e.itemId, position: e.position,
      ...(e.type === "purchase" ? { revenue: e.revenue ?? 0 } : {}),
    }));
    stats.events.sent += batch.length;
    const sent = await post("events", "/api/v1/events", { events: batch });
    if (!sent) return;
    if (!sent.ok) {
      stats.events.rejected += batch.length;
      fail({ kind: "http", endpoint: "events", status: sent.status, message: `events: ${sent.status} ${await errorMessage(sent)}` });
      return;
    }
    const result = (await sent.json().catch(() => null)) as { accepted?: number; duplicates?: number; rejected?: unknown[] } | null;
    stats.events.accepted += result?.accepted ?? 0;
    stats.events.duplicates += result?.duplicates ?? 0;
    stats.events.rejected += Array.isArray(result?.rejected) ? result.rejected.length : 0;
  };

  const tally = (body: RerankBody, served: RerankItemBody[], events: SimEvent[], clickedPositions: number[]) => {
    if (body.variant && served.some((i) => teamOf(i) !== undefined)) {
      // Interleaved: both variants served this request, each the items it contributed.
      const keys = [...new Set(served.map(teamOf).filter((k): k is string => k !== undefined))];
      for (const key of keys) {
        const v = (variants[`${body.variant.experiment}/${key} (interleaved)`] ??= emptyVariant());
        v.requests++;
        v.impressions += served.filter((i) => teamOf(i) === key).length;
      }
      for (const e of events) {
        const key = teamOf(served[e.position - 1]!);
        if (key !== undefined) count(variants[`${body.variant.experiment}/${key} (interleaved)`]!, e);
      }
      const il = interleaving.get(body.variant.experiment) ?? { experiment: body.variant.experiment, wins: {}, ties: 0, noClicks: 0 };
      interleaving.set(body.variant.experiment, il);
      const [a, b] = keys.sort();
      // interleavingWinner speaks of teams A and B: map the two variant keys onto them.
      const teams = served.map((i): Team => { const key = teamOf(i); return key === undefined ? "shared" : key === a ? "A" : "B"; });
      const winner = interleavingWinner(teams, clickedPositions);
      if (winner === "no_clicks") il.noClicks++;
      else if (winner === "tie" || b === undefined) il.ties++;
      else {
        const key = winner === "A" ? a! : b;
        il.wins[key] = (il.wins[key] ?? 0) + 1;
      }
      return;
    }
    const v = (variants[body.variant ? `${body.variant.experiment}/${body.variant.key}` : "(no experiment)"] ??= emptyVariant());
    v.requests++;
    v.impressions += served.length;
    for (const e of events) count(v, e);
  };
  const count = (v: VariantStats, e: SimEvent) => {
    if (e.type === "click") v.clicks++;
    else if (e.type === "add_to_cart") v.addToCarts++;
    else if (e.type === "purchase") {
      v.purchases++;
      v.revenue += e.revenue ?? 0;
    }
  };

  const worker = async () => {
    while (!stop.signal.aborted) {
      const slot = nextSlot++;
      if (slot >= planned) return;
      const due = started + (slot * 1000) / options.rate;
      // Past the deadline (by schedule or because the server is slower than the rate): done.
      if (due >= deadline || performance.now() >= deadline) return;
      await sleep(due - performance.now(), stop.signal);
      if (stop.signal.aborted) return;
      try {
        await one(slot);
      } catch (error) {
        fail({ kind: "invalid_response", endpoint: "rerank", message: (error as Error).message });
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  report();
  if (fatal) throw fatal;
  for (const v of Object.values(variants)) v.revenue = Math.round(v.revenue * 100) / 100;
  return {
    ...stats,
    variants,
    interleaving: [...interleaving.values()],
    stoppedBecause: options.signal?.aborted ? "interrupted" : stats.requests < planned && performance.now() >= deadline ? "time is up (the server was slower than the rate)" : null,
  };
}
