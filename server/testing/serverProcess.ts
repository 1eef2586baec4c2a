import { loadConfigOrExit } from "../config";
import { runPrimaryOrServe } from "../http/cluster";
import { serverLog } from "../cluster/ipc";
import { serve } from "../http/serverProcess";
import { warmServing } from "../rerank/warm";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../telemetry/clusterMetrics";

// The console's server process as server/http/main.ts runs it (the same shutdown, cluster primary,
// telemetry streams and metrics aggregation), with Next.js replaced by a stand-in that answers
// GET /api/metrics as app/api/metrics/route.ts does, and 404 elsewhere. Integration tests start it
// as a child process (node --import tsx) to signal, kill and restart it. `--no-warm`: the stand-in
// does not warm the serving state itself, as Next does not await instrumentation's warm-up.

const config = loadConfigOrExit();
runPrimaryOrServe(config, () =>
  serve(config, async () => {
    if (!process.argv.includes("--no-warm")) await warmServing(); // what instrumentation.ts does in Next
    return async (req, res) => {
      if (req.url === "/api/metrics") {
        res.setHeader("content-type", PROMETHEUS_CONTENT_TYPE);
        return res.end(await prometheusText());
      }
      res.statusCode = 404;
      res.end("not found (Next.js is not running in this test)");
    };
  }),
serverLog);
