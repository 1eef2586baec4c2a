import os from "node:os";
import path from "node:path";
import { ensureFirstAdmin } from "../auth/firstRun";
import { resolveDatabase } from "../cli/database";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import type { RerankRequest } from "../rerank/schema";

/**
 * A fresh database with the demo data and a serving key (dropped by `close`), DATABASE_URL pointed at it, and the
 * serving benchmarks' request: the first 100 safe catalog items, top 20 on the search surface.
 */
export async function benchDatabase(): Promise<{ url: string; request: RerankRequest; apiKey: string; close: () => Promise<void> }> {
  const database = await resolveDatabase({ ephemeral: true });
  await prepareDatabase(database.url, { seed: true });
  setEnv("DATABASE_URL", database.url);
  // The serving endpoints need a key by default: the benchmark sends the first admin's demo key, so
  // the console's figures include the key check every real request pays.
  const credentials = await ensureFirstAdmin(getDb(), { credentialsFile: path.join(os.tmpdir(), `rerank-bench-${process.pid}.json`) });
  const catalog = await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 100, orderBy: { id: "asc" } });
  const request: RerankRequest = { surface: "search", topK: 20, userKey: "bench", candidates: catalog.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / 100 })) };
  return { url: database.url, request, apiKey: credentials!.apiKey, close: () => database.close() };
}
