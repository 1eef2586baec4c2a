import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CrossEncoderResult } from "../inference/crossEncoder/pool";
import type { CrossEncoderHandle } from "../inference/sessions";
import { metrics } from "../telemetry/metrics";

// The breaker of a cross-encoder surface with the model's runs stubbed (no threads, no database):
// what a run returned — its time and work — is all the breaker judges.

const scoreTexts = vi.fn<(...args: unknown[]) => Promise<CrossEncoderResult>>();
vi.mock("../inference/sessions", () => ({ scoreTexts: (...args: unknown[]) => scoreTexts(...args), runScoresTimed: () => Promise.reject(new Error("not a tabular test")) }));
const { ScoringBreaker } = await import("./breakers");

const handle = { kind: "cross-encoder", name: "ce", version: 1, versionId: "v-ce" } as unknown as CrossEncoderHandle;
const BUDGET = 100;

/** A run's result: `ms` of model time over `docs` documents of `width` tokens. */
const run = (ms: number, docs: number, width: number, charsPerDoc: number): CrossEncoderResult => ({
  scores: new Array<number>(docs).fill(0.5), truncated: 0, modelMs: ms, tokenizeMs: ms / 2, chars: docs * charsPerDoc, paddedTokens: docs * width, runMs: ms, batchedRequests: 1,
});
const LONG = run(3 * BUDGET, 400, 32, 256);
const job = (docs: number) => ({ kind: "text" as const, query: "lamp", documents: new Array<string>(docs).fill("lamp") });

async function fire(breaker: InstanceType<typeof ScoringBreaker>, caller: string, result: CrossEncoderResult): Promise<unknown> {
  scoreTexts.mockResolvedValueOnce(result);
  return breaker.fire(handle, job(result.scores.length), caller).then(() => null, (error: unknown) => error);
}

beforeEach(() => scoreTexts.mockReset());
afterEach(() => vi.restoreAllMocks());

describe("ScoringBreaker, cold: no successful run since the version was loaded", () => {
  it("long-document timeouts from two callers open only their own circuits: a third caller is still served (review: the surface-wide circuit opened for everyone)", async () => {
    const breaker = new ScoringBreaker("t-cold", "ce@1", BUDGET, "cross-encoder");
    for (let i = 0; i < 5; i++) {
      for (const caller of ["a", "b"]) expect(await fire(breaker, caller, LONG)).toMatchObject({ code: "ETIMEDOUT", outcome: "unpriced" });
    }
    expect(breaker.opened).toBe(false);
    expect([breaker.callerState("a"), breaker.callerState("b")]).toEqual(["open", "open"]);
    expect(await fire(breaker, "a", run(10, 3, 8, 20))).toMatchObject({ code: "EOPENBREAKER", scope: "caller" });
    expect(await fire(breaker, "c", run(10, 3, 8, 20))).toBeNull();
  });

  it("once a run has succeeded, timeouts are priced: ordinary work timing out from two callers is the model's fault and opens the surface's circuit", async () => {
    const breaker = new ScoringBreaker("t-warm", "ce@1", BUDGET, "cross-encoder");
    expect(await fire(breaker, "c", run(20, 1000, 5, 4))).toBeNull();
    // Three documents over the budget: far less work than the one that took 20 ms.
    // Five calls in the window (the success among them), most of them faults, from two callers: it opens.
    for (const caller of ["a", "b", "a", "b"]) expect(await fire(breaker, caller, run(3 * BUDGET, 3, 8, 20))).toMatchObject({ code: "ETIMEDOUT", outcome: "model_fault" });
    expect(breaker.opened).toBe(true);
    expect(await fire(breaker, "c", run(10, 3, 8, 20))).toMatchObject({ code: "EOPENBREAKER", scope: "surface" });
  });
});

describe("ScoringBreaker, priced when the version was opened (pricedRunOf)", () => {
  // What the pricing run measured: 3,000 characters tokenised in 2 ms, 320 padded tokens run in 8 ms.
  const priced = { chars: { units: 3_000, ms: 2 }, paddedTokens: { units: 320, ms: 8 } };

  it("before any request succeeded, ordinary work timing out from two callers is the model's fault and opens the surface's circuit (review: a new version that never succeeded stayed unpriced, so only each caller's circuit opened)", async () => {
    const breaker = new ScoringBreaker("t-priced", "ce@1", BUDGET, "cross-encoder", priced);
    for (const caller of ["a", "b", "a", "b", "a"]) expect(await fire(breaker, caller, run(3 * BUDGET, 3, 8, 20))).toMatchObject({ code: "ETIMEDOUT", outcome: "model_fault" });
    expect(breaker.opened).toBe(true);
    expect(await fire(breaker, "c", run(10, 3, 8, 20))).toMatchObject({ code: "EOPENBREAKER", scope: "surface" });
  });

  it("a version too slow for the budget already in its pricing run: ordinary requests' timeouts are its fault, not their callers' (review: they were 'oversized' at its cost, so every caller paid five timeouts)", async () => {
    // The pricing run (3,000 characters, 320 padded tokens) took 300 ms against a 100 ms budget.
    const slow = { chars: { units: 3_000, ms: 60 }, paddedTokens: { units: 320, ms: 240 } };
    const breaker = new ScoringBreaker("t-priced-slow", "ce@1", BUDGET, "cross-encoder", slow);
    for (const caller of ["a", "b", "a", "b", "a"]) expect(await fire(breaker, caller, run(3 * BUDGET, 10, 32, 300))).toMatchObject({ code: "ETIMEDOUT", outcome: "model_fault" });
    expect(breaker.opened).toBe(true);
    // More work than the pricing run's, at that cost over the budget: still the caller's.
    const other = new ScoringBreaker("t-priced-slow-long", "ce@1", BUDGET, "cross-encoder", slow);
    expect(await fire(other, "a", run(3 * BUDGET, 20, 32, 300))).toMatchObject({ code: "ETIMEDOUT", outcome: "oversized" });
  });

  it("once a run succeeded, the measured cost decides: work between what the budget allows and the pricing run's is its caller's (re-review: a fixed 'ordinary' size opened the surface's circuit for everyone)", async () => {
    // Priced at 300 ms for 10 documents (3,000 characters, 320 padded tokens) against a 100 ms budget:
    // about 3 such documents fit. Small requests succeed; two callers' 8-document requests time out.
    const slow = { chars: { units: 3_000, ms: 60 }, paddedTokens: { units: 320, ms: 240 } };
    const breaker = new ScoringBreaker("t-priced-served", "ce@1", BUDGET, "cross-encoder", slow);
    expect(await fire(breaker, "c", run(60, 2, 32, 300))).toBeNull();
    for (const caller of ["a", "b", "a", "b", "a", "b"]) expect(await fire(breaker, caller, run(3 * BUDGET, 8, 32, 300))).toMatchObject({ code: "ETIMEDOUT", outcome: "oversized" });
    expect(breaker.opened).toBe(false);
    expect(await fire(breaker, "c", run(60, 2, 32, 300))).toBeNull();
  });

  it("work the budget does not allow at that cost still counts against its caller only", async () => {
    const breaker = new ScoringBreaker("t-priced-long", "ce@1", BUDGET, "cross-encoder", priced);
    for (let i = 0; i < 5; i++) {
      for (const caller of ["a", "b"]) expect(await fire(breaker, caller, LONG)).toMatchObject({ code: "ETIMEDOUT", outcome: "oversized" });
    }
    expect(breaker.opened).toBe(false);
    expect(await fire(breaker, "c", run(10, 3, 8, 20))).toBeNull();
  });
});

describe("ScoringBreaker, a run its caller stopped waiting for", () => {
  it("a throw while recording its late judgement is logged, not an unhandled rejection (review: Node 20 ends the process)", async () => {
    const breaker = new ScoringBreaker("t-late", "ce@1", 5, "cross-encoder");
    let finish!: (result: CrossEncoderResult) => void;
    scoreTexts.mockReturnValueOnce(new Promise<CrossEncoderResult>((resolve) => (finish = resolve)));
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      // Twice the 5 ms budget passes: the caller gets ETIMEDOUT with the run still going.
      await expect(breaker.fire(handle, job(3), "a")).rejects.toMatchObject({ code: "ETIMEDOUT" });
      vi.spyOn(metrics.breakerState, "set").mockImplementation(() => {
        throw new Error("metric refused");
      });
      finish(run(50, 3, 8, 20));
      // Unhandled rejections are reported after the microtask queue drains: let a few turns pass.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
      expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^\[rerank\] breaker of ce@1 on t-late: a run its caller stopped waiting for could not be judged: .*metric refused/));
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });
});
