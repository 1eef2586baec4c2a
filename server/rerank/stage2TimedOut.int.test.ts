import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { env } from "../config";
import { getDb } from "../db/client";
import { connectClient } from "../db/pgClient";
import { seedDemo } from "../db/seed";
import { DEMO_CASCADE_SURFACE } from "../demo/cascade";
import { featureStore } from "../features/store";
import { closeCrossEncoders } from "../inference/crossEncoder/pool";
import { rerank } from "./pipeline";

// Re-break 2026-12 on the demo cascade (search-ranker, then the demo cross-encoder over its top 20),
// real PostgreSQL and onnxruntime: with the feature tables locked, six candidates never read before
// get no features and no item text. Stage 1 ranked nothing (every score equal) and says so; stage 2,
// given only the query, scored all six the same (−2.681094) and said "served", marking every item
// "stage2". Stage 2 follows stage 1's rule now (pipeline.ts score()): it ranked nothing → "timeout".

let catalog: string[];
let lock: pg.Client | null = null;

beforeAll(async () => {
  await seedDemo(getDb());
  catalog = (await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, orderBy: { id: "asc" } })).map((c) => c.id);
}, 120_000);

afterAll(async () => {
  await lock?.query("ROLLBACK").catch(() => undefined);
  await lock?.end();
  await closeCrossEncoders();
});

describe("stage 2 on inputs that timed out", () => {
  it("a cross-encoder that scored every item the same on unread items ranked nothing: stage2 timeout, stage 1's order, no 'stage2' reason", async () => {
    const request = (ids: string[]) => ({ surface: DEMO_CASCADE_SURFACE, topK: 6, context: { query: "desk lamp" }, candidates: ids.map((id) => ({ id })) });
    // The first runs open the cross-encoder (past stage 2's budget on a cold pool).
    let warm = await rerank(request(catalog.slice(0, 6)));
    for (let i = 0; i < 20 && warm.stage2?.status !== "served"; i++) warm = await rerank(request(catalog.slice(0, 6)));
    expect(warm.stage2?.status).toBe("served");
    // With features read, the cross-encoder tells the items apart (the rule leaves a ranking that happened alone).
    expect(new Set(warm.stage2!.scores).size).toBeGreaterThan(1);

    const unread = catalog.slice(600, 606);
    featureStore().clear();
    lock = await connectClient({ connectionString: env().DATABASE_URL! });
    await lock.query("BEGIN");
    await lock.query("LOCK TABLE item_features, catalog_items IN ACCESS EXCLUSIVE MODE");
    try {
      const response = await rerank(request(unread));
      expect(response.features.timedOut).toBe(true);
      expect(response.fallback).toEqual({ used: true, reason: "timeout", servedBy: "retrieval_order" });
      expect(response.stage2).toMatchObject({ status: "timeout", reason: "timeout", model: { name: "demo-cross-encoder", alias: "production" }, reranked: [] });
      expect(response.stage2!.scores).toBeUndefined();
      // Stage 1's order (the request's, as stage 1 ranked nothing either), and no item says stage 2 placed it.
      expect(response.items.map((i) => i.id)).toEqual(unread);
      expect(response.items.filter((i) => i.reasons.includes("stage2"))).toEqual([]);
    } finally {
      await lock.query("ROLLBACK");
      await lock.end();
      lock = null;
    }
  });
});
