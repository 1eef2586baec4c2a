import { afterAll, describe, expect, it } from "vitest";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { randomEnsemble } from "../domain/onnx/randomEnsemble";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { createRng } from "../domain/random";
import { setEnv } from "../config";
import { closeScoringPool } from "./scoringPool";
import { openHandle, runScores, runScoresTimed, type TabularHandle } from "./sessions";

// Heavy models on worker threads: real onnxruntime sessions, real worker threads.

const FEATURES = 20;
const spec: FeatureSpec = Array.from({ length: FEATURES }, (_, i) => ({ name: `f${i}`, source: "candidate", default: 0 }) as FeatureSpec[number]);
const artifact = (versionId: string, bytes: Uint8Array) => ({ versionId, name: versionId, version: 1, sha256: versionId, featureSpec: spec, inputName: "features", outputName: "score", bytes });
const handles: TabularHandle[] = [];

afterAll(async () => {
  await closeScoringPool();
  await Promise.all(handles.map((h) => h.session.release()));
});

describe("the scoring pool", () => {
  it("runs a heavy model off the main thread: a light model's request and the event loop go on meanwhile", async () => {
    const rng = createRng(7);
    // Which side of INFERENCE_WORKER_MS a model falls on depends on the machine's speed: the threshold is
    // set for each open so the test is about the pool, not about this machine.
    setEnv("INFERENCE_WORKER_MS", "0");
    const heavy = await openHandle(artifact("heavy", treeEnsembleOnnx(randomEnsemble(rng, { trees: 800, depth: 7, numFeatures: FEATURES, comparison: "<=" }))));
    setEnv("INFERENCE_WORKER_MS", "60000");
    const light = await openHandle(artifact("light", linearRankerOnnx(new Array(FEATURES).fill(0.1), 0)));
    setEnv("INFERENCE_WORKER_MS", undefined);
    handles.push(heavy, light);
    expect(heavy.costMs).toBeGreaterThan(light.costMs);
    expect(heavy.offThread).not.toBeNull();
    expect(light.offThread).toBeNull();

    const rows = 2000;
    const data = Float32Array.from({ length: rows * FEATURES }, () => rng.normal());
    const order: string[] = [];
    const heavyRun = runScoresTimed(heavy, data, rows, FEATURES).then((r) => {
      order.push("heavy");
      return r;
    });
    // A light request arriving after the heavy one is answered before it.
    await runScoresTimed(light, data.subarray(0, 100 * FEATURES), 100, FEATURES).then(() => order.push("light"));
    // And the event loop keeps turning while the heavy model runs.
    let turns = 0;
    while (!order.includes("heavy")) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    expect(order).toEqual(["light", "heavy"]);
    expect(turns).toBeGreaterThan(10);
    // Same scores as the main thread's session.
    const { scores } = await heavyRun;
    expect(Array.from(scores)).toEqual(Array.from(await runScores(heavy, data, rows, FEATURES)));
  }, 120_000);
});
