// Review finding: a direct change read `requireApproval` before its transaction, so a change that
// then queued for a lock (the model's, behind a judge or another move) applied after approval was
// switched on for its surface. Each direct path now reads it again after its own locks (and, for an
// alias move, on every surface the alias reaches then): approval switched on meanwhile refuses the
// change (409), and nothing moves.
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { callerAs } from "../testing/callers";
import { holdRowLocks } from "../testing/locks";
import { createTestSurface } from "../testing/models";

const engineer = () => callerAs(["ml_engineer", "pm"], "eng@switched.test");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const KEY = "t-switched";
let modelId: string;
let v4: string;

/** Holds a row lock (`lock`) until `release()`, then switches approval on for the surface in the same transaction, as a person pressing the switch while the change waits would. */
const holdThenSwitchOn = (lock: (tx: Prisma.TransactionClient) => Promise<unknown>) =>
  holdRowLocks(lock, (tx) => tx.$executeRaw`UPDATE surfaces SET require_approval = true WHERE key = ${KEY}`);

const refused = { code: "CONFLICT", message: expect.stringContaining(`surface "${KEY}" requires approval for this change`) };

beforeAll(async () => {
  const surface = await createTestSurface(getDb(), { key: KEY, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity"), linearRankerOnnx(demoFeatureSpec().map(() => 0.3), 0)] });
  modelId = surface.modelId!;
  v4 = (await getDb().modelVersion.findFirstOrThrow({ where: { modelId, version: 4 } })).id;
});

async function switchOff() {
  await getDb().surface.update({ where: { key: KEY }, data: { requireApproval: false } });
}

describe("approval switched on while a direct change waits for its lock", () => {
  it("an alias move queued behind the model's lock is refused, and the alias stays", async () => {
    await switchOff();
    const before = await getDb().modelAlias.findFirstOrThrow({ where: { modelId, name: "production" } });
    const hold = holdThenSwitchOn((tx) => tx.$queryRaw`SELECT id FROM models WHERE id = ${modelId} FOR UPDATE`);
    await hold.isLocked;
    const move = engineer().models.setAlias({ versionId: v4, alias: "production", reason: "v4 won offline" });
    const outcome = move.then(() => "applied", (e: unknown) => e);
    await sleep(1_000);
    hold.release();
    await hold.done;
    // Before: applied (approval was read as off before the move queued).
    expect(await outcome).toMatchObject(refused);
    expect((await getDb().modelAlias.findFirstOrThrow({ where: { modelId, name: "production" } })).versionId).toBe(before.versionId);
  }, 30_000);

  it("an experiment start queued behind the experiment's lock is refused, and it stays a draft", async () => {
    await switchOff();
    const e = await engineer().experiments.create({
      key: "t-switched-exp", name: "switched", surface: KEY, owner: "eng@switched.test", hypothesis: "v4 lifts CTR",
      variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelVersionId: v4 }],
      guardrails: [], secondaryMetrics: [],
    });
    const hold = holdThenSwitchOn((tx) => tx.$queryRaw`SELECT id FROM experiments WHERE id = ${e.id} FOR UPDATE`);
    await hold.isLocked;
    const outcome = engineer().experiments.start({ key: "t-switched-exp" }).then(() => "started", (err: unknown) => err);
    await sleep(1_000);
    hold.release();
    await hold.done;
    expect(await outcome).toMatchObject(refused);
    expect(await getDb().experiment.findUniqueOrThrow({ where: { id: e.id } })).toMatchObject({ status: "draft", phase: 0 });
  }, 30_000);

  it("a canary start queued behind the model's lock is refused, and no rollout starts", async () => {
    await switchOff();
    const hold = holdThenSwitchOn((tx) => tx.$queryRaw`SELECT id FROM models WHERE id = ${modelId} FOR UPDATE`);
    await hold.isLocked;
    const outcome = engineer().rollouts.start({ surface: KEY, version: 4, steps: [5, 50], reason: "try v4" }).then(() => "started", (err: unknown) => err);
    await sleep(1_000);
    hold.release();
    await hold.done;
    expect(await outcome).toMatchObject(refused);
    expect(await getDb().rollout.count({ where: { surface: { key: KEY } } })).toBe(0);
  }, 30_000);

  it("an alias move that reaches a guarded surface only since it was read (its stage 2 pointed at the alias meanwhile) is refused (review)", async () => {
    await switchOff();
    const guarded = await createTestSurface(getDb(), { key: "t-switched-guarded", bytes: demoModelBytes("popularity"), featureSpec: demoFeatureSpec() });
    await getDb().surface.update({ where: { id: guarded.id }, data: { requireApproval: true } });
    // "candidate" of t-switched's model serves no surface yet: the first read finds nothing guarded.
    await getDb().modelAlias.create({ data: { modelId, name: "candidate", versionId: v4, updatedBy: "test" } });
    const v1 = (await getDb().modelVersion.findFirstOrThrow({ where: { modelId, version: 1 } })).id;
    const hold = holdRowLocks(
      (tx) => tx.$queryRaw`SELECT id FROM models WHERE id = ${modelId} FOR UPDATE`,
      (tx) => tx.surface.update({ where: { id: guarded.id }, data: { stage2: { model: `${KEY}-model`, alias: "candidate", rerankCount: 5, budgetMs: 100 } } }),
    );
    await hold.isLocked;
    const outcome = engineer().models.setAlias({ versionId: v1, alias: "candidate", reason: "try v1" }).then(() => "applied", (e: unknown) => e);
    await sleep(1_000);
    hold.release();
    await hold.done;
    expect(await outcome).toMatchObject({ code: "CONFLICT", message: expect.stringContaining('surface "t-switched-guarded" requires approval for this change') });
    expect((await getDb().modelAlias.findFirstOrThrow({ where: { modelId, name: "candidate" } })).versionId).toBe(v4);
  }, 30_000);

  it("with approval still off, a queued change applies once the lock is free (the guard refuses only what it should)", async () => {
    await switchOff();
    const hold = holdRowLocks((tx) => tx.$queryRaw`SELECT id FROM models WHERE id = ${modelId} FOR UPDATE`);
    await hold.isLocked;
    const move = engineer().models.setAlias({ versionId: v4, alias: "production", reason: "v4 won offline" });
    await sleep(500);
    hold.release();
    await hold.done;
    expect(await move).toMatchObject({ to: { version: 4 } });
  }, 30_000);
});
