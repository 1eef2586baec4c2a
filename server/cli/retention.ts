import { parseArgs } from "node:util";
import { ignoreClosedOutput } from "../http/terminal";
import { takeAdminSettings } from "./adminSettings";
import { systemActor } from "../audit/actor";
import { loadConfigOrExit, setEnv } from "../config";
import { disconnectDb } from "../db/client";
import { runRetention } from "../system/retention";
import { DatabaseUnreachable, resolveDatabase } from "./database";

/**
 * npm run db:retention [-- --days N]: applies retention now (what the daily job does): drops the
 * request, event and shadow partitions older than RETENTION_DAYS (or N) days, keeps rollups.
 */
async function main() {
  ignoreClosedOutput();
  takeAdminSettings(); // they choose only a first admin, which this command never makes: not checked, not passed on
  loadConfigOrExit();
  const { values } = parseArgs({ options: { days: { type: "string" } } });
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) throw new Error(`--days must be an integer from 1 to 3650, got "${values.days}"`);
  const database = await resolveDatabase({ log: console.log });
  try {
    setEnv("DATABASE_URL", database.url);
    await runRetention({ retentionDays: days, actor: systemActor("db:retention") });
  } finally {
    await disconnectDb();
    await database.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof DatabaseUnreachable ? error.message : error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
