import * as ort from "onnxruntime-node";
import { InvalidInputError } from "../../errors";
import { unsafeTokenizerPattern } from "./tokenizerPatterns";
import { ModelOutputError, openSession } from "../sessions";
import type { CrossEncoderBundle, CrossEncoderConfig } from "./bundle";
import { PairEncoder, type PairInput } from "./encode";

// An opened cross-encoder: the tokenizer and the onnxruntime session of one bundle, checked the way
// an upload is checked (signature, tokenizer against the embedding, sample pairs scored finite)
// before it serves. `score` blocks its thread for the model's run: call it in a worker (pool.ts).

const REQUIRED_INPUTS = ["input_ids", "attention_mask"] as const;
const KNOWN_INPUTS = new Set(["input_ids", "attention_mask", "token_type_ids"]);
const SAMPLE_PAIRS = [
  { query: "wireless headphones", document: "Compact Headphones electronics" },
  { query: "a query", document: "an unrelated document about gardening tools and seed packs" },
];

export interface PairScores {
  /** One logit per pair, in the order given; finite. */
  scores: Float32Array;
  /** Pairs cut to fit the model's length or max_tokens_per_doc. */
  truncated: number;
  /** 1 at each truncated pair. */
  truncatedRows: Uint8Array;
  /** Tokens per pair after padding (the batch's width). */
  width: number;
  /** Each pair's tokens before padding. */
  tokens: Uint32Array;
  /** Each pair's tokenising time in ms, and the characters it gave the tokenizer (a batch's query counted at its first pair). */
  encodeMs: Float64Array;
  chars: Uint32Array;
}

export class CrossEncoder {
  private constructor(
    readonly config: CrossEncoderConfig,
    readonly encoder: PairEncoder,
    private readonly session: ort.InferenceSession,
    readonly outputName: string,
    readonly takesTokenTypes: boolean,
  ) {}

  /**
   * Opens and checks a bundle. Refuses it with InvalidInputError naming the part at fault:
   * `tokenizer` (not loadable, a pattern that can take super-linear time on some text, or emits ids
   * the model's embedding does not have), `model` (not
   * loadable, wrong inputs, no such output, non-finite or misshapen scores on sample pairs).
   */
  static async open(bundle: CrossEncoderBundle, threads = 1): Promise<CrossEncoder> {
    let encoder: PairEncoder;
    try {
      encoder = new PairEncoder(JSON.parse(bundle.tokenizerJson) as object, JSON.parse(bundle.tokenizerConfigJson) as object);
    } catch (error) {
      throw new InvalidInputError("tokenizer", `tokenizer.json could not be loaded: ${(error as Error).message}`);
    }
    // Its patterns run on callers' documents: any that can take super-linear time is refused.
    const unsafe = unsafeTokenizerPattern(encoder.tokenizer);
    if (unsafe) throw new InvalidInputError("tokenizer", unsafe);
    let session: ort.InferenceSession;
    try {
      session = await openSession(bundle.onnx, threads);
    } catch (error) {
      throw new InvalidInputError("model", `the ONNX model could not be loaded: ${(error as Error).message.split("\n")[0]}`);
    }
    try {
      const inputs = session.inputNames;
      const missing = REQUIRED_INPUTS.filter((name) => !inputs.includes(name));
      const unknown = inputs.filter((name) => !KNOWN_INPUTS.has(name));
      if (missing.length > 0 || unknown.length > 0) {
        throw new InvalidInputError("model", `the model's inputs are [${inputs.join(", ")}]; a cross-encoder takes input_ids, attention_mask and optionally token_type_ids (int64)`);
      }
      const outputName = bundle.config.output ?? session.outputNames[0]!;
      if (!session.outputNames.includes(outputName)) {
        throw new InvalidInputError("config.output", `the model has no output "${outputName}"; its outputs are [${session.outputNames.join(", ")}]`);
      }
      const model = new CrossEncoder(bundle.config, encoder, session, outputName, inputs.includes("token_type_ids"));
      await model.checkVocabulary();
      await model.checkMaxLength();
      // Both pairs, one alone, 5 and 17 at once: an output whose length is fixed passes one batch size only.
      const repeated = (n: number) => Array.from({ length: n }, (_, i) => SAMPLE_PAIRS[i % SAMPLE_PAIRS.length]!);
      for (const pairs of [SAMPLE_PAIRS, SAMPLE_PAIRS.slice(0, 1), repeated(5), repeated(17)]) {
        const sample = await model.score(pairs).catch((error: Error) => {
          throw new InvalidInputError("model", `scoring ${pairs.length} sample pair${pairs.length === 1 ? "" : "s"} failed: ${error.message.split("\n")[0]}`);
        });
        if (sample.scores.length !== pairs.length) throw new InvalidInputError("model", `the model did not return one score per pair (${sample.scores.length} for ${pairs.length})`);
      }
      return model;
    } catch (error) {
      await session.release().catch(() => {});
      throw error;
    }
  }

  /**
   * Scores pairs: encodes them (truncating to the bundle's maxLength), runs the model once, and returns
   * one finite logit per pair. Throws ModelOutputError when the output is misshapen or not finite.
   */
  async score(pairs: ReadonlyArray<PairInput>): Promise<PairScores> {
    const batch = this.encoder.encodeBatch(pairs, this.config.maxLength);
    const scores = await this.run(batch.inputIds, batch.attentionMask, batch.tokenTypeIds, batch.rows, batch.width);
    return { scores, truncated: batch.truncated, truncatedRows: batch.truncatedRows, width: batch.width, tokens: batch.tokens, encodeMs: batch.encodeMs, chars: batch.chars };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private async run(inputIds: BigInt64Array, attentionMask: BigInt64Array, tokenTypeIds: BigInt64Array, rows: number, width: number): Promise<Float32Array> {
    const dims = [rows, width];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", inputIds, dims),
      attention_mask: new ort.Tensor("int64", attentionMask, dims),
    };
    if (this.takesTokenTypes) feeds.token_type_ids = new ort.Tensor("int64", tokenTypeIds, dims);
    const output = (await this.session.run(feeds))[this.outputName];
    if (!output) throw new ModelOutputError(`the model returned no output named "${this.outputName}"`);
    const perRow = output.dims.slice(1).reduce((a, b) => a * b, 1);
    if (output.dims[0] !== rows || perRow !== 1) {
      throw new ModelOutputError(`the model's output has shape [${output.dims.join(", ")}]; a cross-encoder gives one logit per pair ([${rows}] or [${rows}, 1])`);
    }
    const scores = Float32Array.from(output.data as Float32Array);
    scores.forEach((s, i) => {
      if (!Number.isFinite(s)) throw new ModelOutputError(`the model returned a non-finite score (${s}) for pair ${i}`);
    });
    return scores;
  }

  /**
   * The model must take a pair of config.maxLength tokens: a maxLength beyond its position embedding
   * passes short sample pairs, then fails every request whose document is long enough (onnxruntime's
   * Gather refuses the position), so each such request would fall back. Run once at maxLength.
   */
  private async checkMaxLength(): Promise<void> {
    const n = this.config.maxLength;
    const ids = new BigInt64Array(n).fill(BigInt(this.encoder.unknownId));
    try {
      await this.run(ids, new BigInt64Array(n).fill(1n), new BigInt64Array(n), 1, n);
    } catch (error) {
      throw new InvalidInputError("config.maxLength", `the model refuses a pair of ${n} tokens (${(error as Error).message.split("\n")[0]}): set maxLength to the model's position limit (max_position_embeddings)`);
    }
  }

  /**
   * The tokenizer must not emit an id the embedding lacks: onnxruntime's Gather refuses an
   * out-of-range id at run time, so every request with that token would fail. Checked against
   * reranker.json's vocabSize when given, and by running the tokenizer's highest id through the model.
   */
  private async checkVocabulary(): Promise<void> {
    const size = this.encoder.vocabSize;
    if (this.config.vocabSize !== undefined && size > this.config.vocabSize) {
      throw new InvalidInputError("tokenizer", `the tokenizer has ${size} tokens but the model's embedding has ${this.config.vocabSize} rows (config.vocabSize): a mismatched tokenizer`);
    }
    const ids = BigInt64Array.from([0n, BigInt(size - 1), 0n]);
    try {
      await this.run(ids, BigInt64Array.from([1n, 1n, 1n]), new BigInt64Array(3), 1, 3);
    } catch (error) {
      // A misshapen or non-finite answer is the model's own fault, not the tokenizer's.
      if (error instanceof ModelOutputError) throw new InvalidInputError("model", `scoring 1 pair (the tokenizer's highest id) failed: ${error.message}`);
      throw new InvalidInputError("tokenizer", `the tokenizer has ${size} tokens but the model refuses token id ${size - 1} (${(error as Error).message.split("\n")[0]}): a mismatched tokenizer`);
    }
  }
}
