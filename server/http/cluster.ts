import cluster, { type Worker } from "node:cluster";
import { answerRateRequests, PING, PONG, relayQuestions, sendSafely, type PrimaryState } from "../cluster/ipc";
import { carriedTotals, METRICS_TOPIC } from "../telemetry/carriedMetrics";
import { withDeadline } from "../domain/time/deadline";
import { explainListenFailure, tryListen } from "./listenAddress";
import { stopWhenStartIsGone } from "./supervisor";
import { ignoreClosedOutput } from "./terminal";
import { describeHang, startWatchdog, type Watchdog } from "./watchdog";

// WORKERS=N: N server processes share the port (node:cluster; the primary accepts connections and
// hands them to the workers in turn). Each worker is a whole server (front door, Next.js, serving
// state, telemetry writer with its own spill file, config watch, rollout ticker). The primary only
// supervises: it restarts a worker that dies (with backoff, and says so) or hangs (a heartbeat over
// the IPC channel every WORKER_HANG_TIMEOUT_MS / 6, answered from the worker's event loop: a worker
// that answers none for WORKER_HANG_TIMEOUT_MS — its loop blocked, or the process stopped — is
// killed, since the primary would go on handing it connections that nobody answers), relays the workers' questions to
// each other (server/cluster/ipc.ts: /api/metrics sums them, events find a sibling's request), and on SIGTERM/SIGINT/SIGHUP asks every worker to
// shut down gracefully (each drains and flushes, server/http/shutdown.ts) and exits when all have.

export interface ClusterOptions {
  workers: number;
  /** Each worker's drain bound (SHUTDOWN_DRAIN_MS); the primary waits this plus FLUSH_GRACE_MS before it kills a worker. */
  drainMs: number;
  /** How long a worker may leave the primary's heartbeats unanswered before it is killed and started again (WORKER_HANG_TIMEOUT_MS). */
  hangTimeoutMs: number;
  log: (line: string) => void;
}

/** Time a worker gets, after its drain, to flush telemetry and exit. */
const FLUSH_GRACE_MS = 15_000;
/** A worker that lived this long resets its restart backoff. */
const HEALTHY_AFTER_MS = 30_000;

/**
 * Runs this process as the primary of WORKERS workers (WORKERS > 1, never in development: tsx
 * watch restarts one process), or serves in it with `serve` (loaded only then: the primary holds
 * neither Next.js nor the serving code). First, outside a cluster's workers, it checks that HOST:PORT
 * can be listened on: if not, one line naming the setting (listenFailure) and exit 1, before any
 * worker is forked or any page prepared. In every process of the server (primary, workers) a closed
 * standard output or error is harmless (ignoreClosedOutput); the primary (or the only process) of a
 * server `npm start` runs stops when that start is gone (server/http/supervisor.ts).
 */
export function runPrimaryOrServe(config: { WORKERS: number; RERANK_DEV: boolean; SHUTDOWN_DRAIN_MS: number; WORKER_HANG_TIMEOUT_MS: number; HOST: string; PORT?: number }, serve: () => Promise<void>, log: (line: string) => void): void {
  ignoreClosedOutput();
  const workers = config.RERANK_DEV ? 1 : config.WORKERS;
  const port = config.PORT ?? 3000;
  if (cluster.isPrimary) stopWhenStartIsGone(log);
  // A worker listens through the primary's handle, which the primary checked.
  const checked = cluster.isPrimary ? tryListen(config.HOST, port) : Promise.resolve(null);
  void checked.then(async (error) => {
    if (error) {
      log(await explainListenFailure(error, config.HOST, port));
      process.exit(1);
    }
    if (workers > 1 && cluster.isPrimary) return runPrimary({ workers, drainMs: config.SHUTDOWN_DRAIN_MS, hangTimeoutMs: config.WORKER_HANG_TIMEOUT_MS, log });
    serve().catch((error: unknown) => {
      console.error("[rerank] the server could not start:", error);
      process.exit(1);
    });
  });
}

/** The restart delay after `failures` consecutive early deaths: 0.5 s doubling up to 30 s. */
export function restartDelayMs(failures: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
}

/** How long after a worker's exit the connections handed to it and never taken are closed (a live worker's handoff takes milliseconds). */
const ORPHAN_GRACE_MS = 1000;

/**
 * Closes the connections node:cluster's round-robin handed to a worker that exited before it took
 * them: the primary accepts each connection and closes its own copy only when the worker says it
 * took it, so a worker stopped (SIGSTOP, a blocked loop) and then killed left them open in the
 * primary, their clients waiting for their own timeout (break test 2026-12-04: 75 s, and the
 * primary's descriptors in CLOSE-WAIT). They are the raw TCP handles the primary holds without an
 * owner (its own sockets are net.Socket, the listener a net.Server), read from
 * process._getActiveHandles() (undocumented; Node has no public list) when the worker exits and
 * closed ORPHAN_GRACE_MS later; one handed to a live worker meanwhile loses nothing: the worker holds
 * its own copy of the descriptor, and Node's later close of the primary's is a no-op.
 * @param closed called with how many were closed, when any were
 */
function closeOrphanedConnections(closed: (n: number) => void): void {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const orphans = handles.filter((h): h is { close(): void } => typeof h === "object" && h !== null && h.constructor?.name === "TCP" && typeof (h as { close?: unknown }).close === "function");
  if (orphans.length === 0) return;
  setTimeout(() => {
    for (const handle of orphans) handle.close();
    closed(orphans.length);
  }, ORPHAN_GRACE_MS).unref();
}

/** Runs the primary: forks the workers (this same entry script, RERANK_WORKER_ID set) and supervises them. */
export function runPrimary(options: ClusterOptions): void {
  const slots = new Map<number, { worker: Worker; startedAt: number; failures: number }>();
  /** Slots one of whose workers listened once: only their deaths are restarted. */
  const listened = new Set<number>();
  const state: PrimaryState = { workers: options.workers, restarts: { exit: 0, hang: 0 } };
  const watchdogs = new Set<Watchdog>();
  let stopping = false;
  const fork = (slot: number, failures: number) => {
    const worker = cluster.fork({ RERANK_WORKER_ID: String(slot) });
    slots.set(slot, { worker, startedAt: Date.now(), failures });
    let watchdog: Watchdog | undefined;
    let hung = false;
    // Watched once it listens (a worker that is still starting — migrations, Next.js — is not hung).
    worker.once("listening", () => {
      listened.add(slot);
      if (stopping) return;
      watchdog = startWatchdog({
        timeoutMs: options.hangTimeoutMs,
        ping: (n) => sendSafely(worker, { type: PING, n }, () => undefined),
        onHang: (silentMs, mostlySilent) => {
          watchdogs.delete(watchdog!);
          hung = true;
          options.log(`worker ${slot} (pid ${worker.process.pid}) ${describeHang(silentMs, mostlySilent)} (its event loop is blocked, or the process is stopped): killing it; its requests in flight fail and its request-log rows not yet written (up to one flush interval) are lost`);
          worker.process.kill("SIGKILL");
        },
      });
      watchdogs.add(watchdog);
    });
    worker.on("message", (message: { type?: string }) => {
      if (message?.type === PONG) watchdog?.answered();
      else onMessage(worker, message);
    });
    // A failed send or kill is emitted as 'error' on the Worker: unhandled, it would end the primary and every worker.
    worker.on("error", (error) => options.log(`worker ${slot} (pid ${worker.process.pid}): ${error.message}`));
    worker.on("exit", (code, signal) => {
      if (watchdog) {
        watchdog.stop();
        watchdogs.delete(watchdog);
      }
      if (stopping) return;
      relay.retire(worker);
      closeOrphanedConnections((n) => options.log(`worker ${slot} (pid ${worker.process.pid}): closed ${n} connection${n === 1 ? "" : "s"} handed to it that it never took`));
      const how = signal ?? `code ${code}`;
      // A worker that never listened (its slot's first start) fails again the same way: a bad
      // HOST or a taken PORT, a module that does not load. Restarting it with backoff kept the
      // server "starting" for minutes (break test); the primary stops and exits with its code.
      if (!listened.has(slot)) {
        options.log(`worker ${slot} (pid ${worker.process.pid}) exited (${how}) before it listened: not restarting it; stopping the server`);
        void stop(null, code || 1);
        return;
      }
      const slotState = slots.get(slot)!;
      const failures = Date.now() - slotState.startedAt > HEALTHY_AFTER_MS ? 1 : slotState.failures + 1;
      const delay = restartDelayMs(failures);
      state.restarts[hung ? "hang" : "exit"]++;
      options.log(`worker ${slot} (pid ${worker.process.pid}) exited (${how}); restarting it in ${(delay / 1000).toFixed(1)} s`);
      setTimeout(() => {
        if (!stopping) fork(slot, failures);
      }, delay);
    });
  };
  // /api/metrics' counters and histograms keep what restarted (and silent) workers last reported: the sums never fall.
  const relay = relayQuestions(() => [...slots.values()].map((s) => s.worker), () => state, { topic: METRICS_TOPIC, join: carriedTotals });
  const rates = answerRateRequests();
  const onMessage = (worker: Worker, message: { type?: string }) => rates(worker, message) || relay(worker, message);
  for (let slot = 1; slot <= options.workers; slot++) fork(slot, 0);
  options.log(`primary ${process.pid}: ${options.workers} workers`);

  /** Stops every worker gracefully, then exits with `code`: on a signal (logged), or when a worker could not start (signal null). */
  const stop = async (signal: NodeJS.Signals | null, code = 0) => {
    if (stopping) return;
    stopping = true;
    // Workers draining on purpose are not watched (a long drain is not a hang).
    for (const watchdog of watchdogs) watchdog.stop();
    const live = [...slots.values()].map((s) => s.worker).filter((w) => !w.isDead());
    if (signal) options.log(`${signal}: stopping ${live.length} workers (each drains its requests and flushes its logs)`);
    const exited = live.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once("exit", () => resolve()))));
    // The workers may have the signal already (Ctrl-C reaches the whole process group); a second one is ignored there.
    for (const worker of live) worker.process.kill("SIGTERM");
    await withDeadline(Promise.all(exited), options.drainMs + FLUSH_GRACE_MS, () => undefined);
    for (const worker of live) if (!worker.isDead()) worker.process.kill("SIGKILL");
    process.exit(code);
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stop(signal));
}
