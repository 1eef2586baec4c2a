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
const WORDS = ["lamp", "desk", "bright", "warm", "light", "office", "home", "modern", "steel", "wood", "brass", "shade"];
const words = (n: number, seed: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + seed) % WORDS.length]).join(" ");

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

  it("alternates two callers' backlogs of equal work instead of serving them in arrival order", async () => {
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

  it("charges work, not documents: a caller of long documents delays one of one-word documents by one request, not by its backlog (break test: charged by pairs, 400 < 1,000, the long caller's backlog went before the short caller's)", async () => {
    // 400 documents of 60 words cost (characters tokenised, padded tokens) well over twice 1,000
    // one-word ones at any price per character and per token: 12,800 padded tokens against 5,000,
    // and 25× the characters. Charged by pairs (400 < 1,000), the long caller's backlog went first.
    const long = Array.from({ length: 400 }, (_, k) => words(60, k));
    const short = Array.from({ length: 1000 }, () => "lamp");
    const finished: string[] = [];
    const ms: Record<string, number> = {};
    const track = (name: string, scoring: Promise<{ modelMs: number }>) => scoring.then((r) => (finished.push(name), (ms[name] = r.modelMs)));
    const l = Array.from({ length: 3 }, (_, i) => track(`L${i}`, pool.score("demo", words(40, i), long, { caller: "long" })));
    const s = Array.from({ length: 3 }, (_, i) => track(`S${i}`, pool.score("demo", "lamp", short, { caller: "short" })));
    await Promise.all([...l, ...s]);
    // L0 took the free thread; the short caller's three requests cost less than one long one, so they go before L1.
    expect(finished).toEqual(["L0", "S0", "S1", "S2", "L1", "L2"]);
    // In the thread's own time: while both callers waited, the long caller got no more than one request beyond the short one's work.
    const before = (name: string, mine: string) => finished.slice(0, finished.indexOf(name) + 1).filter((n) => n.startsWith(mine)).reduce((sum, n) => sum + ms[n]!, 0);
    expect(before("S2", "L"), JSON.stringify(ms)).toBeLessThanOrEqual(before("S2", "S") + Math.max(ms.L0!, ms.L1!, ms.L2!));
  }, 60_000);

  it("bounds a batched run by padded tokens, not only by pairs: long documents do not share a run with more than fits", async () => {
    const bounded = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxBatchTokens: 280, maxWaitMs: 0 });
    try {
      await bounded.register("demo", await readCrossEncoderBundle(DEMO_BUNDLE_DIR));
      // 8 documents past the model's 32 tokens are 256 padded tokens: two such requests (16 pairs ≤ 64) no longer share a run,
      // nor does one with a one-document request (9 rows padded to 32); two short requests do.
      const long = Array.from({ length: 8 }, (_, i) => `${"a very long lamp description ".repeat(60)} ${i}`);
      const busy = bounded.score("demo", "lamp", big, { caller: "bulk" });
      const results = await Promise.all([
        bounded.score("demo", "lamp", long, { caller: "a" }),
        bounded.score("demo", "lamp", long, { caller: "b" }),
        bounded.score("demo", "bear", ["Soft Plush Bear toys", "Mini Kite toys"], { caller: "c" }),
        bounded.score("demo", "kite", ["Mini Kite toys"], { caller: "d" }),
      ]);
      await busy;
      expect(results.map((r) => r.batchedRequests)).toEqual([1, 1, 2, 2]);
      // A request of more padded tokens than the bound runs alone, though it has fewer pairs than maxBatchPairs.
      const wide = Array.from({ length: 9 }, (_, i) => `${"a very long lamp description ".repeat(60)} ${i}`);
      const again = bounded.score("demo", "lamp", big, { caller: "bulk" });
      const [alone, small] = await Promise.all([bounded.score("demo", "lamp", wide, { caller: "a" }), bounded.score("demo", "kite", ["Mini Kite toys"], { caller: "d" })]);
      await again;
      expect([alone.batchedRequests, small.batchedRequests]).toEqual([1, 1]);
    } finally {
      await bounded.close();
    }
  });
});
