import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { experimentInputSchema } from "../experiments/schema";
import { createExperiment, startExperiment } from "../experiments/service";
import { configureShadow } from "../shadow/service";
import { configureStage2 } from "../surfaces/stage2";
import { testActor } from "../testing/actors";
import { createTestSurface } from "../testing/models";
import { setAliasIn } from "./versions";

// The levers that point a surface at an alias wait for a move of that alias which has read its reach
// (server/registry/modelLock.ts): each commits after the move, so the move's entry never leaves out a
// surface it changed. Break test: a stage 2 repointed while a move waited after reading its reach
// committed first, and the move changed that surface's stage 2 without naming it.

const ml = testActor("ml@rerank.local");
let versionOf: (version: number) => string;

beforeAll(async () => {
  const db = getDb();
  // t-ml-model: v1 production, v3 shadow, v4 spare; t-ml-other: another surface of its own.
  await createTestSurface(db, { key: "t-ml", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), shadowBytes: demoModelBytes("candidate"), extraVersions: [demoModelBytes("popularity")] });
  await createTestSurface(db, { key: "t-ml-other", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  const versions = await db.modelVersion.findMany({ where: { model: { name: "t-ml-model" } }, select: { id: true, version: true } });
  versionOf = (version) => versions.find((v) => v.version === version)!.id;
}, 120_000);

/**
 * Moves t-ml-model's `alias` to `version`, holding the move after it read its reach until `lever` has had
 * 800 ms to settle; @returns whether the lever settled while the move held, and the surfaces the move's entry names.
 */
async function leverDuringMove(alias: string, version: number, lever: () => Promise<unknown>) {
  let reachRead!: () => void;
  let release!: () => void;
  const read = new Promise<void>((resolve) => { reachRead = resolve; });
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const move = getDb().$transaction((tx) => setAliasIn(tx, { versionId: versionOf(version), alias, actor: ml, reason: `v${version}`, underLock: async () => { reachRead(); await gate; } }), { timeout: 20_000 });
  await read;
  let settled = false;
  const pressed = lever().finally(() => { settled = true; });
  await new Promise((resolve) => setTimeout(resolve, 800));
  const settledDuringMove = settled;
  release();
  const moved = await move;
  await pressed;
  return { settledDuringMove, surfaces: moved.surfaces };
}

describe("a lever pointing a surface at an alias and a move of that alias", () => {
  it("stage 2: the repoint waits for the move, then serves the version the move left", async () => {
    const { settledDuringMove, surfaces } = await leverDuringMove("production", 4, () => configureStage2(getDb(), { surface: "t-ml-other", stage2: { model: "t-ml-model", alias: "production", rerankCount: 5, budgetMs: 100 }, reason: "rescore" }, ml));
    expect(settledDuringMove).toBe(false);
    expect(surfaces).toEqual(["t-ml"]);
    const stage2 = await getDb().surface.findUniqueOrThrow({ where: { key: "t-ml-other" }, select: { stage2: true } });
    expect(stage2.stage2).toMatchObject({ model: "t-ml-model", alias: "production" });
  });

  it("stage 2 removed while a move of its alias holds the model: the removal waits, and the move names the surface it still changed", async () => {
    // Removal locks the model of the stage 2 it replaces: the move, holding it, is waited for.
    const { settledDuringMove, surfaces } = await leverDuringMove("production", 1, () => configureStage2(getDb(), { surface: "t-ml-other", stage2: null, reason: "off" }, ml));
    expect(settledDuringMove).toBe(false);
    expect(surfaces).toEqual(["t-ml", "t-ml-other"]);
  });

  it("shadow: mirroring to the alias waits for the move", async () => {
    const { settledDuringMove, surfaces } = await leverDuringMove("shadow", 4, () => configureShadow(getDb(), { surface: "t-ml", alias: "shadow", sampleRate: 0.5, reason: "compare" }, ml));
    expect(settledDuringMove).toBe(false);
    // The move read its reach before the shadow pointed at it: it names no surface, and the shadow then mirrors to v4.
    expect(surfaces).toEqual([]);
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-ml" } })).shadowAlias).toBe("shadow");
  });

  it("experiment start: a start whose variant serves the alias waits for the move", async () => {
    await getDb().surface.update({ where: { key: "t-ml" }, data: { shadowAlias: null, shadowSampleRate: 0 } });
    await createExperiment(getDb(), experimentInputSchema.parse({
      key: "t-ml-exp", name: "t-ml-exp", surface: "t-ml", owner: "pm@rerank.local",
      variants: [{ key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" }, { key: "treat", name: "treat", weight: 0.5, modelAlias: "shadow" }],
    }), ml);
    const { settledDuringMove } = await leverDuringMove("shadow", 3, () => startExperiment(getDb(), "t-ml-exp", ml));
    expect(settledDuringMove).toBe(false);
    expect((await getDb().experiment.findUniqueOrThrow({ where: { key: "t-ml-exp" } })).status).toBe("running");
  });
});
