import { execFileSync } from "node:child_process";
import { setEnv } from "../../config";
import { DEMO_CROSS_ENCODER_DIR as DEMO_BUNDLE_DIR } from "../../demo/crossEncoder";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCrossEncoderBundle, type CrossEncoderBundle } from "./bundle";
import { CrossEncoder } from "./model";
import { PoolClosedError, QueueTimeoutError } from "../workerPool";
import { CrossEncoderPool } from "./pool";
import { THREAD_STAT, threadStatField } from "../../testing/threads";

// The pool with real worker threads, the real demo bundle and real onnxruntime.

const hasChrt = (() => {
  try {
    execFileSync("chrt", ["--version"], { stdio: "ignore" });
    return process.platform === "linux";
  } catch {
    return false;
  }
})();

let bundle: CrossEncoderBundle;
let pool: CrossEncoderPool;
beforeAll(async () => {
  bundle = await readCrossEncoderBundle(DEMO_BUNDLE_DIR);
  // A wait long enough that requests made in one tick always share a run.
  pool = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 1000 });
  await pool.register("demo", bundle);
});
afterAll(() => pool?.close());

describe("CrossEncoderPool", () => {
  it("scores in a worker what the model scores in-thread, batching concurrent requests into one run", async () => {
    const docs = ["Compact Headphones electronics", "Classic Olive Oil grocery", "Soft Plush Bear toys"];
    const [a, b] = await Promise.all([pool.score("demo", "earphones", docs), pool.score("demo", "teddy", docs)]);
    expect(a.batchedRequests).toBe(2);
    expect(b.batchedRequests).toBe(2);
    const model = await CrossEncoder.open(bundle);
    const direct = await model.score(docs.map((document) => ({ query: "earphones", document })));
    await model.release();
    a.scores.forEach((s, i) => expect(s).toBeCloseTo(direct.scores[i]!, 4));
    expect(a.scores[0]).toBeGreaterThan(a.scores[1]!);
    expect(b.scores[2]).toBeGreaterThan(b.scores[1]!);
  });

  it("counts truncations per request, not per batch", async () => {
    const long = Array.from({ length: 200 }, () => "lamp").join(" ");
    const [cut, whole] = await Promise.all([pool.score("demo", "lamp", [long, "Bright Lamp home"]), pool.score("demo", "lamp", ["Bright Lamp home"], { maxTokensPerDoc: 5 })]);
    expect(cut.truncated).toBe(1);
    expect(whole.truncated).toBe(0);
  });

  it("runs a request larger than the batch limit alone", async () => {
    const many = Array.from({ length: 70 }, (_, i) => `Classic Lamp home ${i}`);
    const result = await pool.score("demo", "lamp", many);
    expect(result.scores).toHaveLength(70);
    expect(result.batchedRequests).toBe(1);
  });

  it("sends a request at once when a worker is free, and batches the requests that arrive while it is busy", async () => {
    const eager = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
    try {
      await eager.register("demo", bundle);
      const docs = ["Bright Lamp home", "Mini Kite toys"];
      const results = await Promise.all(["lamp", "kite", "bear"].map((query) => eager.score("demo", query, docs)));
      // The first went alone (no timer, no wait); the other two waited for its run and shared the next one.
      expect(results.map((r) => r.batchedRequests)).toEqual([1, 2, 2]);
      const model = await CrossEncoder.open(bundle);
      const direct = await model.score(docs.map((document) => ({ query: "bear", document })));
      await model.release();
      results[2]!.scores.forEach((s, i) => expect(s).toBeCloseTo(direct.scores[i]!, 4));
      // A full batch goes without waiting for the worker: 40 + 40 pairs exceed 64, so the second is a task of its own.
      const forty = Array.from({ length: 40 }, (_, i) => `Classic Lamp home ${i}`);
      const [first, second, third] = await Promise.all([eager.score("demo", "a", docs), eager.score("demo", "b", forty), eager.score("demo", "c", forty)]);
      expect([first.batchedRequests, second.batchedRequests, third.batchedRequests]).toEqual([1, 1, 1]);
    } finally {
      await eager.close();
    }
  });

  it("takes a request out of its queue, unscored, when no worker starts it within startWithinMs; the others in the queue run", async () => {
    const eager = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
    try {
      await eager.register("demo", bundle);
      // Large requests (≥ 64 pairs) go to the thread one by one and hold it for tens of ms.
      const big = Array.from({ length: 256 }, (_, i) => `Classic Lamp home with a long description of its shade and base ${i}`);
      const ahead = Array.from({ length: 6 }, () => eager.score("demo", "lamp", big));
      const late = eager.score("demo", "kite", ["Mini Kite toys"], { startWithinMs: 1 });
      const patient = eager.score("demo", "bear", ["Teddy Bear toys"]);
      await expect(late).rejects.toBeInstanceOf(QueueTimeoutError);
      await expect(late).rejects.toMatchObject({ code: "ETIMEDOUT", queued: true });
      // The withdrawn request did not share the patient one's run.
      expect((await patient).batchedRequests).toBe(1);
      expect((await Promise.all(ahead)).every((r) => r.scores.length === 256)).toBe(true);
      // In time, it is scored as any request.
      expect((await eager.score("demo", "kite", ["Mini Kite toys"], { startWithinMs: 5000 })).scores).toHaveLength(1);
    } finally {
      await eager.close();
    }
  });

  it("runs each request alone when dynamic batching is off", async () => {
    const unbatched = new CrossEncoderPool({ workers: 1, maxBatchPairs: 0, maxWaitMs: 0 });
    try {
      await unbatched.register("demo", bundle);
      const results = await Promise.all([unbatched.score("demo", "lamp", ["Bright Lamp home"]), unbatched.score("demo", "kite", ["Mini Kite toys"])]);
      expect(results.map((r) => r.batchedRequests)).toEqual([1, 1]);
    } finally {
      await unbatched.close();
    }
  });

  it("refuses a bundle whose model has the wrong inputs, with the worker's reason", async () => {
    const { readFile } = await import("node:fs/promises");
    const onnx = new Uint8Array(await readFile(new URL("../../../models/demo/search-linear-v2.onnx", import.meta.url)));
    await expect(pool.register("bad", { ...bundle, onnx })).rejects.toMatchObject({ field: "model", code: "BAD_REQUEST" });
    expect(pool.has("bad")).toBe(false);
    await expect(pool.score("bad", "q", ["d"])).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("forgets an unregistered bundle: scoring it is NOT_FOUND until it is registered again", async () => {
    await pool.register("again", bundle);
    pool.unregister("again");
    expect(pool.has("again")).toBe(false);
    await expect(pool.score("again", "lamp", ["Bright Lamp home"])).rejects.toMatchObject({ code: "NOT_FOUND" });
    await pool.register("again", bundle);
    expect((await pool.score("again", "lamp", ["Bright Lamp home"])).scores).toHaveLength(1);
  });

  it.runIf(hasChrt)("runs its threads under SCHED_IDLE with MODEL_THREAD_SCHED=idle and leaves the main thread's policy alone", async () => {
    const idleThreads = () => [...threadStatField(THREAD_STAT.policy).values()].filter((p) => p === 5).length;
    expect(idleThreads()).toBe(0); // the default, "normal"
    setEnv("MODEL_THREAD_SCHED", "idle");
    const idle = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
    try {
      await idle.register("demo", bundle);
      // Threads a worker starts after it set its policy inherit it (tsx's module-hooks thread does): at least one, never the main thread.
      expect(threadStatField(THREAD_STAT.policy).get(process.pid)).toBe(0);
      expect(idleThreads()).toBeGreaterThanOrEqual(1);
    } finally {
      setEnv("MODEL_THREAD_SCHED", undefined);
      await idle.close();
    }
  });

  it("a bundle registered while a thread is busy opens on that thread too, before its queued requests: registration ends after the busy run", async () => {
    // Before: one registration run per thread, handed out as any task; with a thread busy both went
    // to the idle one, and the busy thread opened the bundle inside its first request's budget.
    const two = new CrossEncoderPool({ workers: 2, maxBatchPairs: 0, maxWaitMs: 0 });
    try {
      await two.register("demo", bundle);
      const order: string[] = [];
      const long = two.score("demo", "lamp", Array.from({ length: 400 }, (_, i) => `Classic Bright Reading Lamp for the home office and the living room ${i}`)).then(() => order.push("busy run"));
      await new Promise((r) => setTimeout(r, 20)); // the long run has its thread
      await two.register("again", bundle).then(() => order.push("registered"));
      await long;
      expect(order).toEqual(["busy run", "registered"]);
      expect((await two.score("again", "lamp", ["Bright Lamp home"])).scores).toHaveLength(1);
    } finally {
      await two.close();
    }
  });

  it("refuses registrations and scoring once closed", async () => {
    const closing = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
    await closing.register("demo", bundle);
    await closing.close();
    await expect(closing.register("other", bundle)).rejects.toBeInstanceOf(PoolClosedError);
    await expect(closing.score("demo", "lamp", ["Bright Lamp home"])).rejects.toThrow(/the cross-encoder pool is closed/);
  });
});
