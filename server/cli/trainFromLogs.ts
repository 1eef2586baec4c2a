import { parseArgs } from "node:util";
import { ignoreClosedOutput } from "../http/terminal";
import { takeAdminSettings } from "./adminSettings";
import { disconnectDb, getDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import { trainFromLogs } from "../registry/trainFromLogs";
import { resolveDatabase } from "./database";
import { setEnv } from "../config";
import { systemActor } from "../audit/actor";

/** npm run models:train-from-logs -- --surface search [--days 30] : a new version from logged clicks. */
const { values } = parseArgs({ options: { surface: { type: "string", default: "search" }, days: { type: "string", default: "30" }, trees: { type: "string", default: "60" } } });

async function main() {
  ignoreClosedOutput();
  takeAdminSettings(); // they choose only a first admin, which this command never makes: not checked, not passed on
  const database = await resolveDatabase({ log: console.log });
  try {
    await prepareDatabase(database.url);
    setEnv("DATABASE_URL", database.url);
    const result = await trainFromLogs(getDb(), {
      surface: values.surface!, days: Number(values.days), actor: systemActor("models:train-from-logs"), params: { numTrees: Number(values.trees) },
      onProgress: (t, s) => process.stdout.write(`\r  tree ${t + 1}/${values.trees}  ${s.toFixed(1)} s`),
    });
    console.log(`\ntrained on ${result.trainRequests} logged requests, held out ${result.testRequests}, in ${result.trainingSeconds.toFixed(1)} s`);
    console.log(`held-out NDCG@10: new ${result.candidate.ndcg[10]!.toFixed(4)} vs logged order ${result.logged.ndcg[10]!.toFixed(4)}; MRR ${result.candidate.mrr.toFixed(4)} vs ${result.logged.mrr.toFixed(4)}`);
    console.log(`stored as version ${result.version.version} (${result.version.id}); point an alias at it on the Models page to serve it`);
  } finally {
    await disconnectDb();
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error instanceof Error ? error.message : error); process.exit(1); });
