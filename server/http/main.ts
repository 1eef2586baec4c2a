import { loadConfigOrExit } from "../config";
import { runPrimaryOrServe } from "./cluster";
import { serverLog } from "../cluster/ipc";

// The server process `npm start` runs (server/cli/start.ts spawns it with HOST, PORT and
// RERANK_DEV): Next.js prepared in this process (production build, or `next dev`-style hot reload
// with RERANK_DEV=1), behind the front door on one port (server/http/serverProcess.ts); with
// WORKERS > 1 the primary of a node:cluster whose workers each run the same (server/http/cluster.ts).
//
// Next.js runs instrumentation.ts's register() once while it prepares: it warms the serving state
// and the canary analysis runs as queued jobs (server/jobs, server/rollouts/jobs.ts). Next bundles
// its own copies of our modules, so that state lives on globalThis (surfaces/configCache.ts,
// features/store.ts, rerank/recent.ts, db/client.ts, telemetry/streams.ts, telemetry/metrics.ts,
// inference/sessions.ts): the endpoints served here use the same state, pool and telemetry writer
// as the pages.

const config = loadConfigOrExit();
runPrimaryOrServe(config, async () => {
  const [{ serve }, { default: next }] = await Promise.all([import("./serverProcess"), import("next")]);
  await serve(config, async () => {
    const app = next({ dev: config.RERANK_DEV, hostname: config.HOST, port: config.PORT ?? 3000, dir: process.cwd() });
    await app.prepare();
    return app.getRequestHandler();
  });
}, serverLog);
