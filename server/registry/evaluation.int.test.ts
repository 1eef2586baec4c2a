import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { InvalidInputError } from "../errors";
import { recordOutcomes } from "../events/service";
import { rerank } from "../rerank/pipeline";
import { telemetry } from "../telemetry/streams";
import { evaluateCounterfactual, evaluateOnLetor, listEvaluations } from "./evaluation";
import { testActor } from "../testing/actors";
import { insertShownRequests } from "../testing/events";

// Offline evaluation of stored versions: the seeded LETOR-trained LambdaMART on the LETOR test file,
// and a counterfactual CTR of the demo rankers on logged search traffic.

beforeAll(async () => {
  await seedDemo(getDb());
});

describe("offline evaluation", () => {
  it("scores the LETOR test file with a stored version and matches its model card", async () => {
    const result = await evaluateOnLetor(getDb(), "letor-lambdamart", 1);
    const card = JSON.parse(readFileSync("models/letor/lambdamart.card.json", "utf8"));
    expect(result.queries).toBe(50);
    expect(result.ndcg[10]).toBeCloseTo(card.offlineMetrics.ndcg["@10"], 4);
    expect(result.mrr).toBeCloseTo(card.offlineMetrics.mrr, 4);
    // Stored with the version, newest first, with who ran it.
    const second = await evaluateOnLetor(getDb(), "letor-lambdamart", 1, testActor("ml@rerank.local"));
    const stored = await listEvaluations(getDb(), "letor-lambdamart", 1);
    expect(stored.letor.map((e) => e.id)).toEqual([second.evaluationId, result.evaluationId]);
    expect(stored.letor[0]).toMatchObject({ kind: "letor", createdBy: "ml@rerank.local", params: { file: result.file } });
    expect((stored.letor[0]!.result as { mrr: number }).mrr).toBeCloseTo(result.mrr, 12);
    expect(stored.counterfactual).toEqual([]);
    await expect(listEvaluations(getDb(), "letor-lambdamart", 99)).rejects.toThrow(/letor-lambdamart v99/);
  });

  it("refuses a version whose features do not fit the file, saying why", async () => {
    const error = await evaluateOnLetor(getDb(), "search-ranker", 2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toBe("version: none of search-ranker v2's 7 features (retrieval_score, …) is a feature of the LETOR test file (f1..f300); features are matched by name");
    // A refused evaluation stores nothing.
    expect((await listEvaluations(getDb(), "search-ranker", 2)).letor).toEqual([]);
  });

  it("estimates the CTR a version would have had on logged traffic (IPS)", async () => {
    const ids = (await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 60, orderBy: { id: "asc" }, select: { id: true } })).map((c) => c.id);
    for (let i = 0; i < 60; i++) {
      const r = await rerank({ surface: "search", topK: 5, userKey: `ips-${i}`, candidates: ids.slice(i % 20, (i % 20) + 30).map((id, k) => ({ id, retrievalScore: 1 - k / 30 })) });
      const events = r.items.map((item) => ({ eventId: `${r.requestId}-i${item.position}`, requestId: r.requestId, type: "impression" as const, itemId: item.id, position: item.position }));
      if (i % 3 === 0) events.push({ eventId: `${r.requestId}-c`, requestId: r.requestId, type: "click" as const, itemId: r.items[0]!.id, position: 1 } as never);
      await recordOutcomes({ events });
    }
    await telemetry().events.flush();
    const estimate = await evaluateCounterfactual(getDb(), "search-ranker", 1, { surface: "search", days: 1 });
    expect(estimate.requests).toBeGreaterThanOrEqual(60);
    expect(estimate.loggedCtr).toBeGreaterThan(0);
    expect(estimate.estimate).toBeGreaterThanOrEqual(0);
    expect(estimate.ci95[0]).toBeLessThanOrEqual(estimate.estimate);
    expect(estimate.ci95[1]).toBeGreaterThanOrEqual(estimate.estimate);
    const [stored] = (await listEvaluations(getDb(), "search-ranker", 1)).counterfactual;
    expect(stored).toMatchObject({ id: estimate.evaluationId, params: { surface: "search", days: 1, eta: 1 } });
    expect((stored!.result as { estimate: number }).estimate).toBe(estimate.estimate);
    await expect(evaluateCounterfactual(getDb(), "search-ranker", 1, { surface: "home-feed", days: 1 })).rejects.toThrow(/no logged impressions on "home-feed"/);
  });

  it("samples the newest requests of the window, not the lowest request ids", async () => {
    const items = (await getDb().catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 3, orderBy: { id: "asc" }, select: { id: true } })).map((c) => c.id);
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    // Numeric ids (which sort before any other) three hours ago, never clicked; then newer requests,
    // each clicked at position 1. A sample of 20 is the 20 newest: a logged CTR of 1/3, not 0.
    await insertShownRequests(getDb(), "t-eval-newest", [
      ...Array.from({ length: 20 }, (_, i) => ({ requestId: String(100000 + i), requestTs: hoursAgo(3), items })),
      ...Array.from({ length: 20 }, (_, i) => ({ requestId: `req-${i}`, requestTs: hoursAgo(0.1), items, clicked: [1] })),
    ]);
    const estimate = await evaluateCounterfactual(getDb(), "search-ranker", 1, { surface: "t-eval-newest", days: 1, maxRequests: 20 });
    expect(estimate).toMatchObject({ requests: 20, impressions: 60, maxRequests: 20 });
    expect(estimate.loggedCtr).toBeCloseTo(1 / 3, 12);
  });
});
