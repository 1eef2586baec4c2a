import { resolveDatabase } from "../cli/database";
import { getDb } from "../db/client";
import { prepareDatabase } from "../db/prepare";
import type { RerankRequest } from "../rerank/schema";

/**
 * A fresh database with the demo data (dropped by `close`), DATABASE_URL pointed at it, and the
 * serving benchmarks' request: the first 100 safe catalog items, top 20 on the search surface.
 */
export async function benchDatabase(): Promise<{ url: string; request: RerankRequest; close: () => Promise<void> }> {
  const database = await resolveDatabase({ ephemeral: true });
  await prepareDatabase(database.url, { seed: true });
  process.env.DATABASE_URL = database.url;
  const catalog = await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 100, orderBy: { id: "asc" } });
  const request: RerankRequest = { surface: "search", topK: 20, userKey: "bench", candidates: catalog.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / 100 })) };
  return { url: database.url, request, close: () => database.close() };
}
