import { loadConfigOrExit } from "../config";
import { MigrationError } from "../db/migrate";
import { prepareDatabase } from "../db/prepare";
import { DatabaseUnreachable, resolveDatabase } from "./database";

/** npm run db:migrate (and db:seed with --seed) */
async function main() {
  loadConfigOrExit();
  const database = await resolveDatabase({ log: console.log });
  try {
    const result = await prepareDatabase(database.url, { seed: process.argv.includes("--seed"), log: console.log });
    console.log(result.applied.length ? `migrated to ${result.level}` : `already at ${result.level}`);
  } finally {
    await database.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof MigrationError || error instanceof DatabaseUnreachable ? error.message : error);
    process.exit(1);
  },
);
