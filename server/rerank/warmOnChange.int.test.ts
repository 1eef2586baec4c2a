import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../auth/apiKeys";
import { setEnv } from "../config";
import { getDb, type Db } from "../db/client";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { setAlias } from "../registry/versions";
import { abortRollout, startRollout } from "../rollouts/service";
import { appliedHere, surfaceConfigs } from "../surfaces/configCache";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { addTestVersion, createTestSurface, slowModelOnnx } from "../testing/models";
import { openWarm } from "../inference/sessions";
import { openServedModels } from "./warm";

// A model that becomes served after the server started (an alias moved to a new version, a canary
// rollout's start, a new experiment arm) is opened — and, when it is heavy enough for the scoring
// pool, opened on the pool's threads — before the change is served: otherwise its first requests
// open a 40 MB session on a pool thread inside a 30 ms budget and fall back as timeouts (found by a
// clean-clone CI run of isolation.int.test.ts, session 19). Real PostgreSQL, real onnxruntime, the
// real HTTP endpoint.

const spec = demoFeatureSpec();
const actor = { kind: "user" as const, id: "warm-test", name: "warm-test@rerank.test" };
let frontDoor: TestFrontDoor;
let key: Record<string, string>;
let catalog: string[];

const candidates = (ids: string[]) => ids.map((id, i) => ({ id, retrievalScore: 1 - i / ids.length }));

/** A heavy version (ten 1024-wide layers, ~40 MB: scored on the pool; a few ms for 10 rows once open) of a surface's model. */
async function addHeavyVersion(db: Db, surfaceKey: string, version: number) {
  const model = await db.model.findUniqueOrThrow({ where: { name: `${surfaceKey}-model` } });
  return addTestVersion(db, { modelId: model.id, version, bytes: slowModelOnnx(spec.length, 1024, 10, version), featureSpec: spec });
}

/**
 * One 10-candidate request, which must be served by a model (no fallback) without waiting for one
 * to open: cold, the first request after the change spent 1,853 ms in scoring (the version read and
 * opened on the main thread, then again on a pool thread: outside the 30 ms budget, which counts
 * the run only); open, 3–4 ms. 500 ms: far from both, on a loaded machine too.
 */
async function rerankAs(surface: string, userKey: string, fallback: unknown = { used: false, reason: null, servedBy: "model" }) {
  const response = await frontDoor.post("/api/v1/rerank", { surface, topK: 5, userKey, candidates: candidates(catalog.slice(0, 10)) }, { headers: key });
  const body = (await response.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(response.status).toBe(200);
  expect(body.fallback).toEqual(fallback);
  expect(body.timings.score).toBeLessThan(500);
  return body;
}

beforeAll(async () => {
  // The actor's row: audited levers re-check that their person exists and is not disabled.
  await getDb().user.upsert({ where: { id: actor.id }, create: { id: actor.id, email: actor.name, name: actor.name, roles: ["admin"] }, update: {} });
  const db = getDb();
  await seedDemo(db);
  catalog = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, orderBy: { id: "asc" }, take: 20 })).map((c) => c.id);
  const owner = await db.user.upsert({ where: { email: "warm@rerank.test" }, create: { email: "warm@rerank.test", name: "Warm", roles: ["admin"] }, update: {} });
  key = { authorization: `Bearer ${(await createApiKey(db, { name: "warm", kind: "serving" }, owner.id)).key}` };
  // Light primaries (main thread), 200 ms budgets: far below a cold open (1,853 ms), far above an open
  // heavy run (3–4 ms) — at 30 ms an open run on a loaded CI machine (2 cores shared with PostgreSQL and
  // other test files) passed the budget now and then, and the test failed for load, not for a cold model.
  for (const surface of ["t-late-alias", "t-late-canary", "t-late-abort"]) await createTestSurface(db, { key: surface, bytes: linearRankerOnnx(new Array(spec.length).fill(0.1), 0), featureSpec: spec, timeoutMs: 200 });
  // With a fallback alias (light, v2): what serves while the primary cannot.
  await createTestSurface(db, { key: "t-late-unready", bytes: linearRankerOnnx(new Array(spec.length).fill(0.1), 0), fallbackBytes: linearRankerOnnx(new Array(spec.length).fill(0.2), 0), featureSpec: spec, timeoutMs: 200 });
  await openServedModels(() => {}); // as a server start does
  frontDoor = await startTestFrontDoor();
}, 120_000);
afterAll(() => {
  setEnv("MODEL_WARM_WAIT_MS", undefined);
  return frontDoor?.close();
});

describe("a model that becomes served after start is open before its first request", () => {
  it("an alias moved to a heavy version: the first requests after the change are the new version's, none a timeout", async () => {
    const db = getDb();
    const heavy = await addHeavyVersion(db, "t-late-alias", 2);
    await appliedHere(setAlias(db, { versionId: heavy.id, alias: "production", actor, reason: "warm test" }));
    expect(surfaceConfigs().peek("t-late-alias")?.primary).toMatchObject({ version: 2 });
    for (let i = 0; i < 4; i++) expect((await rerankAs("t-late-alias", `user-${i}`)).modelVersion).toMatchObject({ name: "t-late-alias-model", version: 2 });
  });

  it("an alias moved by plain SQL elsewhere (another replica, an operator's psql): heard by NOTIFY, served only once open", async () => {
    const db = getDb();
    const heavy = await addHeavyVersion(db, "t-late-alias", 3);
    await db.$executeRaw`UPDATE model_aliases SET version_id = ${heavy.id}, updated_at = now() WHERE name = 'production' AND model_id = ${heavy.modelId}`;
    await expect.poll(() => surfaceConfigs().peek("t-late-alias")?.primary?.version, { interval: 5, timeout: 10_000 }).toBe(3);
    for (let i = 0; i < 4; i++) expect((await rerankAs("t-late-alias", `user-${i}`)).modelVersion).toMatchObject({ version: 3 });
  });

  it("a canary rollout of a heavy version: every request of either arm is served by its model from the first one", async () => {
    const db = getDb();
    await addHeavyVersion(db, "t-late-canary", 2);
    await appliedHere(startRollout(db, { surface: "t-late-canary", version: 2, steps: [50], reason: "warm test" }, actor));
    expect(surfaceConfigs().peek("t-late-canary")?.rollout).toMatchObject({ percent: 50, canary: { version: 2 } });
    const versions = new Set<number>();
    for (let i = 0; i < 16; i++) versions.add((await rerankAs("t-late-canary", `user-${i}`)).modelVersion.version);
    expect([...versions].sort()).toEqual([1, 2]); // 16 users at 50 %: both arms served (a miss has odds 2 × 2⁻¹⁶)
  });

  it("a change served before its model opened (MODEL_WARM_WAIT_MS passed): a request waits at most its budget, then the fallback serves it as a timeout", async () => {
    const db = getDb();
    const heavy = await addHeavyVersion(db, "t-late-unready", 4);
    setEnv("MODEL_WARM_WAIT_MS", "0");
    try {
      await appliedHere(setAlias(db, { versionId: heavy.id, alias: "production", actor, reason: "warm test" }));
    } finally {
      setEnv("MODEL_WARM_WAIT_MS", undefined);
    }
    expect(surfaceConfigs().peek("t-late-unready")?.primary).toMatchObject({ version: 4 });
    const first = await rerankAs("t-late-unready", "user-0", { used: true, reason: "timeout", servedBy: "cascade" });
    expect(first.modelVersion).toMatchObject({ alias: "fallback", version: 2 });
    // It goes on opening meanwhile: the primary serves once it is open.
    await expect.poll(async () => (await frontDoor.post("/api/v1/rerank", { surface: "t-late-unready", topK: 5, userKey: "user-1", candidates: candidates(catalog.slice(0, 10)) }, { headers: key }).then((r) => r.json()) as { modelVersion: { version: number } }).modelVersion.version, { interval: 100, timeout: 30_000 }).toBe(4);
  });

  it("a canary aborted while its model still opens is not served once the model is open (the abort puts the fingerprint back where it was)", async () => {
    // Break test: the reload that read the canary finished opening it after the abort had been read,
    // found nothing newer served, and served the aborted canary until the next change or backstop.
    const db = getDb();
    await addHeavyVersion(db, "t-late-abort", 5);
    const served = () => surfaceConfigs().peek("t-late-abort")?.rollout ?? null;
    expect(served()).toBeNull();
    // Started as another replica would (no appliedHere here): this process hears its NOTIFY and opens v5.
    await startRollout(db, { surface: "t-late-abort", version: 5, steps: [50], reason: "warm test" }, actor);
    await new Promise((r) => setTimeout(r, 150)); // read, opening the 40 MB version (1–2 s)
    expect(served()).toBeNull();
    await appliedHere(abortRollout(db, { surface: "t-late-abort", reason: "bad canary" }, actor), { surface: "t-late-abort" });
    expect(served()).toBeNull();
    const canary = await db.modelVersion.findFirstOrThrow({ where: { model: { name: "t-late-abort-model" }, version: 5 } });
    await openWarm({ versionId: canary.id }); // the same opening the canary's reload waits for (openWarm shares it)
    await new Promise((r) => setTimeout(r, 100)); // that reload has ended
    expect(served()).toBeNull();
    expect((await rerankAs("t-late-abort", "user-1")).modelVersion).toMatchObject({ version: 1 });
  });
});
