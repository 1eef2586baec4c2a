import os from "node:os";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { randomEnsemble } from "../domain/onnx/randomEnsemble";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { createRng } from "../domain/random";
import { setEnv } from "../config";
import { corruptModelBytes, slowModelOnnx } from "../testing/models";
import { THREAD_STAT, threadStatField } from "../testing/threads";
import { closeScoringPool, scoringPool, ScoringPool, type PooledModel } from "./scoringPool";
import { openHandle, runScores, runScoresTimed, type TabularHandle } from "./sessions";
import { PoolClosedError } from "./workerPool";
import { failureReason, ScoringBreaker } from "../rerank/breakers";

// Heavy models on worker threads: real onnxruntime sessions, real worker threads. Nothing here
// depends on how fast this machine is: the tests assert where a model runs and what it answers,
// and the deadlines (1 and 20 ms) are far below the runs they bound.

const FEATURES = 20;
const spec: FeatureSpec = Array.from({ length: FEATURES }, (_, i) => ({ name: `f${i}`, source: "candidate", default: 0 }) as FeatureSpec[number]);
const artifact = (versionId: string, bytes: Uint8Array) => ({ versionId, name: versionId, version: 1, sha256: versionId, featureSpec: spec, inputName: "features", outputName: "score", bytes });
const pooled = (versionId: string, bytes: Uint8Array): PooledModel => ({ versionId, bytes, inputName: "features", outputName: "score" });

const rng = createRng(7);
const ROWS = 200;
const data = Float32Array.from({ length: ROWS * FEATURES }, () => rng.normal());
const heavyBytes = treeEnsembleOnnx(randomEnsemble(rng, { trees: 800, depth: 7, numFeatures: FEATURES, comparison: "<=" }));
const lightBytes = linearRankerOnnx(new Array(FEATURES).fill(0.1), 0);
let heavy: TabularHandle;
let light: TabularHandle;

beforeAll(async () => {
  // Which side of INFERENCE_WORKER_MS a model falls on depends on the machine's speed: the threshold is
  // set for each open so the tests are about the pool, not about this machine.
  setEnv("INFERENCE_WORKER_MS", "0");
  heavy = await openHandle(artifact("heavy", heavyBytes));
  setEnv("INFERENCE_WORKER_MS", "60000");
  light = await openHandle(artifact("light", lightBytes));
  setEnv("INFERENCE_WORKER_MS", undefined);
}, 120_000);

afterAll(async () => {
  await closeScoringPool();
  await Promise.all([heavy, light].filter(Boolean).map((h) => h.session.release()));
});

/** A pool of one thread for one test, closed after it. */
async function withPool<T>(test: (pool: ScoringPool) => Promise<T>): Promise<T> {
  const pool = new ScoringPool(1);
  try {
    return await test(pool);
  } finally {
    await pool.close();
  }
}

describe("the scoring pool", () => {
  it("runs its threads MODEL_THREAD_NICE nicer than the process and leaves the main thread's priority alone", async () => {
    // Relative to the process's own nice (the tests run under `nice -n 10`: an absolute 10 would leave the threads level with the event loop).
    const base = os.getPriority();
    const target = Math.min(19, base + 3);
    setEnv("MODEL_THREAD_NICE", "3");
    try {
      await withPool(async (pool) => {
        await pool.run(pooled("v-nice", lightBytes), data, ROWS, FEATURES);
        const nices = threadStatField(THREAD_STAT.nice);
        expect(nices.get(process.pid)).toBe(base);
        expect([...nices.values()].filter((n) => n === target).length).toBeGreaterThanOrEqual(1);
      });
    } finally {
      setEnv("MODEL_THREAD_NICE", undefined);
    }
  }, 120_000);

  it("routes a model over INFERENCE_WORKER_MS to the pool, and scores there what the main thread scores", async () => {
    expect(heavy.offThread).not.toBeNull();
    expect(light.offThread).toBeNull();
    const offThread = await runScoresTimed(heavy, data, ROWS, FEATURES, { timeoutMs: 60_000 });
    expect(Array.from(offThread.scores)).toEqual(Array.from(await runScores(heavy, data, ROWS, FEATURES)));
  }, 120_000);

  it("opens a version again after its session failed to open on a thread (no thread is left without it)", async () => {
    await withPool(async (pool) => {
      const broken = corruptModelBytes();
      const first = await pool.run(pooled("v-retry", broken), data, ROWS, FEATURES).catch((error: Error) => error);
      const second = await pool.run(pooled("v-retry", broken), data, ROWS, FEATURES).catch((error: Error) => error);
      expect(first).toBeInstanceOf(Error);
      // The same thread reports the same load failure again: it was not marked as holding the version.
      expect((second as Error).message).toBe((first as Error).message);
      expect((second as Error).message).not.toMatch(/not loaded/);
      // The version's good bytes open on that thread.
      const { scores } = await pool.run(pooled("v-retry", lightBytes), data, ROWS, FEATURES);
      expect(Array.from(scores)).toEqual(Array.from(await runScores(light, data, ROWS, FEATURES)));
    });
  }, 120_000);

  it("drops a released version's session from a thread at its next task", async () => {
    await withPool(async (pool) => {
      expect((await pool.run(pooled("v-a", lightBytes), data, ROWS, FEATURES)).openSessions).toBe(1);
      expect((await pool.run(pooled("v-b", lightBytes), data, ROWS, FEATURES)).openSessions).toBe(2);
      pool.release("v-a");
      expect((await pool.run(pooled("v-b", lightBytes), data, ROWS, FEATURES)).openSessions).toBe(1);
    });
  }, 120_000);

  it("answers ETIMEDOUT once a run passes its budget; the thread finishes that run and scores the next task", async () => {
    await withPool(async (pool) => {
      // ~200 rows × 1024² × 3 multiply-adds: far longer than 1 ms on any machine.
      const slow = pooled("v-slow", slowModelOnnx(FEATURES, 1024, 3));
      await expect(pool.run(slow, data, ROWS, FEATURES, { timeoutMs: 1 })).rejects.toMatchObject({ code: "ETIMEDOUT", message: expect.stringMatching(/passed its 1 ms budget on a worker thread of the scoring pool/) });
      const { scores } = await pool.run(pooled("v-after", lightBytes), data, ROWS, FEATURES, { timeoutMs: 60_000 });
      expect(Array.from(scores)).toEqual(Array.from(await runScores(light, data, ROWS, FEATURES)));
    });
  }, 120_000);

  it("counts a run past its budget on the pool as a model fault: the breaker opens for its caller", async () => {
    setEnv("INFERENCE_WORKER_MS", "0");
    const slow = await openHandle(artifact("slow", slowModelOnnx(FEATURES, 1024, 3)));
    setEnv("INFERENCE_WORKER_MS", undefined);
    // The breaker's 10 s window reads Date: frozen, however slowly this machine replaces threads.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      expect(slow.offThread).not.toBeNull();
      const breaker = new ScoringBreaker("t-pool-cut", "slow@1", 20);
      // 40 × ROWS rows × 1024² × 4 multiply-adds: hundreds of ms on any machine, far above the
      // 20 ms budget, which is itself far above an idle thread's time to pick up a task.
      const rows = 40 * ROWS;
      const job = { kind: "features" as const, data: Float32Array.from({ length: rows * FEATURES }, (_, i) => data[i % data.length]!), rows, cols: FEATURES };
      // The breaker opens after 5 calls in its window with half of them faults (volumeThreshold 5).
      for (let i = 0; i < 5; i++) {
        const error = await breaker.fire(slow, job, "caller-a").catch((e: unknown) => e);
        expect(failureReason(error)).toBe("timeout");
        if (i === 0) {
          // The cut run still holds the only thread: the next call waits its 20 ms (the budget) for a thread and
          // is withdrawn unrun. Load, not the model: no circuit counts it.
          const queued = await breaker.fire(slow, job, "caller-a").catch((e: unknown) => e);
          expect(queued).toMatchObject({ code: "ETIMEDOUT", queued: true });
          expect(failureReason(queued)).toBe("timeout");
          expect(breaker.callerState("caller-a")).toBe("closed");
        }
        // A task without a start deadline waits for the cut run to end: the next call finds the thread free.
        await scoringPool().run(pooled("v-barrier", lightBytes), data, ROWS, FEATURES);
      }
      expect(breaker.callerState("caller-a")).toBe("open");
      await expect(breaker.fire(slow, job, "caller-a")).rejects.toMatchObject({ code: "EOPENBREAKER" });
    } finally {
      vi.useRealTimers();
      await slow.session.release();
    }
  }, 120_000);

  it("refuses every run once closed, and is not started again; main-thread models go on", async () => {
    scoringPool();
    await closeScoringPool();
    expect(() => scoringPool()).toThrow(PoolClosedError);
    await expect(runScoresTimed(heavy, data, ROWS, FEATURES)).rejects.toMatchObject({ code: "POOL_CLOSED", message: expect.stringMatching(/the scoring pool is closed/) });
    const { scores } = await runScoresTimed(light, data, ROWS, FEATURES);
    expect(scores).toHaveLength(ROWS);
    await withPool(async (pool) => {
      await pool.close();
      await expect(pool.run(pooled("v-a", lightBytes), data, ROWS, FEATURES)).rejects.toBeInstanceOf(PoolClosedError);
    });
  }, 120_000);
});
