import pg from "pg";
import { Bench } from "tinybench";
import { resolveDatabase } from "../cli/database";
import { setEnv } from "../config";
import { disconnectDb, getDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import { callerAs } from "../testing/callers";

// Foundation benchmark: the cost of the console's own plumbing against a baseline measured in the
// same run. Baseline: one raw `SELECT 1` over node-postgres. Measured: system.health through the
// tRPC caller and Prisma (which does one query of its own), and the Prisma round trip alone.

async function main() {
  const database = await resolveDatabase({ ephemeral: true });
  try {
    await prepareDatabase(database.url);
    setEnv("DATABASE_URL", database.url);
    const raw = new pg.Client({ connectionString: database.url });
    await raw.connect();
    const db = getDb();
    const caller = callerAs(["admin"]);
    await caller.system.health(); // warm the pool and the query compiler

    const bench = new Bench({ time: 2000, warmupTime: 300 });
    bench
      .add("baseline: pg SELECT 1", async () => { await raw.query("SELECT 1"); })
      .add("prisma $queryRaw SELECT 1", async () => { await db.$queryRaw`SELECT 1`; })
      .add("tRPC system.health (in-process)", async () => { await caller.system.health(); });
    await bench.run();

    const baseline = bench.tasks[0]!.result!;
    const medianOf = (r: typeof baseline) => ("latency" in r ? r.latency.p50 : NaN) as number;
    console.log("\nFoundation benchmark (median latency, ratio to the baseline measured in this run)");
    for (const task of bench.tasks) {
      const r = task.result!;
      const median = medianOf(r);
      console.log(`  ${task.name.padEnd(34)} median ${(median * 1000).toFixed(1).padStart(7)} µs   ×${(median / medianOf(baseline)).toFixed(2)}`);
    }
    await raw.end();
  } finally {
    await disconnectDb();
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
