import { DEMO_CROSS_ENCODER_DIR as DEMO_BUNDLE_DIR } from "../../demo/crossEncoder";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCrossEncoderBundle } from "./bundle";
import { CrossEncoderPool } from "./pool";

// Real worker threads, the demo bundle, real onnxruntime. Found by the Cohere API's break test: one
// caller's large legal requests held the only thread in arrival order, and a small caller's request
// waited behind all of them (timing out at its start deadline); a victim batched with another
// caller's long documents was charged the whole run's time (its breaker saw a slow model).

let pool: CrossEncoderPool;
beforeAll(async () => {
  pool = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
  await pool.register("demo", await readCrossEncoderBundle(DEMO_BUNDLE_DIR));
});
afterAll(() => pool?.close());

const big = Array.from({ length: 200 }, (_, i) => `Classic Lamp home with a long description of its shade and base ${i}`);

describe("CrossEncoderPool fairness between callers", () => {
  it("serves a second caller's small request after the first caller's running request, not after its whole backlog", async () => {
    const finished: string[] = [];
    const track = (name: string, scoring: Promise<unknown>) => scoring.then(() => finished.push(name));
    const bulk = Array.from({ length: 5 }, (_, i) => track(`bulk-${i}`, pool.score("demo", "lamp", big, { caller: "bulk" })));
    const small = track("small", pool.score("demo", "teddy", ["Soft Plush Bear toys", "Bright Lamp home"], { caller: "small" }));
    await Promise.all([...bulk, small]);
    // bulk-0 took the free thread; the small caller's request is next, then bulk's backlog in its order.
    expect(finished).toEqual(["bulk-0", "small", "bulk-1", "bulk-2", "bulk-3", "bulk-4"]);
  });

  it("alternates two callers' backlogs by pairs instead of serving them in arrival order", async () => {
    const finished: string[] = [];
    const track = (name: string, scoring: Promise<unknown>) => scoring.then(() => finished.push(name));
    const a = Array.from({ length: 4 }, (_, i) => track(`a${i}`, pool.score("demo", "lamp", big, { caller: "a" })));
    const b = Array.from({ length: 3 }, (_, i) => track(`b${i}`, pool.score("demo", "kite", big, { caller: "b" })));
    await Promise.all([...a, ...b]);
    expect(finished).toEqual(["a0", "b0", "a1", "b1", "a2", "b2", "a3"]);
  });

  it("charges each request in a batch its own share of the run: short documents batched with long ones are not charged the long ones' time", async () => {
    // The thread is busy, so the next two requests wait and share one run (12 + 2 pairs ≤ 64).
    const busy = pool.score("demo", "lamp", big, { caller: "bulk" });
    const long = Array.from({ length: 12 }, (_, i) => `${"a very long lamp description ".repeat(60)} ${i}`);
    const [, heavy, light] = await Promise.all([
      busy,
      pool.score("demo", "lamp", long, { caller: "attacker" }),
      pool.score("demo", "bear", ["Soft Plush Bear toys", "Mini Kite toys"], { caller: "victim" }),
    ]);
    expect(heavy.batchedRequests).toBe(2);
    expect(light.batchedRequests).toBe(2);
    expect(heavy.runMs).toBe(light.runMs);
    expect(heavy.truncated).toBe(12);
    // Padded cells: the run is 14 rows × the model's maxLength; the victim's 2 rows are ~10 tokens wide.
    expect(light.modelMs).toBeLessThan(light.runMs * 0.05);
    expect(heavy.modelMs).toBeGreaterThan(heavy.runMs * 0.8);
    expect(heavy.modelMs + light.modelMs).toBeLessThanOrEqual(heavy.runMs + 1e-9);
    // Alone, a request is charged the whole run.
    const alone = await pool.score("demo", "bear", ["Soft Plush Bear toys"], { caller: "victim" });
    expect(alone.modelMs).toBe(alone.runMs);
  });
});
