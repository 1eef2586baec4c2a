import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfigOrExit } from "../config";
import { runPrimaryOrServe } from "../http/cluster";
import { serverLog } from "../cluster/ipc";
import { startPagesThread } from "../http/pagesThread";
import { serve } from "../http/serverProcess";
import { warmServing } from "../rerank/warm";

// The console's server process as server/http/main.ts runs it (the same shutdown, cluster primary,
// telemetry streams, metrics aggregation and pages thread), with Next.js on the pages thread
// replaced by a stand-in (server/testing/pagesStandIn.ts: 404 for any page). Integration tests start
// it as a child process (node --import tsx) to signal, kill and restart it. `--no-warm`: nothing
// warms the serving state before the front door's own warm-up.

const STAND_IN = pathToFileURL(path.join(process.cwd(), "server", "testing", "pagesStandIn.ts")).href;
const config = loadConfigOrExit();
runPrimaryOrServe(config, () =>
  serve(config, async () => {
    if (!process.argv.includes("--no-warm")) await warmServing();
    const next = { hostname: config.HOST, port: config.PORT ?? 3000, dir: process.cwd() };
    return (await startPagesThread({ next, standIn: STAND_IN, log: serverLog })).handler;
  }),
serverLog);
