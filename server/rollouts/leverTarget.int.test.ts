// Break test of the canary levers (finding 1 and 5): each lever acts on the rollout the page showed
// (its rolloutId), never on one started on the surface since; an abort of a rollout already aborted
// answers success and says by whom. Through the tRPC router, on real PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import type { Principal } from "../auth/principal";
import { createCaller } from "../routers/_app";
import { callerAs } from "../testing/callers";
import { createApiKey } from "../auth/apiKeys";
import { createTestSurface } from "../testing/models";
import { contextFor } from "../trpc";

const tabA = () => callerAs(["ml_engineer", "oncall"], "tab-a@rerank.test");
const colleague = () => callerAs(["ml_engineer", "oncall"], "colleague@rerank.test");
const production = async () => (await getDb().modelAlias.findFirstOrThrow({ where: { model: { name: "t-lever-model" }, name: "production" }, include: { version: true } })).version.version;

beforeAll(async () => {
  await createTestSurface(getDb(), {
    key: "t-lever", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(),
    extraVersions: [linearRankerOnnx([1, 1, 1, 1, 1, 1, 1], 0), linearRankerOnnx([2, 1, 1, 1, 1, 1, 1], 0)],
  });
});

describe("canary levers act on the rollout the page showed", () => {
  it("a promote meant for v4 (aborted meanwhile) is a 409 naming how it ended and the v5 running now, and promotes nothing; so are pause and resume", async () => {
    const shown = await tabA().rollouts.start({ surface: "t-lever", version: 4, steps: [1, 50], reason: "canary v4" });
    await colleague().rollouts.abort({ surface: "t-lever", rolloutId: shown.id, reason: "v4 hurts CTR" });
    const now = await colleague().rollouts.start({ surface: "t-lever", version: 5, steps: [1, 50], reason: "canary v5 instead" });

    const refusal = () => ({
      code: "CONFLICT",
      message: expect.stringMatching(new RegExp(
        `^rolloutId: the canary you acted on \\(${shown.id}: t-lever-model v4 on "t-lever", started .+ by tab-a@rerank\\.test\\) ended: aborted by colleague@rerank\\.test at .+ \\("v4 hurts CTR"\\); `
        + `the rollout running now is ${now.id} \\(v5 at 1 %, running, started .+ by colleague@rerank\\.test\\); reload and check before acting$`,
      )),
    });
    // Before: 200, v5 promoted, and its history said "promoted by hand: v4 looks healthy".
    await expect(tabA().rollouts.promote({ surface: "t-lever", rolloutId: shown.id, reason: "v4 looks healthy" })).rejects.toMatchObject(refusal());
    await expect(tabA().rollouts.pause({ surface: "t-lever", rolloutId: shown.id, reason: "hold v4" })).rejects.toMatchObject(refusal());
    await expect(tabA().rollouts.resume({ surface: "t-lever", rolloutId: shown.id, reason: "go on with v4" })).rejects.toMatchObject(refusal());
    expect(await production()).toBe(1);
    expect(await getDb().rollout.findUniqueOrThrow({ where: { id: now.id } })).toMatchObject({ status: "running", currentPercent: 1 });
    expect(await getDb().promotionHistory.count({ where: { rolloutId: now.id, kind: { in: ["canary_promoted", "canary_paused"] } } })).toBe(0);

    // Aborting the v4 the page showed, already aborted: success saying by whom, and v5 is untouched.
    const again = await tabA().rollouts.abort({ surface: "t-lever", rolloutId: shown.id, reason: "abort v4" });
    expect(again.alreadyAborted).toMatchObject({ by: "colleague@rerank.test", reason: "v4 hurts CTR" });
    // …and says what runs now (review: a stale page's abort read as "the canary is gone" while v5 ran).
    expect(again.alreadyAborted!.runningNow).toMatch(new RegExp(`^the rollout running now is ${now.id} \\(v5 at 1 %, running, started .+ by colleague@rerank\\.test\\)$`));
    expect(await getDb().rollout.findUniqueOrThrow({ where: { id: now.id } })).toMatchObject({ status: "running" });
    expect(await getDb().auditLog.count({ where: { action: "rollout.aborted", entityId: shown.id } })).toBe(1);

    // A rollout of another surface is refused naming the field.
    await expect(tabA().rollouts.pause({ surface: "search", rolloutId: now.id, reason: "hold it" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^rolloutId: rollout .+ is on "t-lever", not "search"/) });
    // Scripts may leave rolloutId out: the surface's active rollout.
    expect(await tabA().rollouts.pause({ surface: "t-lever", reason: "script: hold" })).toMatchObject({ id: now.id, status: "paused" });
    expect(await tabA().rollouts.resume({ surface: "t-lever", rolloutId: now.id, reason: "go on" })).toMatchObject({ id: now.id, status: "running" });
  }, 60_000);

  it("two aborts of one rollout at once both succeed (the second says it was already aborted, by whom); one audit row, one history row", async () => {
    const rollout = await getDb().rollout.findFirstOrThrow({ where: { surface: { key: "t-lever" }, status: "running" } });
    const results = await Promise.all([
      tabA().rollouts.abort({ surface: "t-lever", rolloutId: rollout.id, reason: "tab A: abort" }),
      colleague().rollouts.abort({ surface: "t-lever", rolloutId: rollout.id, reason: "colleague: abort" }),
    ]);
    expect(results.every((r) => r.status === "aborted")).toBe(true);
    const already = results.filter((r) => r.alreadyAborted);
    expect(already).toHaveLength(1);
    const winner = results.find((r) => !r.alreadyAborted)!;
    expect(winner).toBeTruthy();
    const history = await getDb().promotionHistory.findMany({ where: { rolloutId: rollout.id, kind: "canary_aborted" } });
    expect(history).toHaveLength(1);
    expect(already[0]!.alreadyAborted!.by).toBe(history[0]!.actor);
    expect(await getDb().auditLog.count({ where: { action: "rollout.aborted", entityId: rollout.id } })).toBe(1);
  }, 60_000);

  it("lever break test (finding 3): an API key named like the judge pauses a canary as a person would: the canary.paused webhook says manual", async () => {
    const db = getDb();
    await db.webhookEndpoint.create({ data: { name: "t-lever-judge", url: "https://example.com/judge", format: "standard", eventKinds: ["canary.paused"], secret: "whsec_dGVzdA==", createdBy: "test" } });
    const started = await tabA().rollouts.start({ surface: "t-lever", version: 5, steps: [1, 50], reason: "canary v5 again" });
    // A stored key (an audited lever re-checks that its key is not revoked), made below the schema that now refuses the name.
    const owner = await db.user.upsert({ where: { email: "judge-owner@rerank.test" }, create: { email: "judge-owner@rerank.test", name: "Owner", roles: ["admin"] }, update: {} });
    const { apiKey } = await createApiKey(db, { name: "rollout-analysis", kind: "automation", roles: ["ml_engineer", "oncall"] }, owner.id);
    const impostor: Principal = { kind: "api_key", id: apiKey.id, name: "rollout-analysis", keyKind: "automation", roles: ["ml_engineer", "oncall"], surfaces: [] };
    await createCaller(contextFor(impostor)).rollouts.pause({ surface: "t-lever", rolloutId: started.id, reason: "hold it" });
    const event = await db.webhookEvent.findFirstOrThrow({ where: { kind: "canary.paused", data: { path: ["rolloutId"], equals: started.id } } });
    expect(event.data).toMatchObject({ mode: "manual", actor: "rollout-analysis" });
    await tabA().rollouts.abort({ surface: "t-lever", rolloutId: started.id, reason: "done" });
  }, 60_000);
});

// Break test (#7): a canary start, and a retry, act on the baseline their dialog showed ("moves from
// v1 to v5"): a colleague's ship since is a 409, not a canary judged against and promoted over a
// version the person never saw. Absent (scripts): as before.
describe("a canary start acts on the baseline its dialog showed", () => {
  const surface = "t-lever-base";
  /** t-lever-base-model's version ids by number: v1 production, v4–v6 spare. */
  let id: (version: number) => string;
  const setProduction = (version: number, reason: string) => colleague().models.setAlias({ versionId: id(version), alias: "production", reason });
  const nothingStarted = async (rollouts: number, audits: number) => {
    expect(await getDb().rollout.count({ where: { surface: { key: surface } } })).toBe(rollouts);
    expect(await getDb().auditLog.count({ where: { action: "rollout.start", surfaceKeys: { has: surface } } })).toBe(audits);
    expect(await getDb().promotionHistory.count({ where: { surfaceKey: surface, kind: "canary_start" } })).toBe(audits);
    expect(await getDb().modelAlias.count({ where: { model: { name: `${surface}-model` }, name: `canary@${surface}` } })).toBe(0);
  };
  const refusal = (was: string, now: string) => ({ code: "CONFLICT", message: `canary start on "${surface}" refused: ${surface}-model production changed since it was read (was ${was}, now ${now}); reload and check` });

  beforeAll(async () => {
    await createTestSurface(getDb(), {
      key: surface, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(),
      extraVersions: [linearRankerOnnx([1, 1, 1, 1, 1, 1, 1], 0), linearRankerOnnx([2, 1, 1, 1, 1, 1, 1], 0), linearRankerOnnx([3, 1, 1, 1, 1, 1, 1], 0)],
    });
    const versions = await getDb().modelVersion.findMany({ where: { model: { name: `${surface}-model` } } });
    id = (v) => versions.find((x) => x.version === v)!.id;
  });

  it("start: the dialog showed v1, a colleague shipped v4: 409 naming both, nothing started or audited; the pin as it is now starts; without it, as before", async () => {
    // Alice's dialog: "moves from v1 to v5". Bob ships v4 meanwhile.
    await setProduction(4, "ship v4");
    // Before: 200, a canary of v5 judged against (and promoted over) v4.
    await expect(tabA().rollouts.start({ surface, version: 5, steps: [1, 50], reason: "canary v5", expectFromVersionId: id(1) })).rejects.toMatchObject(refusal("v1", "v4"));
    // A dialog that showed the alias unset.
    await expect(tabA().rollouts.start({ surface, version: 5, steps: [1, 50], reason: "canary v5", expectFromVersionId: null })).rejects.toMatchObject(refusal("unset", "v4"));
    await nothingStarted(0, 0);
    // A pin that is not an id: 400 naming the field.
    await expect(tabA().rollouts.start({ surface, version: 5, reason: "canary v5", expectFromVersionId: 4 as never })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^expectFromVersionId: /) });

    // Shown as it is now: it starts, judged against v4.
    const fresh = await tabA().rollouts.start({ surface, version: 5, steps: [1, 50], reason: "canary v5 over v4", expectFromVersionId: id(4) });
    expect(fresh).toMatchObject({ status: "running", fromVersionId: id(4), toVersionId: id(5) });
    await tabA().rollouts.abort({ surface, rolloutId: fresh.id, reason: "done" });
    // Without a pin (scripts): as before.
    const script = await tabA().rollouts.start({ surface, version: 5, steps: [1, 50], reason: "script: canary v5" });
    expect(script).toMatchObject({ status: "running", fromVersionId: id(4) });
    await tabA().rollouts.abort({ surface, rolloutId: script.id, reason: "done" });
  }, 60_000);

  it("retry: the dialog showed v4 as the new canary's baseline, a colleague shipped v6: 409, no rollout; the pin as it is now retries; without it, as before", async () => {
    const ended = await getDb().rollout.findFirstOrThrow({ where: { surface: { key: surface }, status: "aborted" }, orderBy: { startedAt: "desc" } });
    const [rollouts, audits] = [await getDb().rollout.count({ where: { surface: { key: surface } } }), await getDb().auditLog.count({ where: { action: "rollout.start", surfaceKeys: { has: surface } } })];
    // Alice's retry dialog: "each step is judged against v4 (serving now)". Bob ships v6 meanwhile.
    await setProduction(6, "ship v6");
    await expect(tabA().rollouts.retry({ rolloutId: ended.id, reason: "again", expectFromVersionId: id(4) })).rejects.toMatchObject(refusal("v4", "v6"));
    await nothingStarted(rollouts, audits);

    const fresh = await tabA().rollouts.retry({ rolloutId: ended.id, reason: "again, over v6", expectFromVersionId: id(6) });
    expect(fresh).toMatchObject({ status: "running", fromVersionId: id(6), toVersionId: id(5) });
    await tabA().rollouts.abort({ surface, rolloutId: fresh.id, reason: "done" });
    const script = await tabA().rollouts.retry({ rolloutId: ended.id, reason: "script: again" });
    expect(script).toMatchObject({ status: "running", fromVersionId: id(6) });
    await tabA().rollouts.abort({ surface, rolloutId: script.id, reason: "done" });
  }, 60_000);

  it("the baseline is compared under the model's lock: a ship that commits while the start waits for it is a 409", async () => {
    const [rollouts, audits] = [await getDb().rollout.count({ where: { surface: { key: surface } } }), await getDb().auditLog.count({ where: { action: "rollout.start", surfaceKeys: { has: surface } } })];
    let start: Promise<unknown> | undefined;
    await getDb().$transaction(async (tx) => {
      // Another mover of the model's aliases holds its lock: the start's unlocked checks still read v6.
      await tx.$queryRaw`SELECT id FROM models WHERE name = ${`${surface}-model`} FOR UPDATE`;
      start = tabA().rollouts.start({ surface, version: 5, steps: [1, 50], reason: "canary v5 over v6", expectFromVersionId: id(6) }).catch((error: unknown) => error);
      await new Promise((r) => setTimeout(r, 500));
      await tx.modelAlias.updateMany({ where: { model: { name: `${surface}-model` }, name: "production" }, data: { versionId: id(4) } });
    });
    expect(await start).toMatchObject(refusal("v6", "v4"));
    await nothingStarted(rollouts, audits);
  }, 60_000);
});
