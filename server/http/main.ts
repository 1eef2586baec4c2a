import next from "next";
import { loadConfigOrExit } from "../config";
import { startJobs, stopJobs } from "../jobs/worker";
import { RERANK_LIMITS } from "../rerank/schema";
import { closeCrossEncoders } from "../rerank/text/models";
import { maxModelBytes } from "../registry/versions";
import { frontDoorSettings } from "./frontDoor";
import { createFrontDoorServer } from "./server";

// The server process `npm start` runs (server/cli/start.ts spawns it with HOST, PORT and
// RERANK_DEV): Next.js prepared in this process (production build, or `next dev`-style hot reload
// with RERANK_DEV=1), behind the front door on one port.
//
// Next.js runs instrumentation.ts's register() once while it prepares: it warms the serving state
// and flushes telemetry on exit (the canary analysis runs as queued jobs: server/rollouts/jobs.ts).
// Next bundles its own copies of our modules, so that state lives on globalThis
// (surfaces/configCache.ts, features/store.ts, rerank/recent.ts, db/client.ts, telemetry/streams.ts,
// telemetry/metrics.ts, inference/sessions.ts): the endpoints served here use the same state, pool
// and telemetry writer as the pages.

async function main() {
  const config = loadConfigOrExit();
  const host = config.HOST;
  const port = config.PORT ?? 3000;
  const dev = config.RERANK_DEV;
  const settings = frontDoorSettings({ ALLOWED_HOSTS: config.ALLOWED_HOSTS?.join(","), TRUST_PROXY: config.TRUST_PROXY }, {
    host,
    port,
    dev,
    jsonBodyLimit: RERANK_LIMITS.maxPayloadBytes,
    // The form carries the spec and metadata beside the file: a little room over the artifact cap.
    uploadBodyLimit: maxModelBytes() + 1_048_576,
  });
  const app = next({ dev, hostname: host, port, dir: process.cwd() });
  await app.prepare();
  const server = createFrontDoorServer(settings, app.getRequestHandler());
  // In development, Next's handler subscribes to this server's upgrade events (hot-reload websocket) on its first request.
  server.listen(port, host, () => console.log(`[rerank] serving on http://${host}:${port} (allowed hosts: ${settings.allowedHosts.join(", ")})`));
  // The job worker (webhook deliveries, retention …): jobs wait in PostgreSQL until a worker runs them.
  if (config.DATABASE_URL) startJobs().catch((error: Error) => console.error(`[jobs] the worker could not start: ${error.message.split("\n")[0]}`));
  // Stop accepting at once and drop idle keep-alive connections, stop taking jobs; instrumentation's
  // handler flushes telemetry, waits for running jobs and exits (without a database it is not
  // registered: exit once the server has closed).
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      void stopJobs();
      void closeCrossEncoders();
      server.close(() => (config.DATABASE_URL ? undefined : process.exit(0)));
      server.closeIdleConnections();
    });
  }
}

main().catch((error: unknown) => {
  console.error("[rerank] the server could not start:", error);
  process.exit(1);
});
