import type http from "node:http";
import { disconnectDb } from "../db/client";
import { shadowIdle } from "../rerank/shadow";
import { stopJobs } from "../jobs/worker";
import { closeCrossEncoders } from "../inference/crossEncoder/pool";
import { closeTelemetry } from "../telemetry/streams";
import { shutdownTracing } from "../telemetry/tracing";

// Graceful shutdown of one server process, in the order that loses nothing acknowledged:
//   1. stop accepting connections; idle keep-alive connections are closed at once, and a request
//      still arriving on an open connection is answered with `Connection: close`;
//   2. wait for the requests in flight (bounded by SHUTDOWN_DRAIN_MS; then their connections are cut:
//      a cut request was never acknowledged);
//   3. the caller then flushes the request, event and shadow rows (server/telemetry/streams.ts
//      closeTelemetry) and exits.
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
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, drainMs);
            onIdle = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
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

/** Resolves when `promise` settles or after `ms`, whichever is first (a shutdown step must not hang the exit). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Queued mirrors get this long to be scored and logged at shutdown. */
const SHADOW_GRACE_MS = 5000;

/**
 * Installs this process's SIGTERM/SIGINT handling (install it early: a signal during start-up still
 * flushes what the process holds): drain the server once it exists (`inFlight()`), let queued shadow
 * scoring finish, flush the request, event and shadow rows (the rest goes to the spill file), end
 * the database pool, exit 0. A second signal changes nothing (Ctrl-C reaches the whole process
 * group, and the supervisor forwards one too). Returns whether shutdown has begun.
 */
export function installGracefulShutdown(options: { drainMs: number; inFlight: () => InFlight | null; log: (line: string) => void }): () => boolean {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const server = options.inFlight();
    const drained = server ? await server.drain(options.drainMs) : { cut: 0, waitedMs: 0 };
    // Running jobs finish (webhook deliveries, canary judgements); queued ones wait in PostgreSQL for any worker.
    await within(stopJobs(), SHADOW_GRACE_MS);
    await within(closeCrossEncoders(), SHADOW_GRACE_MS);
    await within(shadowIdle(), SHADOW_GRACE_MS);
    await closeTelemetry().catch((error: unknown) => console.error("[rerank] flushing telemetry failed:", error));
    await within(shutdownTracing(), SHADOW_GRACE_MS);
    await disconnectDb().catch(() => {});
    options.log(`${signal}: stopped (drained in ${drained.waitedMs} ms${drained.cut > 0 ? `, ${drained.cut} requests cut after SHUTDOWN_DRAIN_MS` : ""}; logs flushed)`);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  return () => stopping;
}
