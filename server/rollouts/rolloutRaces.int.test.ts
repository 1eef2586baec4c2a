// Canary levers racing other writers, on real PostgreSQL (session 21 break test of rollouts): a
// serving-alias move that commits while a start waits for the model's lock, and the judge advancing
// the step while on-call aborts. Each race is forced by holding a row lock in another transaction.
import { beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "../audit/actor";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { setAliasIn } from "../registry/versions";
import { createTestSurface } from "../testing/models";
import { abortRollout, promoteRolloutNow, startRollout } from "./service";

const actor: Actor = { kind: "user", id: null, name: "race@rerank.test" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const version = async (n: number) => getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-race-model" }, version: n } });
const production = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-race-model" }, name: "production" }, include: { version: true } })).version;

beforeAll(async () => {
  await createTestSurface(getDb(), {
    key: "t-race", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(),
    extraVersions: [linearRankerOnnx([1, 1, 1, 1, 1, 1, 1], 0), linearRankerOnnx([2, 1, 1, 1, 1, 1, 1], 0), linearRankerOnnx([3, 1, 1, 1, 1, 1, 1], 0)],
  });
});

describe("canary levers under races", () => {
  it("a start whose baseline moved while it waited for the model's lock records the version that serves, and its promotion goes through", async () => {
    const db = getDb();
    const model = await db.model.findUniqueOrThrow({ where: { name: "t-race-model" } });
    const v4 = await version(4);
    let start: Promise<{ id: string; fromVersionId: string | null } | Error> | undefined;
    await db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM models WHERE id = ${model.id} FOR UPDATE`;
      // The start reads production (v1) and its checks pass, then it waits for the lock held here.
      start = startRollout(db, { surface: "t-race", version: 5, steps: [50] }, actor).catch((e: Error) => e);
      await sleep(1000);
      await setAliasIn(tx, { versionId: v4.id, alias: "production", actor, reason: "moved while the start waits" });
    }, { timeout: 20_000 });
    const rollout = await start!;
    if (rollout instanceof Error) throw rollout;
    expect((await production()).version).toBe(4);
    expect(rollout.fromVersionId).toBe(v4.id); // was v1's: every record named a baseline that no longer served
    const history = await db.promotionHistory.findFirstOrThrow({ where: { modelId: model.id, kind: "canary_start" }, orderBy: { id: "desc" }, select: { fromVersion: true, toVersion: true } });
    expect(history).toMatchObject({ fromVersion: 4, toVersion: 5 });
    // Judged against what serves, it promotes (before: 409 "production moved during the rollout", and aborted).
    expect(await promoteRolloutNow(db, { surface: "t-race", reason: "healthy" }, actor)).toMatchObject({ status: "promoted" });
    expect((await production()).version).toBe(5);
  }, 30_000);

  it("an on-call abort while the judge advances the step ends the rollout at the step it reached", async () => {
    const db = getDb();
    const rollout = await startRollout(db, { surface: "t-race", version: 6, steps: [1, 50] }, actor);
    let abort: Promise<unknown> | undefined;
    await db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM rollouts WHERE id = ${rollout.id} FOR UPDATE`;
      abort = abortRollout(db, { surface: "t-race", reason: "on-call: the canary hurts users" }, actor).catch((e: Error) => e);
      await sleep(1000);
      // What the judge writes when the step passes (1 % → 50 %).
      await tx.rollout.update({ where: { id: rollout.id }, data: { step: 1, currentPercent: 50, stepStartedAt: new Date() } });
    }, { timeout: 20_000 });
    const result = await abort;
    expect(result).not.toBeInstanceOf(Error); // was 409 "changed while you acted on it", the canary left at 50 %
    expect(await db.rollout.findUniqueOrThrow({ where: { id: rollout.id } })).toMatchObject({ status: "aborted", currentPercent: 0 });
    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "rollout.aborted", surfaceKeys: { has: "t-race" } }, orderBy: { id: "desc" } });
    expect(audit.before).toEqual({ percent: 50 });
    expect(await db.modelAlias.findFirst({ where: { model: { name: "t-race-model" }, name: "canary@t-race" } })).toBeNull();
  }, 30_000);
});
