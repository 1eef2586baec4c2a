import { DEMO_CROSS_ENCODER_DIR as DEMO_BUNDLE_DIR } from "../../demo/crossEncoder";
import { beforeAll, describe, expect, it } from "vitest";
import { readCrossEncoderBundle, type CrossEncoderBundle } from "./bundle";
import { QueueTimeoutError } from "../workerPool";
import { CrossEncoderPool } from "./pool";

// Real worker threads, the demo bundle, real onnxruntime.
let bundle: CrossEncoderBundle;
beforeAll(async () => {
  bundle = await readCrossEncoderBundle(DEMO_BUNDLE_DIR);
});

/** One worker, batches of up to 64 pairs, no wait: the demo bundle registered; closed after `test`. */
async function withEagerPool(test: (pool: CrossEncoderPool) => Promise<void>): Promise<void> {
  const pool = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
  try {
    await pool.register("demo", bundle);
    await test(pool);
  } finally {
    await pool.close();
  }
}

const big = Array.from({ length: 256 }, (_, i) => `Classic Lamp home with a long description of its shade and base ${i}`);
const outcome = (p: Promise<unknown>, t0: number) =>
  p.then(
    () => ({ scored: true, ms: performance.now() - t0 }),
    (error) => ({ scored: false, ms: performance.now() - t0, queueTimeout: error instanceof QueueTimeoutError }),
  );

// Found by the #16 break test of the start deadline: a batch must not shed requests whose own
// deadline has not passed, and a batch's model fault must reach its requests as that fault.

describe("CrossEncoderPool start deadlines in a batch", () => {
  it("does not shed a request whose own start deadline is far off because a batch-mate's deadline passed", async () => {
    await withEagerPool(async (pool) => {
      // The only thread is busy for a while (large requests go to the worker pool's FIFO one by one).
      const ahead = Array.from({ length: 4 }, () => pool.score("demo", "lamp", big));
      const t0 = performance.now();
      // Two small requests wait on the main thread to share the next run: one with a 5 ms budget
      // (another surface, or an older request), one with 10 s.
      const tight = pool.score("demo", "kite", ["Mini Kite toys"], { startWithinMs: 5 });
      const patient = pool.score("demo", "bear", ["Teddy Bear toys"], { startWithinMs: 10_000 });
      // A large request flushes the waiting queue into the worker pool's FIFO as one task, whose start deadline is the batch's earliest (5 ms).
      const flusher = pool.score("demo", "lamp", big);
      const [t, p] = await Promise.all([outcome(tight, t0), outcome(patient, t0)]);
      await Promise.all([...ahead, flusher]);
      expect(t).toMatchObject({ scored: false, queueTimeout: true });
      // The patient request had 10 s: it must not be shed at its batch-mate's 5 ms.
      expect(p).toMatchObject({ scored: true });
    });
  });

  it("does not shed a later request of the same budget at an earlier batch-mate's deadline", async () => {
    await withEagerPool(async (pool) => {
      const ahead = Array.from({ length: 40 }, () => pool.score("demo", "lamp", big));
      const first = pool.score("demo", "kite", ["Mini Kite toys"], { startWithinMs: 150 });
      void first.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 120));
      // Same 150 ms budget, arrives 120 ms later; then a full batch flushes both as one task.
      const t1 = performance.now();
      const second = pool.score("demo", "bear", ["Teddy Bear toys"], { startWithinMs: 150 });
      const flusher = pool.score("demo", "lamp", big);
      const s = await outcome(second, t1);
      await Promise.allSettled([...ahead, flusher, first]);
      // Whatever its fate, it must not be withdrawn before its own 150 ms have passed.
      if (!s.scored) expect(s.ms).toBeGreaterThanOrEqual(149);
    });
  });

  it("answers a batch's model fault with the fault, not a queue timeout, when the failed run outlasted the requests' start deadlines", async () => {
    await withEagerPool(async (pool) => {
      // The model's run starts at once and fails after 80 ms (a runtime fault, a crashed thread):
      // the worker pool's run, with the real one for every later task.
      const workers = (pool as unknown as { workers: { run: (task: unknown, options: unknown) => Promise<unknown> } }).workers;
      const real = workers.run.bind(workers);
      let calls = 0;
      workers.run = (task, options) => {
        calls++;
        if (calls === 2) return new Promise((_, reject) => setTimeout(() => reject(new Error("onnxruntime: the run failed")), 80));
        return real(task, options);
      };
      // Call 1 occupies the thread so the next two wait on the main thread and share call 2's run.
      const first = pool.score("demo", "lamp", ["Bright Lamp home"], { startWithinMs: 50 });
      const a = pool.score("demo", "kite", ["Mini Kite toys"], { startWithinMs: 50 });
      const b = pool.score("demo", "bear", ["Teddy Bear toys"], { startWithinMs: 50 });
      await first;
      const results = await Promise.allSettled([a, b]);
      // Their run started in time, then the model failed: each is scored alone, or answered with a
      // fault the breakers count (model_fault) — never a queue timeout ("overloaded", counted nowhere).
      for (const r of results) if (r.status === "rejected") expect(r.reason).not.toBeInstanceOf(QueueTimeoutError);
    });
  });
});
