import type { TestProject } from "vitest/node";
import { resolveDatabase } from "../cli/database";
import { prepareDatabase } from "../db/prepare";

// One fresh database per integration run (on DATABASE_URL's server, else a throwaway embedded
// PostgreSQL), migrated from the SQL files, dropped at the end: runs never share state.

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const database = await resolveDatabase({ ephemeral: true });
  await prepareDatabase(database.url);
  project.provide("databaseUrl", database.url);
  return async () => {
    await database.close();
  };
}
