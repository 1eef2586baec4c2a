import { loadConfigOrExit } from "../config";
import { runPrimaryOrServe } from "./cluster";
import { serverLog } from "../cluster/ipc";
import { takeAdminSettings } from "../cli/adminSettings";

// The server process `npm start` runs (server/cli/start.ts spawns it with HOST, PORT and
// RERANK_DEV): the front door on one port (server/http/serverProcess.ts) with Next.js on a thread of
// this process (server/http/pagesThread.ts: Next.js in the serving thread's isolate cost every
// rerank request ~9–14 % more CPU); with RERANK_DEV=1, Next.js with hot reload on the serving thread
// itself. With WORKERS > 1 the primary of a node:cluster whose workers each run the same
// (server/http/cluster.ts).
//
// The serving thread warms the serving state and runs the job worker (canary analysis: server/jobs,
// server/rollouts/jobs.ts). In development Next bundles its own copies of our modules in this
// isolate, so that state lives on globalThis (surfaces/configCache.ts, features/store.ts,
// rerank/recent.ts, db/client.ts, telemetry/streams.ts, telemetry/metrics.ts, inference/sessions.ts);
// on the pages thread every tRPC call of a page is run here (server/http/pagesBridge.ts).

// ADMIN_EMAIL / ADMIN_PASSWORD choose a first admin, which the server never makes: a bad one must not stop it (server/cli/adminSettings.ts).
takeAdminSettings();
const config = loadConfigOrExit();
runPrimaryOrServe(config, async () => {
  const { serve } = await import("./serverProcess");
  const options = { hostname: config.HOST, port: config.PORT ?? 3000, dir: process.cwd() };
  await serve(config, async () => {
    if (!config.RERANK_DEV) return (await (await import("./pagesThread")).startPagesThread({ next: options, log: serverLog })).handler;
    const [{ default: next }, { metrics }] = await Promise.all([import("next"), import("../telemetry/metrics")]);
    const app = next({ dev: true, ...options });
    await app.prepare();
    metrics.pagesThreadUp.set(1); // the pages are served (on this thread): no alert on a pages thread that dev does not have
    return app.getRequestHandler();
  });
}, serverLog);
