import { parentPort } from "node:worker_threads";
import { DomainError } from "../../errors";
import { RUN_STARTED, type PoolTaskEnvelope } from "../workerPool";
import type { CrossEncoderConfig } from "./bundle";
import { CrossEncoder } from "./model";
import type { PairInput } from "./encode";

// What one worker thread of the pool does: keeps each bundle it has been sent opened (a bundle
// travels as SharedArrayBuffers, so sending it with every task copies nothing), scores a task's
// pairs in one model run, and answers with plain data — a refusal as { error } so its field and
// code survive the thread boundary, which an Error object's own properties do not.

/** A bundle in shared memory: the ONNX bytes and tokenizer texts as UTF-8. */
export interface SharedBundle {
  onnx: SharedArrayBuffer;
  tokenizerJson: SharedArrayBuffer;
  tokenizerConfigJson: SharedArrayBuffer;
  config: CrossEncoderConfig;
}

/** One request's share of a task: its query and its documents' texts. */
export interface TextRequest {
  query: string;
  documents: readonly string[];
  /** Cohere's max_tokens_per_doc for this request's documents. */
  maxTokensPerDoc?: number;
}

/** One task; the pool (../workerPool.ts) adds its envelope (jobId, live) when it sends it. */
export interface ScoreTask extends Partial<PoolTaskEnvelope> {
  /** The bundle's identity (e.g. its sha256): a worker opens each key once. */
  key: string;
  bundle: SharedBundle;
  /**
   * The requests of one model run (the batch), scored as their documents in order. Empty to only
   * open and check the bundle. Sent as arrays of strings, not one object per pair: the main thread
   * pays the structured clone, and a pair object per document doubled it (68 → 31 µs for 100
   * documents, measured with MessagePort.postMessage); the pairs are built here, on the worker.
   */
  requests: TextRequest[];
}

export type ScoreReply =
  | {
      ok: true; scores: Float32Array; truncatedRows: Uint8Array; modelMs: number; /** The run's padded width, in tokens. */ width: number; /** Each row's tokens before padding. */ tokens: Uint32Array;
      /** Each row's tokenising time in ms and characters tokenised (PairScores). */ encodeMs: Float64Array; chars: Uint32Array;
    }
  | { ok: false; error: { code?: string; field?: string; message: string } };

const opened = new Map<string, Promise<CrossEncoder>>();

const text = (buffer: SharedArrayBuffer) => new TextDecoder().decode(new Uint8Array(buffer).slice());

function open(task: ScoreTask): Promise<CrossEncoder> {
  let model = opened.get(task.key);
  if (!model) {
    const { bundle } = task;
    model = CrossEncoder.open({ onnx: new Uint8Array(bundle.onnx).slice(), tokenizerJson: text(bundle.tokenizerJson), tokenizerConfigJson: text(bundle.tokenizerConfigJson), config: bundle.config });
    opened.set(task.key, model);
    const opening = model;
    opening.catch(() => opened.get(task.key) === opening && opened.delete(task.key));
  }
  return model;
}

/** Drops and releases the bundles opened under a key the pool no longer holds. */
function dropReleased(live: readonly string[]): void {
  for (const [key, model] of opened) {
    if (live.includes(key)) continue;
    opened.delete(key);
    model.then((m) => m.release()).catch(() => {});
  }
}

export async function runScoreTask(task: ScoreTask): Promise<ScoreReply> {
  if (task.live) dropReleased(task.live);
  try {
    const model = await open(task);
    if (task.jobId !== undefined) parentPort?.postMessage({ [RUN_STARTED]: task.jobId });
    const started = performance.now();
    const pairs: PairInput[] = task.requests.flatMap(({ query, documents, maxTokensPerDoc }) => documents.map((document) => ({ query, document, maxTokensPerDoc })));
    if (pairs.length === 0) return { ok: true, scores: new Float32Array(0), truncatedRows: new Uint8Array(0), modelMs: 0, width: 0, tokens: new Uint32Array(0), encodeMs: new Float64Array(0), chars: new Uint32Array(0) };
    const result = await model.score(pairs);
    return {
      ok: true, scores: result.scores, truncatedRows: result.truncatedRows, modelMs: performance.now() - started, width: result.width, tokens: result.tokens, encodeMs: result.encodeMs, chars: result.chars,
    };
  } catch (error) {
    const e = error as Error & { code?: string; field?: string };
    return { ok: false, error: { code: error instanceof DomainError ? e.code : undefined, field: e.field, message: e.message } };
  }
}
