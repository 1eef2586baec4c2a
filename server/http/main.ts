import cluster from "node:cluster";
import next from "next";
import { loadConfigOrExit, type Env } from "../config";
import { disconnectDb } from "../db/client";
import { RERANK_LIMITS } from "../rerank/schema";
import { shadowIdle } from "../rerank/shadow";
import { maxModelBytes } from "../registry/versions";
import { answerMetricsCollection } from "../telemetry/clusterMetrics";
import { closeTelemetry } from "../telemetry/streams";
import { runPrimary } from "./cluster";
import { workerId } from "./clusterIpc";
import { frontDoorSettings } from "./frontDoor";
import { createFrontDoorServer } from "./server";
import { trackInFlight, within, type InFlight } from "./shutdown";

// The server process `npm start` runs (server/cli/start.ts spawns it with HOST, PORT and
// RERANK_DEV): Next.js prepared in this process (production build, or `next dev`-style hot reload
// with RERANK_DEV=1), behind the front door on one port. With WORKERS > 1 (not in development) this
// process is the primary of a node:cluster and each worker runs the same server (server/http/cluster.ts).
//
// Next.js runs instrumentation.ts's register() once while it prepares: it warms the serving state
// and starts the rollout ticker. Next bundles its own copies of our modules, so that state lives on
// globalThis (server/rerank/state.ts, db/client.ts, telemetry/streams.ts, telemetry/metrics.ts,
// inference/sessions.ts): the endpoints served here use the same state, pool and telemetry writer
// as the pages.
//
// SIGTERM and SIGINT (Ctrl-C reaches the whole process group): stop accepting, drain the requests in
// flight (at most SHUTDOWN_DRAIN_MS), let queued shadow scoring finish (at most 5 s), flush the request,
// event and shadow rows (what cannot be written goes to this process's spill file), then exit 0.

const log = (line: string) => console.log(`[rerank${workerId() ? ` worker ${workerId()}` : ""}] ${line}`);

/** Queued mirrors get this long to be scored and logged at shutdown. */
const SHADOW_GRACE_MS = 5000;

async function serve(config: Env) {
  const host = config.HOST;
  const port = config.PORT ?? 3000;
  const dev = config.RERANK_DEV;
  let inFlight: InFlight | null = null;
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return; // a second signal (Ctrl-C twice, or the group's and the supervisor's) changes nothing
    stopping = true;
    const drained = inFlight ? await inFlight.drain(config.SHUTDOWN_DRAIN_MS) : { cut: 0, waitedMs: 0 };
    await within(shadowIdle(), SHADOW_GRACE_MS);
    await closeTelemetry().catch((error: unknown) => console.error("[rerank] flushing telemetry failed:", error));
    await disconnectDb().catch(() => {});
    log(`${signal}: stopped (drained in ${drained.waitedMs} ms${drained.cut > 0 ? `, ${drained.cut} requests cut after SHUTDOWN_DRAIN_MS` : ""}; logs flushed)`);
    process.exit(0);
  };
  // Registered before Next prepares (seconds): a signal during start-up still flushes what was replayed.
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));

  const settings = frontDoorSettings({ ALLOWED_HOSTS: config.ALLOWED_HOSTS?.join(","), TRUST_PROXY: config.TRUST_PROXY }, {
    host,
    port,
    dev,
    jsonBodyLimit: RERANK_LIMITS.maxPayloadBytes,
    // The form carries the spec and metadata beside the file: a little room over the artifact cap.
    uploadBodyLimit: maxModelBytes() + 1_048_576,
  });
  const worker = workerId();
  if (worker) answerMetricsCollection();
  const app = next({ dev, hostname: host, port, dir: process.cwd() });
  await app.prepare();
  if (stopping) return;
  const server = createFrontDoorServer(settings, app.getRequestHandler());
  inFlight = trackInFlight(server);
  // Which worker answered (tests and operators tell the workers apart by it).
  if (worker) server.prependListener("request", (_req, res) => res.setHeader("x-rerank-worker", worker));
  // In development, Next's handler subscribes to this server's upgrade events (hot-reload websocket) on its first request.
  server.listen(port, host, () => log(`serving on http://${host}:${port} (pid ${process.pid}; allowed hosts: ${settings.allowedHosts.join(", ")})`));
}

function main() {
  const config = loadConfigOrExit();
  const workers = config.RERANK_DEV ? 1 : config.WORKERS;
  if (workers > 1 && cluster.isPrimary) return runPrimary({ workers, drainMs: config.SHUTDOWN_DRAIN_MS, log });
  serve(config).catch((error: unknown) => {
    console.error("[rerank] the server could not start:", error);
    process.exit(1);
  });
}

main();
