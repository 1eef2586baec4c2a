import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../auth/apiKeys";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec } from "../demo/models";
import { openServedModels } from "../rerank/warm";
import { scoringPool } from "../inference/scoringPool";
import { metrics } from "../telemetry/metrics";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { createTestSurface, slowModelOnnx } from "../testing/models";

// One caller's burst does not queue another caller's requests behind it: with RERANK_MAX_IN_FLIGHT=8,
// a caller sending 40 requests at once holds at most its share and is told 429 for the rest, while
// another caller's requests are all admitted (server/domain/admission/fairShare.ts). Real PostgreSQL,
// real onnxruntime (a model heavy enough to keep requests in flight on the scoring pool), the real
// front door over HTTP. Before, every request was taken: the other caller's waited behind all 40.

const spec = demoFeatureSpec();
let frontDoor: TestFrontDoor;
let flooder: Record<string, string>;
let light: Record<string, string>;
let ids: string[];
/** A model run on the pool directly (not a surface's): ten 1024-wide layers over 20,000 rows, ~2 s here (0.2 s per 2,000 rows measured), far longer than the burst takes to arrive. */
const blocker = { versionId: "admission-blocker", bytes: slowModelOnnx(spec.length, 1024, 10, 1), inputName: "features", outputName: "score" };

beforeAll(async () => {
  setEnv("RERANK_MAX_IN_FLIGHT", "8");
  const db = getDb();
  await seedDemo(db);
  ids = (await db.catalogItem.findMany({ select: { id: true }, orderBy: { id: "asc" }, take: 60 })).map((c) => c.id);
  const owner = await db.user.upsert({ where: { email: "admission@rerank.test" }, create: { email: "admission@rerank.test", name: "Admission", roles: ["admin"] }, update: {} });
  flooder = { authorization: `Bearer ${(await createApiKey(db, { name: "flooder", kind: "serving" }, owner.id)).key}` };
  light = { authorization: `Bearer ${(await createApiKey(db, { name: "light", kind: "serving" }, owner.id)).key}` };
  // Ten 1024-wide layers: heavy enough to be scored on the scoring pool (a lighter model ran on the event
  // loop, where a request finishes in the callback that read it and none stays in flight), a few ms for 60 rows.
  // A budget far past the blockers' run: the admitted requests wait for a thread (in flight), none is withdrawn.
  await createTestSurface(db, { key: "t-admission", bytes: slowModelOnnx(spec.length, 1024, 10, 2), featureSpec: spec, timeoutMs: 30_000 });
  await openServedModels(() => {});
  frontDoor = await startTestFrontDoor();
}, 120_000);
afterAll(async () => {
  await frontDoor?.close();
  setEnv("RERANK_MAX_IN_FLIGHT", undefined);
});

const body = (user: string) => ({ surface: "t-admission", topK: 5, userKey: user, candidates: ids.map((id, i) => ({ id, retrievalScore: 1 - i / ids.length })) });

describe("fair-share admission of serving requests", () => {
  it("a caller's burst of 40 gets 429 past its share; another caller sending meanwhile is never refused", async () => {
    const refusedBefore = (await metrics.admissionRefused.get()).values.find((v) => v.labels.reason === "caller_share")?.value ?? 0;
    // Both keys checked once first (a fresh key's check reads the database while the burst waits on it).
    for (const headers of [flooder, light]) expect((await frontDoor.post("/api/v1/rerank", body("warm"), { headers })).status).toBe(200);
    // Every scoring thread busy for seconds first: the burst's admitted requests wait for one, in flight (a shorter blocker let 25 of 40 through on a loaded CI machine).
    const busy = Array.from({ length: scoringPool().size }, () => scoringPool().run(blocker, new Float32Array(20_000 * spec.length), 20_000, spec.length));
    const burst = Array.from({ length: 40 }, () => frontDoor.post("/api/v1/rerank", body("flood"), { headers: flooder }));
    const lightAnswers: number[] = [];
    for (let i = 0; i < 6; i++) lightAnswers.push((await frontDoor.post("/api/v1/rerank", body("light"), { headers: light })).status);
    const answers = await Promise.all(burst);
    await Promise.all(busy);
    const statuses = answers.map((a) => a.status);
    const served = statuses.filter((s) => s === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(lightAnswers).toEqual([200, 200, 200, 200, 200, 200]);
    expect(served + refused.length).toBe(40);
    expect(served).toBeGreaterThanOrEqual(8);
    // Its share while alone is all 8; the 40 arrive while the threads are busy: 8 wait for a thread, 32 are refused.
    expect([served, refused.length]).toEqual([8, 32]);
    const refusal = refused[0]!;
    expect(refusal.headers.get("retry-after")).toBe("1");
    const error = (await refusal.json()).error;
    expect(error.code).toBe("TOO_MANY_REQUESTS");
    expect(error.message).toMatch(/^caller: \d+ of your requests are in flight, your share of this server while [12] callers send at once \(\d+\); retry in 1 s or send fewer at once$/);
    const refusedAfter = (await metrics.admissionRefused.get()).values.find((v) => v.labels.reason === "caller_share")?.value ?? 0;
    expect(refusedAfter - refusedBefore).toBe(refused.length);
  });

  it("a tRPC batch of 30 rerank.rank calls passes the same admission: 8 in flight, 22 refused (break test: all 30 ran)", async () => {
    const busy = Array.from({ length: scoringPool().size }, () => scoringPool().run(blocker, new Float32Array(20_000 * spec.length), 20_000, spec.length));
    const calls = Array.from({ length: 30 }, () => "rerank.rank").join(",");
    const input = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [i, { json: body("batch") }]));
    const answer = await fetch(`${frontDoor.url}/api/trpc/${calls}?batch=1`, { method: "POST", body: JSON.stringify(input), headers: { "content-type": "application/json", ...flooder } });
    await Promise.all(busy);
    const results = (await answer.json()) as Array<{ result?: unknown; error?: { json: { message: string; data: { code: string; httpStatus: number } } } }>;
    expect(results).toHaveLength(30);
    const refused = results.filter((r) => r.error?.json.data.code === "TOO_MANY_REQUESTS");
    expect([results.filter((r) => r.result).length, refused.length]).toEqual([8, 22]);
    expect(refused[0]!.error!.json.message).toMatch(/^caller: \d+ of your requests are in flight/);
  });

  it("a refused caller is served again once its requests finished", async () => {
    const again = await frontDoor.post("/api/v1/rerank", body("flood"), { headers: flooder });
    expect(again.status).toBe(200);
    expect((await again.json()).fallback.used).toBe(false);
  });
});
