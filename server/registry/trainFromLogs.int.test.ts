import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoCatalog } from "../demo/catalog";
import { createRng } from "../domain/random";
import { simulateList } from "../domain/simulation/clickModel";
import { recordOutcomes } from "../events/service";
import { rerank } from "../rerank/pipeline";
import { telemetry } from "../telemetry/streams";
import { trainFromLogs } from "./trainFromLogs";
import { testActor } from "../testing/actors";

// Logged traffic with clicks from the cascade click model → a new version trained from the logs.

beforeAll(async () => {
  await seedDemo(getDb());
});

describe("training from logged clicks", () => {
  it("trains a LambdaMART version of the surface's model from logged requests and clicks", async () => {
    const catalog = new Map(demoCatalog().map((item) => [item.id, item]));
    const ids = [...catalog.values()].filter((i) => i.safetyFlags.length === 0).map((i) => i.id);
    const rng = createRng(11);
    for (let r = 0; r < 300; r++) {
      const start = rng.int(0, ids.length - 40);
      const served = await rerank({ surface: "search", topK: 10, userKey: `tfl-${r % 50}`, candidates: ids.slice(start, start + 40).map((id, i) => ({ id, retrievalScore: 1 - i / 40 })) });
      const outcome = simulateList(served.items.map((i) => ({ id: i.id, quality: catalog.get(i.id)!.quality, price: catalog.get(i.id)!.price })), rng);
      await recordOutcomes({
        events: outcome.events.map((e, k) => ({
          eventId: `${served.requestId}-${k}`, requestId: served.requestId, type: e.type, itemId: e.itemId, position: e.position,
          ...(e.type === "purchase" ? { revenue: e.revenue ?? 0 } : {}),
        })),
      });
    }
    await telemetry().events.flush();
    const result = await trainFromLogs(getDb(), { surface: "search", days: 1, actor: testActor(), params: { numTrees: 15 } });
    expect(result.trainRequests).toBeGreaterThan(20);
    const version = await getDb().modelVersion.findUniqueOrThrow({ where: { id: result.version.id }, include: { parent: true } });
    expect(version.source).toBe("trained-from-logs");
    expect(version.parent?.version).toBe(2);
    expect(Object.keys(version.metrics as object)).toEqual(expect.arrayContaining(["ndcg@10", "mrr", "logged_order_ndcg@10"]));
    expect(result.candidate.ndcg[10]).toBeGreaterThan(0);
  });
});
