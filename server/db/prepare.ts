import { getDb } from "./client";
import { migrate, type MigrationResult } from "./migrate";
import { migrateJobQueue } from "../jobs/runner";
import { ensurePartitions } from "./partitions";
import { seedDemo } from "./seed";
import { setEnv } from "../config";
import { connectClient } from "./pgClient";

/**
 * Migrates (our migrations, then graphile-worker's own schema, so that jobs can be added in a
 * transaction before any worker has started), creates the coming days' log partitions and
 * (optionally) seeds the demo data.
 */
export async function prepareDatabase(
  url: string,
  options: { seed?: boolean; log?: (line: string) => void } = {},
): Promise<MigrationResult & { seeded: boolean }> {
  const log = options.log ?? (() => {});
  const result = await migrate(url, { log });
  await migrateJobQueue(url);
  const client = await connectClient({ connectionString: url });
  try {
    await ensurePartitions(client);
  } finally {
    await client.end();
  }
  let seeded = false;
  if (options.seed) {
    setEnv("DATABASE_URL", url);
    seeded = (await seedDemo(getDb(), log)).seeded;
  }
  return { ...result, seeded };
}
