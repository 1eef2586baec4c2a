import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoCatalog } from "../demo/catalog";
import { createRng } from "../domain/random";
import { simulateList } from "../domain/simulation/clickModel";
import { recordOutcomes } from "../events/service";
import { rerank } from "../rerank/pipeline";
import { telemetry } from "../telemetry/streams";
import { trainFromLogs } from "./trainFromLogs";
import { testActor } from "../testing/actors";
import { insertShownRequests } from "../testing/events";
import { seedSurfacesOnDemoModel } from "../testing/experiments";

// Logged traffic with clicks from the cascade click model → a new version trained from the logs.

beforeAll(async () => {
  // The demo data, and a surface of its own on the demo model for the crowding test.
  await seedSurfacesOnDemoModel(getDb(), ["t-tfl-newest"]);
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

  it("takes its limit of requests among the clicked ones, newest first", async () => {
    const items = (await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 4, orderBy: { id: "asc" }, select: { id: true } })).map((c) => c.id);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    // 300 unclicked requests (the newest), 24 clicked ones an hour ago showing 4 items, and 30 older
    // clicked ones two days ago showing 2. A limit of 24 is the 24 clicked an hour ago.
    await insertShownRequests(getDb(), "t-tfl-newest", [
      ...Array.from({ length: 300 }, (_, i) => ({ requestId: `tfl-a-${i}`, requestTs: hoursAgo(0.1), items })),
      ...Array.from({ length: 24 }, (_, i) => ({ requestId: `tfl-new-${i + 1}`, requestTs: hoursAgo(1), items, clicked: [(i % 4) + 1] })),
      ...Array.from({ length: 30 }, (_, i) => ({ requestId: `tfl-old-${i}`, requestTs: hoursAgo(48), items: items.slice(0, 2), clicked: [(i % 2) + 1] })),
    ]);
    const result = await trainFromLogs(getDb(), { surface: "t-tfl-newest", days: 3, maxRequests: 24, actor: testActor(), params: { numTrees: 5 } });
    expect(result.trainRequests + result.testRequests).toBe(24);
    // 4 shown items per training request: none of the older, two-item requests.
    const version = await getDb().modelVersion.findUniqueOrThrow({ where: { id: result.version.id } });
    expect((version.metadata as { trainingData: string }).trainingData).toBe(
      `${result.trainRequests} logged requests with clicks on t-tfl-newest (${4 * result.trainRequests} shown items); ${result.testRequests} held out`,
    );
  });
});
