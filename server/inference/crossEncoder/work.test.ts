import { describe, expect, it } from "vitest";
import { FairQueue } from "../../domain/admission/fairQueue";
import { readBound } from "./encode";
import { batchTokens, estimateWork, paddedTokens, priceAt, PRIOR_MS_PER_CHAR, PRIOR_MS_PER_TOKEN, WorkPrice, type TextWork, type WorkRates } from "./work";

// What the cross-encoder pool charges a request's caller and bounds a batch by (pure: no threads).

const WORDS = ["lamp", "desk", "bright", "warm", "light", "office", "home", "modern", "steel", "wood", "brass", "shade"];
const words = (n: number, seed: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + seed) % WORDS.length]).join(" ");
const LONG = { query: words(40, 0), documents: Array.from({ length: 400 }, (_, k) => words(60, k)) };
const SHORT = { query: "lamp", documents: Array.from({ length: 1000 }, () => "lamp") };

describe("estimateWork", () => {
  it("counts characters (each document's capped by the read bound) and tokens (capped by the model's length), not documents", () => {
    const short = estimateWork(SHORT, 32);
    expect(short).toEqual({ chars: 4 + 1000 * 4, rows: 1000, width: 3 + 1 + 1 });
    const long = estimateWork(LONG, 32);
    expect(long.rows).toBe(400);
    expect(long.width).toBe(32);
    expect(long.chars).toBe(LONG.query.length + LONG.documents.reduce((n, d) => n + d.length, 0));
    // Fewer documents, more work of both kinds.
    expect(long.chars).toBeGreaterThan(25 * short.chars);
    expect(paddedTokens(long)).toBeGreaterThan(2.5 * paddedTokens(short));
    // A document past the read bound counts the bound: no more of it is ever given to the tokenizer at once.
    const huge = estimateWork({ query: "", documents: ["x".repeat(100_000)] }, 32);
    expect(huge.chars).toBe(readBound(32 - 3 + 1));
    expect(estimateWork({ query: "", documents: ["x".repeat(100_000)] }, 512).chars).toBe(readBound(512 - 3 + 1));
    // max_tokens_per_doc lowers both bounds.
    const capped = estimateWork({ query: "", documents: ["x".repeat(100_000)], maxTokensPerDoc: 100 }, 512);
    expect(capped).toEqual({ chars: readBound(101), rows: 1, width: 3 + 100 });
    expect(estimateWork({ query: "q", documents: [] }, 32)).toEqual({ chars: 1, rows: 0, width: 0 });
  });

  it("bounds a batch by its rows padded to its widest", () => {
    const a: TextWork = { chars: 0, rows: 8, width: 32 };
    const b: TextWork = { chars: 0, rows: 2, width: 6 };
    expect(batchTokens([a])).toBe(256);
    expect(batchTokens([a, b])).toBe(320);
    expect(batchTokens([b, b])).toBe(24);
    expect(batchTokens([])).toBe(0);
  });
});

describe("WorkPrice", () => {
  it("prices work at the priors before a run, then at the measured ms per character and per padded token", () => {
    const price = new WorkPrice();
    expect(price.rates()).toEqual({ msPerChar: PRIOR_MS_PER_CHAR, msPerToken: PRIOR_MS_PER_TOKEN });
    price.observe({ chars: 4_000, tokenizeMs: 8, paddedTokens: 5_000, restMs: 25 });
    expect(price.rates()).toEqual({ msPerChar: 0.002, msPerToken: 0.005 });
    expect(priceAt(price.rates(), { chars: 1_000, paddedTokens: 1_000 })).toBeCloseTo(7, 9);
    // Never 0 (FairQueue would count it as 1).
    expect(priceAt(price.rates(), { chars: 0, paddedTokens: 0 })).toBeGreaterThan(0);
  });
});

/** ms per character and per padded token of the demo cross-encoder, as the pool measured them here. */
const MEASURED: WorkRates = { msPerChar: 0.0007, msPerToken: 0.006 };

/**
 * One model thread serving two callers who both keep a backlog: each takes the next request in
 * start-time fair order, charged `charge(work)` when queued and, with `correct`, corrected to what
 * the run really cost when it returns (as the pool does). Returns the thread time each caller got.
 */
function simulate(charge: (work: TextWork) => number, correct: boolean, runs: number): Record<"long" | "short", number> {
  // The run's real cost: its real work (the long documents' reads stop at 256 characters, once 30 tokens are in) at the measured rates.
  const rates = MEASURED;
  const real = { long: { chars: LONG.query.length + 400 * 256, paddedTokens: 400 * 32 }, short: { chars: 4_004, paddedTokens: 5_000 } };
  const estimate = { long: estimateWork(LONG, 32), short: estimateWork(SHORT, 32) };
  const queue = new FairQueue<"long" | "short">();
  const served = { long: 0, short: 0 };
  for (const caller of ["long", "short", "long", "short"] as const) queue.push(caller, charge(estimate[caller]), caller);
  for (let i = 0; i < runs; i++) {
    const caller = queue.next()!;
    const ms = priceAt(rates, real[caller]);
    served[caller] += ms;
    if (correct) queue.adjust(caller, ms - charge(estimate[caller]));
    queue.push(caller, charge(estimate[caller]), caller);
  }
  return served;
}

describe("the pool's fair shares over callers' work (simulated)", () => {
  it("charged by work and corrected, two backlogged callers get equal thread time within one request of each; charged by pairs, the long caller got several times the short one's", () => {
    const byWork = simulate((work) => priceAt(MEASURED, { chars: work.chars, paddedTokens: paddedTokens(work) }), true, 400);
    const longRun = priceAt(MEASURED, { chars: LONG.query.length + 400 * 256, paddedTokens: 400 * 32 });
    expect(Math.abs(byWork.long - byWork.short)).toBeLessThanOrEqual(2 * longRun);
    expect(byWork.long / byWork.short).toBeGreaterThan(0.9);
    expect(byWork.long / byWork.short).toBeLessThan(1.1);
    // The old charge, pairs: the long caller's requests looked 0.4× the short caller's, and it got 11× the short caller's time.
    const byPairs = simulate((work) => work.rows, false, 400);
    expect(byPairs.long / byPairs.short).toBeGreaterThan(10);
  });
});
