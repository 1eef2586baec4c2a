import { existsSync } from "node:fs";
import { CredentialsFileError, ensureFirstAdmin } from "../auth/firstRun";
import { parseCommandLine } from "./commandLine";
import { isConfigError, loadConfigOrExit, setEnv } from "../config";
import { disconnectDb, getDb } from "../db/client";
import { EmbeddedPostgresError } from "../db/embedded";
import { MigrationError } from "../db/migrate";
import { prepareDatabase } from "../db/prepare";
import { DatabaseUnreachable, resolveDatabase } from "./database";
import { firstRunLines, ignoredAdminSettingsLine } from "./firstRunMessage";
import { refuseBadAdminSettings, takeAdminSettings } from "./adminSettings";
import { ignoreClosedOutput } from "../http/terminal";

/**
 * npm run db:migrate (and db:seed with --seed). `-- --first-admin` also creates the first admin
 * (ADMIN_EMAIL / ADMIN_PASSWORD) and a demo serving key on a database where nobody can sign in yet,
 * as `npm start` does: the migration Job of a deployment, where the server runs without npm start.
 */
const USAGE = "usage: npm run db:migrate -- [--seed] [--first-admin]";

const args = parseCommandLine({ seed: { type: "boolean", default: false }, "first-admin": { type: "boolean", default: false } }, USAGE);

async function main() {
  ignoreClosedOutput();
  // Used only with --first-admin, on a database nobody signs in to yet: checked there (adminSettings.ts).
  const admin = takeAdminSettings();
  const config = loadConfigOrExit();
  const database = await resolveDatabase({ log: console.log });
  try {
    const result = await prepareDatabase(database.url, { seed: args.seed, log: console.log });
    console.log(result.applied.length ? `migrated to ${result.level}` : `already at ${result.level}`);
    if (args["first-admin"]) {
      setEnv("DATABASE_URL", database.url);
      await refuseBadAdminSettings(admin, getDb());
      const created = admin.problem ? null : await ensureFirstAdmin(getDb(), { adminEmail: admin.adminEmail, adminPassword: admin.adminPassword, credentialsFile: config.FIRST_RUN_CREDENTIALS_FILE, log: console.log });
      await disconnectDb();
      if (created) {
        // In a migration Job the output is a log others read: no secret there (firstRunLines).
        console.log(firstRunLines(created, { operatorPassword: admin.set.adminPassword, interactive: Boolean(process.stdout.isTTY), file: config.FIRST_RUN_CREDENTIALS_FILE }).join("\n"));
      } else {
        console.log("first admin: someone can already sign in, nothing created");
        const ignored = ignoredAdminSettingsLine({ adminEmail: admin.set.adminEmail, adminPassword: admin.set.adminPassword, credentialsFile: existsSync(config.FIRST_RUN_CREDENTIALS_FILE) ? config.FIRST_RUN_CREDENTIALS_FILE : null });
        if (ignored) console.log(`first admin: ${ignored}`);
      }
    }
  } finally {
    await database.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof MigrationError || error instanceof DatabaseUnreachable || error instanceof EmbeddedPostgresError || error instanceof CredentialsFileError || isConfigError(error) ? (error as Error).message : error);
    process.exit(1);
  },
);
