import { getDb } from "./client";
import { migrate, preparationError, type MigrationResult } from "./migrate";
import { migrateJobQueue } from "../jobs/runner";
import { ensurePartitions } from "./partitions";
import { seedDemo } from "./seed";
import { setEnv } from "../config";
import { connectClient } from "./pgClient";

/**
 * Migrates (our migrations, then graphile-worker's own schema, so that jobs can be added in a
 * transaction before any worker has started), creates the coming days' log partitions and
 * (optionally) seeds the demo data.
 * @throws MigrationError, one line, from any step (a lost connection says the next run finishes).
 */
export async function prepareDatabase(
  url: string,
  options: { seed?: boolean; log?: (line: string) => void } = {},
): Promise<MigrationResult & { seeded: boolean }> {
  const log = options.log ?? (() => {});
  const result = await migrate(url, { log });
  await migrateJobQueue(url).catch((error: unknown) => {
    throw preparationError("Migrating the job queue's schema", error);
  });
  try {
    const client = await connectClient({ connectionString: url });
    try {
      await ensurePartitions(client);
    } finally {
      await client.end().catch(() => {});
    }
  } catch (error) {
    throw preparationError("Creating the log's partitions", error);
  }
  let seeded = false;
  if (options.seed) {
    setEnv("DATABASE_URL", url);
    seeded = (await seedDemo(getDb(), log)).seeded;
  }
  return { ...result, seeded };
}
