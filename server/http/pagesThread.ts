import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { TRPCError } from "@trpc/server";
import { mapError } from "../errorMapping";
import { logInternalError } from "../redact";
import { metrics } from "../telemetry/metrics";
import { createCaller } from "../routers/_app";
import { createContext } from "../trpc";
import type { BridgeAnswer, BridgeCall } from "./pagesBridge";
import type { NextHandler } from "./server";
import { describeHang, startWatchdog, type Watchdog } from "./watchdog";

// Next.js on its own worker thread of the server process (`npm start`): the front door (this, the
// serving thread) answers the hot endpoints, tRPC, the upload, health and metrics itself and hands
// every other request (pages, assets, Next's route handlers) to the pages thread over a Unix socket
// in a private folder. Why a thread: Next.js in an isolate costs every request of that isolate CPU
// even when it serves none of them — its modules and heap, its wrappers of process.nextTick,
// setImmediate, Date, Math.random and crypto, and (Node 20) AsyncLocalStorage's hook on every
// promise once it served one page — measured ×1.09–×1.14 of the rerank path's CPU per request in the
// same process, ×1.01 [0.95, 1.04] with Next.js on a thread of it (bench:serving, section i).
//
// The serving thread owns the process's state (model sessions, recent responses, config cache,
// metrics, telemetry writer): the pages' tRPC calls are run here (pagesBridge.ts). A pages thread
// that dies is started again (pages answer 503 meanwhile); serving never stops for it.
// `npm run dev` keeps Next.js on the serving thread (hot reload's websocket, no build).

const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "http", "pagesThreadEntry.mjs"));
const MAIN = pathToFileURL(path.join(process.cwd(), "server", "http", "pagesThreadMain.ts")).href;

/** What the pages thread is started with (its workerData). */
export interface PagesThreadData {
  entry: string;
  socketPath: string;
  next: { hostname: string; port: number; dir: string };
  /** A module (file URL) whose default export makes the request handler instead of Next.js (tests). */
  standIn?: string;
}

export interface PagesThreadOptions {
  next: PagesThreadData["next"];
  standIn?: string;
  log: (line: string) => void;
  /** First wait before starting a dead pages thread again (ms); doubled per death in a row, at most 30 s. */
  restartDelayMs?: number;
  /**
   * How long the pages thread may leave heartbeats unanswered (ms) before it is taken for hung (its
   * event loop blocked: a page in an endless loop) and stopped, then started again. Default 30,000;
   * heartbeats go every sixth of it.
   */
  hangTimeoutMs?: number;
  /** How long a thread terminated for a hang may take to exit before it is abandoned and a new one started (ms). Default 10,000. */
  abandonAfterMs?: number;
}

export interface PagesThread {
  /** Hands a request to the pages thread (503 while it is restarting). */
  handler: NextHandler;
  /** The thread's id while it runs (tests), null while it is restarting. */
  threadId(): number | null;
  /** Stops the thread for good (shutdown, tests). */
  close(): Promise<void>;
}

/** Heartbeats between the serving thread and the pages thread (MessagePort). */
export interface PagesHeartbeat {
  type: "rerank:pages-ping" | "rerank:pages-pong";
  n: number;
}

const FOLDER_PREFIX = "rerank-pages-";
/** The socket folders this process made (their names), which its sweep keeps. */
const OWN_FOLDERS = new Set<string>();

/** How long a terminated pages thread may take to exit before it is abandoned and a new one started (ms). */
const ABANDON_AFTER_MS = 10_000;

/**
 * Removes socket folders (os.tmpdir()/rerank-pages-<pid>-*) that processes of this user left when
 * they were killed without running their exit handlers (SIGKILL, OOM): a folder whose pid no longer
 * runs, or one of this process's pid that this process did not make (a container's server is pid 1
 * again after a restart). One whose pid runs (another server, or a pid reused) is left alone.
 */
export function sweepStaleSocketFolders(tmp = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = Number(/^rerank-pages-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    if (pid === process.pid ? OWN_FOLDERS.has(name) : processRuns(pid)) continue;
    const folder = path.join(tmp, name);
    try {
      if (statSync(folder).uid !== process.getuid?.()) continue;
      rmSync(folder, { recursive: true, force: true });
      removed.push(folder);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // it runs, as another user
  }
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): for one connection, never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/**
 * Runs a pages thread's tRPC call as /api/trpc would: the same caller (its headers), procedures and
 * guards; an error becomes its tRPC code and message (a fault of ours in plain words, mapError).
 */
export async function answerPagesCall(call: BridgeCall): Promise<BridgeAnswer> {
  const base = { type: "rerank:pages-answer" as const, id: call.id };
  try {
    const caller = createCaller(await createContext({ headers: new Headers(call.headers) }));
    const procedure = call.path.split(".").reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], caller);
    if (typeof procedure !== "function") throw new TRPCError({ code: "NOT_FOUND", message: `no procedure ${call.path}` });
    const output: unknown = await (procedure as (input: unknown) => Promise<unknown>)(call.input);
    return { ...base, ok: true, output };
  } catch (error) {
    const cause = error instanceof TRPCError ? (error.cause ?? error) : error;
    const mapped = mapError(cause, call.path);
    // A procedure's own faults are logged by tRPC's middleware; one outside it (building the context) is logged here.
    if (!(error instanceof TRPCError) && mapped.internal) logInternalError(`[pages] ${call.path}`, error);
    if (error instanceof TRPCError) return { ...base, ok: false, code: error.code, message: error.message, ...(mapped.retryAfterSeconds ? { retryAfterSeconds: mapped.retryAfterSeconds } : {}) };
    return { ...base, ok: false, code: mapped.trpcCode, message: mapped.message, ...(mapped.retryAfterSeconds ? { retryAfterSeconds: mapped.retryAfterSeconds } : {}) };
  }
}

/**
 * Starts Next.js (or `standIn`) on a worker thread and resolves once it listens; rejects when the
 * first start fails (the server does not start without its pages).
 */
export async function startPagesThread(options: PagesThreadOptions): Promise<PagesThread> {
  // A folder only this user can enter: the socket skips the front door's checks, so nobody else may reach it.
  for (const folder of sweepStaleSocketFolders()) options.log(`removed ${folder}, left by a server process that was killed`);
  const folder = mkdtempSync(path.join(os.tmpdir(), `${FOLDER_PREFIX}${process.pid}-`));
  OWN_FOLDERS.add(path.basename(folder));
  const socketPath = path.join(folder, "pages.sock");
  const removeFolder = () => rmSync(folder, { recursive: true, force: true });
  process.once("exit", removeFolder);
  // The agent drops an idle connection after 60 s; the thread's server keeps one 10 min (no reset on reuse).
  // A new one per thread: a retired thread's connections are destroyed with its agent.
  const newAgent = () => new http.Agent({ keepAlive: true, timeout: 60_000 });
  let agent = newAgent();
  const restartFirstMs = options.restartDelayMs ?? 1_000;
  const hangTimeoutMs = options.hangTimeoutMs ?? 30_000;
  const abandonAfterMs = options.abandonAfterMs ?? ABANDON_AFTER_MS;
  let worker: Worker | null = null;
  let up = false;
  let closing = false;
  let deathsInARow = 0;
  let readyAt = 0;
  /** The wait before the next start: 1 s (restartDelayMs) doubling per death in a row, at most 30 s. */
  const nextDelay = () => Math.min(30_000, restartFirstMs * 2 ** deathsInARow++);

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const data: PagesThreadData = { entry: MAIN, socketPath, next: options.next, ...(options.standIn ? { standIn: options.standIn } : {}) };
      rmSync(socketPath, { force: true });
      const thread = new Worker(ENTRY, { workerData: data });
      worker = thread;
      let ready = false;
      let retired = false;
      let watchdog: Watchdog | undefined;
      /** This thread serves no more pages: pages answer 503 until another one is ready. */
      const stopServing = () => {
        if (worker !== thread) return;
        up = false;
        metrics.pagesThreadUp.set(0);
      };
      /**
       * The thread is done for: it exited, or it hung and did not exit once terminated. Runs once per
       * thread: its requests in flight are ended, and a new thread is started after the backoff.
       */
      const retire = (what: string) => {
        if (retired) return;
        retired = true;
        watchdog?.stop();
        stopServing();
        if (worker === thread) worker = null;
        // Connections to this thread (a hung one holds them for good) end: their clients get 503 or a closed connection.
        agent.destroy();
        agent = newAgent();
        if (!ready) reject(new Error(`the pages thread stopped before it listened (${what})`));
        if (closing || !ready) return;
        // A thread that served for a minute starts a new run of deaths; one that dies again at once (a request
        // that crashes it, sent again and again) waits longer each time, up to 30 s.
        if (Date.now() - readyAt > 60_000) deathsInARow = 0;
        const delay = nextDelay();
        metrics.pagesThreadRestarts.inc();
        options.log(`the pages thread ${what}; pages answer 503 until it is started again in ${delay / 1000} s (serving goes on)`);
        setTimeout(() => {
          if (!closing) start().catch((error: Error) => options.log(`${error.message}; trying again`));
        }, delay).unref();
      };
      thread.on("message", (message: BridgeCall | PagesHeartbeat | { type: "rerank:pages-ready" }) => {
        if (message?.type === "rerank:pages-pong") watchdog?.answered();
        else if (message?.type === "rerank:pages-ready") {
          ready = true;
          up = true;
          metrics.pagesThreadUp.set(1);
          readyAt = Date.now();
          // A thread whose event loop is blocked (a page in an endless loop) answers no page and no heartbeat:
          // after hangTimeoutMs without an answer it is stopped, and started again as a thread that died.
          watchdog = startWatchdog({
            timeoutMs: hangTimeoutMs,
            ping: (n) => thread.postMessage({ type: "rerank:pages-ping", n } satisfies PagesHeartbeat),
            onHang: (silentMs, mostlySilent) => {
              metrics.pagesThreadHangs.inc();
              // 503 from now on (and rerank_pages_thread_up 0 for the alert), not only once it has exited.
              stopServing();
              options.log(`the pages thread ${describeHang(silentMs, mostlySilent)} (its event loop is blocked); it is stopped and started again`);
              void thread.terminate();
              // terminate() cannot interrupt native code (a synchronous child process, a blocking read): a thread
              // that has not exited 10 s later is abandoned, and a new one started (break test: pages hung for good).
              setTimeout(() => retire(`did not stop within ${abandonAfterMs / 1000} s of being terminated (blocked outside JavaScript) and is abandoned`), abandonAfterMs).unref();
            },
          });
          resolve();
        } else if (message?.type === "rerank:pages-call") {
          void answerPagesCall(message).then((answer) => {
            try {
              thread.postMessage(answer);
            } catch (error) {
              // An output structured clone cannot copy (a function in it): the call fails, in words.
              logInternalError(`[pages] ${message.path}`, error);
              thread.postMessage({ type: "rerank:pages-answer", id: message.id, ok: false, code: "INTERNAL_SERVER_ERROR", message: `${message.path} failed: an internal error (logged on the server)` } satisfies BridgeAnswer);
            }
          });
        }
      });
      thread.on("error", (error) => options.log(`the pages thread failed: ${error.stack ?? error.message}`));
      thread.on("exit", (code) => retire(`stopped (exit code ${code})`));
    }).catch((error: unknown) => {
      // A restart that fails is tried again after the next delay (its exit handler schedules nothing).
      if (closing || deathsInARow === 0) throw error;
      const delay = nextDelay();
      setTimeout(() => {
        if (!closing) start().catch(() => {});
      }, delay).unref();
    });

  await start();

  const unavailable = (res: ServerResponse) => {
    res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "2", "cache-control": "no-store" });
    res.end("The console's pages are restarting; try again in a few seconds. (Serving and the API are not affected.)");
  };

  /** Forwards `req` to the pages thread and its answer back; a GET whose reused idle connection was reset is sent once more. */
  const forward = (req: IncomingMessage, res: ServerResponse, retried = false): Promise<void> =>
    new Promise((resolve) => {
      if (!up) {
        unavailable(res);
        return resolve();
      }
      const upstream = http.request({ socketPath, agent, method: req.method, path: req.url, headers: endToEnd(req.headers) });
      let answered = false;
      upstream.on("response", (answer) => {
        answer.once("end", () => (answered = true));
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
        // The thread died mid-answer: the client's connection ends too (an unheard "error" would end the process).
        answer.on("error", () => res.destroy());
      });
      upstream.on("error", (error: NodeJS.ErrnoException) => {
        if (res.destroyed || res.writableEnded) return resolve(); // the client went away first
        const idempotent = req.method === "GET" || req.method === "HEAD";
        if (!retried && idempotent && upstream.reusedSocket && error.code === "ECONNRESET" && !res.headersSent) return resolve(forward(req, res, true));
        if (!res.headersSent) unavailable(res);
        else res.destroy();
        resolve();
      });
      // The client went away, or the answer went out before the request's body was all sent (a page that
      // answers without reading it, the front door's 408, a 429): the connection to the pages thread ends
      // too. Left open, each such request held a descriptor for good, and a client sending short bodies
      // took the process to its descriptor limit (break test: 6,000 requests, serving down for good).
      res.once("close", () => {
        if (!answered || !upstream.writableFinished) upstream.destroy();
        resolve();
      });
      if (retried || req.readableEnded) upstream.end();
      else req.pipe(upstream);
    });

  return {
    handler: (req, res) => forward(req, res),
    threadId: () => (up && worker ? worker.threadId : null),
    async close() {
      closing = true;
      up = false;
      agent.destroy();
      await (worker as Worker | null)?.terminate();
      removeFolder();
      process.removeListener("exit", removeFolder);
    },
  };
}
