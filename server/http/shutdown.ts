import type http from "node:http";
import { disconnectDb } from "../db/client";
import { shadowIdle } from "../rerank/shadow";
import { stopJobs } from "../jobs/worker";
import { closeCrossEncoders } from "../inference/crossEncoder/pool";
import { closeScoringPool } from "../inference/scoringPool";
import { withDeadline } from "../domain/time/deadline";
import { closeTelemetry } from "../telemetry/streams";
import { shutdownTracing } from "../telemetry/tracing";
import { ignoreClosedOutput } from "./terminal";

// Graceful shutdown of one server process, in the order that loses nothing acknowledged:
//   1. stop accepting connections; idle keep-alive connections are closed at once, and a request
//      still arriving on an open connection is answered with `Connection: close`;
//   2. wait for the requests in flight (bounded by SHUTDOWN_DRAIN_MS; then their connections are cut:
//      a cut request was never acknowledged);
//   3. then the steps of shutdownSteps(), each in turn: running jobs finish, queued shadow scoring
//      finishes, both worker pools close (after the last shadow job, which may score on either;
//      a closed pool refuses instead of starting again), the request, event and shadow rows are
//      flushed (server/telemetry/streams.ts closeTelemetry), tracing and the database close; exit.
// The rows of every answered request are already in the telemetry buffers when its response ends
// (the pipeline records before it answers), so step 3 covers all of them.

export interface InFlight {
  /** Requests whose response has not finished (or whose connection has not closed). */
  count(): number;
  /** Stops accepting and waits for the requests in flight, at most `drainMs`; returns how many were cut. */
  drain(drainMs: number): Promise<{ cut: number; waitedMs: number }>;
}

/** Counts the requests in flight on `server` (call before it listens) and drains it on demand. */
export function trackInFlight(server: http.Server): InFlight {
  let inFlight = 0;
  let draining = false;
  let onIdle: (() => void) | null = null;
  // Before the front door's listener, so the header is set before any answer is written.
  server.prependListener("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight++;
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
  });
  return {
    count: () => inFlight,
    async drain(drainMs) {
      const started = Date.now();
      draining = true;
      server.close();
      server.closeIdleConnections();
      // A keep-alive connection becomes idle when its last response ends: close it then.
      const sweeper = setInterval(() => server.closeIdleConnections(), 20);
      try {
        if (inFlight > 0) await withDeadline(new Promise<void>((resolve) => (onIdle = resolve)), drainMs, () => undefined);
      } finally {
        clearInterval(sweeper);
        onIdle = null;
      }
      const cut = inFlight;
      server.closeAllConnections();
      return { cut, waitedMs: Date.now() - started };
    },
  };
}

/** Queued mirrors get this long to be scored and logged at shutdown; so does each other bounded step. */
const SHADOW_GRACE_MS = 5000;

/** One step of a stopping process after its requests drained: `run` is given `graceMs` at most (none: as long as it takes). */
export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
  graceMs?: number;
}

/**
 * What a process releases after its requests drained, in order: jobs → shadow → worker pools →
 * telemetry → tracing → database. The pools close after the last shadow job (which may score on
 * either pool) and before the telemetry flush. Telemetry has no grace: what it cannot write goes
 * to the spill file, and the step reports its own failure.
 */
export function shutdownSteps(): ShutdownStep[] {
  return [
    // Running jobs finish (webhook deliveries, canary judgements); queued ones wait in PostgreSQL for any worker.
    { name: "jobs", run: stopJobs, graceMs: SHADOW_GRACE_MS },
    { name: "shadow", run: shadowIdle, graceMs: SHADOW_GRACE_MS },
    { name: "worker pools", run: () => Promise.all([closeScoringPool(), closeCrossEncoders()]), graceMs: SHADOW_GRACE_MS },
    { name: "telemetry", run: () => closeTelemetry().catch((error: unknown) => console.error("[rerank] flushing telemetry failed:", error)) },
    { name: "tracing", run: shutdownTracing, graceMs: SHADOW_GRACE_MS },
    { name: "database", run: () => disconnectDb().catch(() => {}) },
  ];
}

/**
 * Runs `steps` one after another. A step past its grace is left behind, and a failing step is
 * reported (`report(name, error)`, default console.error) and the next one runs: a shutdown step
 * must not hang the exit nor keep the later steps (the telemetry flush) from running.
 */
export async function runShutdownSteps(steps: readonly ShutdownStep[], report: (name: string, error: unknown) => void = (name, error) => console.error(`[rerank] shutdown step "${name}" failed:`, error)): Promise<void> {
  for (const step of steps) {
    try {
      const running = step.run();
      await (step.graceMs === undefined ? running : withDeadline(running, step.graceMs, () => undefined));
    } catch (error) {
      report(step.name, error);
    }
  }
}

/**
 * Installs this process's SIGTERM/SIGINT/SIGHUP handling (install it early: a signal during start-up still
 * flushes what the process holds): drain the server once it exists (`inFlight()`), then run
 * shutdownSteps() (jobs, queued shadow scoring, both worker pools, the telemetry flush — the rest
 * goes to the spill file —, tracing, the database pool), exit 0. A second signal changes nothing (Ctrl-C reaches the whole process
 * group, and the supervisor forwards one too). Returns whether shutdown has begun.
 */
export function installGracefulShutdown(options: { drainMs: number; inFlight: () => InFlight | null; log: (line: string) => void }): () => boolean {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const server = options.inFlight();
    const drained = server ? await server.drain(options.drainMs) : { cut: 0, waitedMs: 0 };
    await runShutdownSteps(shutdownSteps());
    options.log(`${signal}: stopped (drained in ${drained.waitedMs} ms${drained.cut > 0 ? `, ${drained.cut} requests cut after SHUTDOWN_DRAIN_MS` : ""}; logs flushed)`);
    process.exit(0);
  };
  // SIGHUP: the terminal that started it closed (its output has nowhere to go: write errors are ignored).
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => void stop(signal));
  process.on("SIGHUP", ignoreClosedOutput);
  return () => stopping;
}
