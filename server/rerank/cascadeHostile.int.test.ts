import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { DEMO_CASCADE_SURFACE } from "../demo/cascade";
import { closeCrossEncoders } from "../inference/crossEncoder/pool";
import { rerank } from "./pipeline";
import type { RerankResponse } from "./schema";

// Attack on the demo cascade (a tabular stage 1, the demo cross-encoder as stage 2; issue #16):
// hostile cascade requests (huge, empty, unicode texts and queries, top-k edges) run concurrently
// with a probe; the probe gets its lone answer when both stages serve, stage 1's order marked when
// stage 2 does not, stage 1's fallback marked when stage 1's model could not start within its
// budget (a heavy model waits for the scoring pool's thread at most that long), and nothing throws.

let catalog: Array<{ id: string }>;
beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  catalog = await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, orderBy: { id: "asc" } });
}, 120_000);
afterAll(() => closeCrossEncoders());

const candidates = (n: number, from = 0, text?: (i: number) => string) =>
  catalog.slice(from, from + n).map((c, i) => ({ id: c.id, retrievalScore: 1 - i / n, ...(text ? { text: text(i) } : {}) }));
const view = (r: RerankResponse) => r.items.map((i) => [i.id, i.score]);

describe("the demo cascade under hostile concurrent load", () => {
  it("answers a probe as alone (or stage 1's order, marked) while hostile requests share its cross-encoder", async () => {
    const probe = { surface: DEMO_CASCADE_SURFACE, topK: 30, context: { query: "wireless headphones" }, candidates: candidates(60, 500) };
    // The first runs open the cross-encoder (past stage 2's budget on a cold pool).
    let alone = await rerank(probe);
    for (let i = 0; i < 20 && alone.stage2?.status !== "served"; i++) alone = await rerank(probe);
    expect(alone.stage2?.status).toBe("served");
    const stage1 = await rerank({ ...probe, surface: "search" });
    const hostile = [
      { surface: DEMO_CASCADE_SURFACE, topK: 1, context: { query: "🙂".repeat(1000) }, candidates: candidates(40, 0, () => "lamp ".repeat(19_000)) },
      { surface: DEMO_CASCADE_SURFACE, topK: 1000, context: { query: "" }, candidates: candidates(200, 100, (i) => (i % 2 ? "" : "\u200b")) },
      { surface: DEMO_CASCADE_SURFACE, topK: 1, context: { query: "漢字 ".repeat(600) }, candidates: candidates(1, 300) },
    ];
    const runs: Promise<RerankResponse>[] = [];
    const probes: Promise<RerankResponse>[] = [];
    for (let i = 0; i < 12; i++) {
      runs.push(rerank(hostile[i % hostile.length]!));
      if (i % 3 === 0) probes.push(rerank(probe));
    }
    const settled = await Promise.allSettled(runs);
    expect(settled.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
    for (const response of await Promise.all(probes)) {
      const seen = JSON.stringify({ fallback: response.fallback, stage2: response.stage2, items: view(response).slice(0, 3) });
      if (response.fallback.used) {
        // Stage 1's model (on the scoring pool's one thread, busy with the hostile requests' stage 1)
        // did not start within its budget: withdrawn, stage 1 served retrieval order, marked.
        expect(response.fallback, seen).toEqual({ used: true, reason: "timeout", servedBy: "retrieval_order" });
        continue;
      }
      if (response.stage2?.status === "served") {
        expect(view(response), seen).toEqual(view(alone));
      } else {
        expect(response.items.map((i) => i.id), seen).toEqual(stage1.items.map((i) => i.id));
        expect(response.stage2?.reason).toBeTruthy();
      }
    }
  });
});
