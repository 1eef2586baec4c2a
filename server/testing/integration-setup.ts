import type { TestProject } from "vitest/node";
import { resolveDatabase } from "../cli/database";
import { disconnectDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import { dropClonesOf, waitUntilIdle } from "./postgres";

// One template database per integration run (on DATABASE_URL's server, else a throwaway embedded
// PostgreSQL): migrated from the SQL files and seeded with the demo data once, then cloned for each
// test file (CREATE DATABASE … TEMPLATE, server/testing/integration-env.ts) and dropped with its
// clones at the end. No file sees what another file left behind, whatever the order.

declare module "vitest" {
  export interface ProvidedContext {
    /** The migrated and seeded template; a test file's own database is DATABASE_URL. */
    templateDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const database = await resolveDatabase({ ephemeral: true });
  await prepareDatabase(database.url, { seed: true });
  // CREATE DATABASE … TEMPLATE refuses a source anyone is connected to.
  await disconnectDb();
  await waitUntilIdle(database.url);
  project.provide("templateDatabaseUrl", database.url);
  return async () => {
    await dropClonesOf(database.url);
    await database.close();
  };
}
