import { DEMO_CROSS_ENCODER_DIR as DEMO_BUNDLE_DIR } from "../../demo/crossEncoder";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCrossEncoderBundle, type CrossEncoderBundle } from "./bundle";
import { CrossEncoderPool } from "./pool";

// Attacks on the cross-encoder pool's batching (issue #16): one caller's request must not change
// another caller's answer when they share a model run.

let bundle: CrossEncoderBundle;
let pool: CrossEncoderPool;
beforeAll(async () => {
  bundle = await readCrossEncoderBundle(DEMO_BUNDLE_DIR);
  pool = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 200 });
  await pool.register("demo", bundle);
});
afterAll(() => pool?.close());

const DOCS = ["Compact Headphones electronics", "Classic Olive Oil grocery", "Soft Plush Bear toys"];

describe("CrossEncoderPool batching isolation", () => {
  it("scores a request the same alone and batched with a hostile (long, unicode) request", async () => {
    const alone = await pool.score("demo", "earphones", DOCS);
    expect(alone.batchedRequests).toBe(1);
    const hostile = ["🙂".repeat(5000), "x ".repeat(20000), "", "\u0000\uFFFF\uD800 ok"];
    const [batched] = await Promise.all([pool.score("demo", "earphones", DOCS), pool.score("demo", "ünïcödé".repeat(300), hostile)]);
    expect(batched.batchedRequests).toBe(2);
    expect(batched.scores).toEqual(alone.scores);
  });

  it("does not fail a caller because another caller's request in the same run is malformed", async () => {
    const good = pool.score("demo", "earphones", DOCS);
    const bad = pool.score("demo", "lamp", [null as unknown as string]);
    const [g, b] = await Promise.allSettled([good, bad]);
    expect(b.status).toBe("rejected");
    expect(g.status).toBe("fulfilled");
  });

  it("does not let requests larger than a batch overtake a small request that waits for a free worker", async () => {
    const fifo = new CrossEncoderPool({ workers: 1, maxBatchPairs: 4, maxWaitMs: 0 });
    try {
      await fifo.register("demo", bundle);
      const big = () => Array.from({ length: 40 }, (_, i) => `Classic Lamp home ${i} `.repeat(20));
      const order: string[] = [];
      const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
      const runs = [track("big1", fifo.score("demo", "lamp", big()))];
      runs.push(track("small", fifo.score("demo", "earphones", DOCS)));
      for (let i = 2; i <= 4; i++) runs.push(track(`big${i}`, fifo.score("demo", "lamp", big())));
      await Promise.all(runs);
      expect(order).toEqual(["big1", "small", "big2", "big3", "big4"]);
    } finally {
      await fifo.close();
    }
  });

  it("settles every score during register/unregister churn of its bundle: a result or NOT_FOUND, never a hang", async () => {
    const churn = new CrossEncoderPool({ workers: 2, maxBatchPairs: 8, maxWaitMs: 0 });
    try {
      await churn.register("k", bundle);
      const scores: Promise<unknown>[] = [];
      // Handled at once (allSettled reads them later): a NOT_FOUND that waits through the next
      // register unobserved is an unhandled rejection to Node, and to vitest a failed run.
      const keep = (score: Promise<unknown>) => {
        score.catch(() => {});
        scores.push(score);
      };
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 4; j++) keep(churn.score("k", "earphones", DOCS));
        churn.unregister("k");
        keep(churn.score("k", "earphones", DOCS));
        await churn.register("k", bundle);
      }
      const settled = await Promise.allSettled(scores);
      for (const s of settled) {
        if (s.status === "fulfilled") expect((s.value as { scores: number[] }).scores).toHaveLength(3);
        else expect(s.reason).toMatchObject({ code: "NOT_FOUND" });
      }
      expect(settled.filter((s) => s.status === "fulfilled").length).toBeGreaterThan(0);
      const after = await churn.score("k", "earphones", DOCS);
      const fresh = await pool.score("demo", "earphones", DOCS);
      expect(after.scores).toEqual(fresh.scores);
    } finally {
      await churn.close();
    }
  });
});
