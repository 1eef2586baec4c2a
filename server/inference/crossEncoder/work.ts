import { UnitCost } from "../../domain/breakers/callerCircuits";
import { readBound } from "./encode";
import type { TextRequest } from "./workerTask";

// What a cross-encoder request costs the pool's thread, for its callers' fair shares and for the
// size of a batched run (pool.ts). A run costs its characters tokenised and its padded tokens (the
// two parts the breaker prices: server/domain/breakers/callerCircuits.ts, RunCost), not its
// documents: 400 documents of 60 words cost about ten times 1,000 one-word documents. Before a
// request runs, its work is estimated from its texts (each document's characters capped by the read
// bound, tokens from characters, capped by the model's length); when its run returns, the pool charges
// the difference to the caller's share with the characters it really gave the tokenizer and the
// tokens it was padded to. Work is priced in ms at the bundle's own measured cost per character and
// per padded token (successful runs, an exponentially weighted mean), so the two parts add up.

/** A request's work: characters given to the tokenizer, and its rows × its widest row (its padded tokens alone). */
export interface TextWork {
  chars: number;
  rows: number;
  /** Tokens of its widest (query, document) pair, special tokens included. */
  width: number;
}

/** Characters per token assumed before a run (English averages 4–6; fewer overestimates tokens, within the model's length). */
export const CHARS_PER_TOKEN = 4;
/** Special tokens of a pair assumed before a run (BERT's 3; RoBERTa's 4 is one more). */
const PAIR_OVERHEAD = 3;

/**
 * A request's work before it runs: its query's characters and each document's, capped by the read
 * bound (encode.ts readBound: no prefix given to the tokenizer is longer); a pair's tokens as its
 * characters / CHARS_PER_TOKEN plus the special tokens, the document's capped by maxTokensPerDoc,
 * the pair's by the model's `maxLength`.
 */
export function estimateWork(request: TextRequest, maxLength: number): TextWork {
  const docBudget = Math.max(1, maxLength - PAIR_OVERHEAD);
  const wanted = Math.min(request.maxTokensPerDoc ?? Infinity, docBudget) + 1;
  const bound = readBound(wanted);
  const queryTokens = Math.ceil(request.query.length / CHARS_PER_TOKEN);
  let chars = request.query.length;
  let longest = 0;
  for (const document of request.documents) {
    const read = Math.min(document.length, bound);
    chars += read;
    longest = Math.max(longest, read);
  }
  const docTokens = Math.min(Math.ceil(longest / CHARS_PER_TOKEN), request.maxTokensPerDoc ?? Infinity);
  const width = request.documents.length === 0 ? 0 : Math.min(maxLength, PAIR_OVERHEAD + queryTokens + docTokens);
  return { chars, rows: request.documents.length, width };
}

/** Padded tokens of one request run alone. */
export const paddedTokens = (work: TextWork) => work.rows * work.width;

/** Padded tokens of requests run together: all their rows, padded to the widest. */
export function batchTokens(works: readonly TextWork[]): number {
  let rows = 0;
  let width = 0;
  for (const work of works) {
    rows += work.rows;
    width = Math.max(width, work.width);
  }
  return rows * width;
}

/**
 * ms per character and per padded token assumed before a bundle's first run returns: a small BERT's
 * order of magnitude on one core. Only their ratio orders callers, and only until the measured cost
 * replaces them.
 */
export const PRIOR_MS_PER_CHAR = 0.001;
export const PRIOR_MS_PER_TOKEN = 0.01;

/** ms per character tokenised and per padded token. */
export interface WorkRates {
  msPerChar: number;
  msPerToken: number;
}

/** ms `work` costs at `rates`; always > 0 (a request of no work still takes its turn: FairQueue counts a cost ≤ 0 as 1, far above a small request's ms). */
export function priceAt(rates: WorkRates, work: { chars: number; paddedTokens: number }): number {
  return Math.max(work.chars * rates.msPerChar + work.paddedTokens * rates.msPerToken, 1e-6);
}

/** A bundle's measured cost of work, from its successful runs. */
export class WorkPrice {
  private readonly perChar = new UnitCost();
  private readonly perToken = new UnitCost();

  /**
   * A successful run: its characters tokenised and the ms spent tokenising them, its padded tokens
   * (rows × width) and the ms of the rest of the run.
   */
  observe(run: { chars: number; tokenizeMs: number; paddedTokens: number; restMs: number }): void {
    this.perChar.observe(run.chars, run.tokenizeMs);
    this.perToken.observe(run.paddedTokens, run.restMs);
  }

  /**
   * The measured rates (the priors before any run). A request is charged, and later corrected, at
   * the rates of when it was charged: a correction is for its work, not for a change of the measured
   * cost meanwhile (two callers' equal work stays equal).
   */
  rates(): WorkRates {
    return { msPerChar: this.perChar.msPerUnit() ?? PRIOR_MS_PER_CHAR, msPerToken: this.perToken.msPerUnit() ?? PRIOR_MS_PER_TOKEN };
  }
}
