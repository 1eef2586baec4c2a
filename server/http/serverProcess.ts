import type { Env } from "../config";
import { RERANK_LIMITS } from "../rerank/schema";
import { maxModelBytes } from "../registry/versions";
import { answerMetricsCollection } from "../telemetry/clusterMetrics";
import { telemetry } from "../telemetry/streams";
import { answerHeartbeats, serverLog, workerId } from "../cluster/ipc";
import { frontDoorSettings } from "./frontDoor";
import { startJobs } from "../jobs/worker";
import { warmServing } from "../rerank/warm";
import { withDeadline } from "../domain/time/deadline";
import { createFrontDoorServer, type NextHandler } from "./server";
import { installGracefulShutdown, trackInFlight, type InFlight } from "./shutdown";
import { explainListenFailure } from "./listenAddress";

// One server process (alone, or a worker of a cluster: server/http/cluster.ts), whatever answers the
// pages (Next.js in server/http/main.ts, a stand-in in integration tests): shutdown handling first,
// then the page handler, the telemetry streams (claiming spill files of dead processes), the front
// door, and listen.
//
// SIGTERM and SIGINT (Ctrl-C reaches the whole process group): stop accepting, drain the requests in
// flight (at most SHUTDOWN_DRAIN_MS), let queued shadow scoring finish (at most 5 s), flush the request,
// event and shadow rows (what cannot be written goes to this process's spill file), then exit 0
// (server/http/shutdown.ts).

/** How long a start waits for the serving state's warm-up before it listens anyway. */
const WARM_WAIT_MS = 60_000;

/** Serves in this process (one server, or one worker of a cluster); the pages come from `pages()`. */
export async function serve(config: Env, pages: () => Promise<NextHandler>): Promise<void> {
  const host = config.HOST;
  const port = config.PORT ?? 3000;
  let inFlight: InFlight | null = null;
  // Installed before the pages are prepared (seconds): a signal during start-up still flushes what was replayed.
  const stopping = installGracefulShutdown({ drainMs: config.SHUTDOWN_DRAIN_MS, inFlight: () => inFlight, log: serverLog });
  const worker = workerId();
  if (worker) {
    answerHeartbeats();
    answerMetricsCollection();
  }
  const handler = await pages();
  if (stopping()) return;
  // Listen only once the serving state is warm (catalog cached, model sessions open): Next does not
  // await instrumentation's warm-up before serving, and a server taking traffic while it warms (after
  // a crash or SIGTERM under load, `npm start` restarts it) answered its first burst of requests
  // with 503s, key checks starved past API_KEY_LOOKUP_TIMEOUT_MS (#11 break test, bench:faults b/c);
  // a cluster's other workers take the connections meanwhile. The same run as Next's (warm.ts).
  // Bounded: a database that does not answer (paused) must not keep the server from ever listening.
  if (config.DATABASE_URL) await withDeadline(warmServing(), WARM_WAIT_MS, () => serverLog(`listening before the warm-up ended (still running after ${WARM_WAIT_MS / 1000} s)`));
  if (stopping()) return;
  // Open the telemetry streams now: spill files left by dead processes are claimed and replayed at start.
  if (config.DATABASE_URL) telemetry();
  const settings = frontDoorSettings({ ALLOWED_HOSTS: config.ALLOWED_HOSTS?.join(","), TRUST_PROXY: config.TRUST_PROXY }, {
    host,
    port,
    dev: config.RERANK_DEV,
    jsonBodyLimit: RERANK_LIMITS.maxPayloadBytes,
    // The form carries the spec and metadata beside the file: a little room over the artifact cap.
    uploadBodyLimit: maxModelBytes() + 1_048_576,
  });
  const server = createFrontDoorServer(settings, handler);
  inFlight = trackInFlight(server);
  // Which worker answered (tests and operators tell the workers apart by it).
  if (worker) server.prependListener("request", (_req, res) => res.setHeader("x-rerank-worker", worker));
  // In development, Next's handler subscribes to this server's upgrade events (hot-reload websocket) on its first request.
  // A port it cannot have ends the process with one line (it went on without listening, running jobs, and
  // the start's health check was answered by whatever held the port).
  server.once("error", (error: NodeJS.ErrnoException) => {
    void explainListenFailure(error, host, port).then((line) => {
      serverLog(line);
      process.exit(1);
    });
  });
  server.listen(port, host, () => {
    serverLog(`serving on http://${host.includes(":") ? `[${host}]` : host}:${port} (pid ${process.pid}; allowed hosts: ${settings.allowedHosts.join(", ")})`);
    // The job worker (canary judgements, webhook deliveries, retention): jobs wait in PostgreSQL until a worker runs them.
    if (config.DATABASE_URL) startJobs().catch((error: Error) => serverLog(`the job worker could not start: ${error.message.split("\n")[0]}`));
  });
}
