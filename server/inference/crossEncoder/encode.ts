import { Tokenizer } from "@huggingface/tokenizers";

// Turns (query, document) pairs into the int64 tensors a cross-encoder takes, with the tokenizer's
// own normaliser, pre-tokeniser, model and post-processor (the `tokenizer.json` a Hugging Face
// export ships), and truncation done here: the library encodes but does not truncate.

export interface EncodedBatch {
  /** Row-major [rows × width], padded with the tokenizer's pad id (0 when it has none). */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  rows: number;
  width: number;
  /** Pairs whose document (or, for a long query, query) lost tokens to fit `maxLength`. */
  truncated: number;
  /** 1 at each truncated pair's row. */
  truncatedRows: Uint8Array;
  /** Each row's tokens before padding. */
  tokens: Uint32Array;
}

/** One pair to encode; `maxTokensPerDoc` is Cohere's cap on the document's own tokens. */
export interface PairInput {
  query: string;
  document: string;
  maxTokensPerDoc?: number;
}

export interface EncodeOptions {
  /** The model's maximum sequence length, special tokens included. */
  maxLength: number;
  /** Cohere's max_tokens_per_doc: a cap on the document's own tokens before the length budget. */
  maxTokensPerDoc?: number;
  /** Tokenise the whole document (the reference the bounded path is tested against); default: only the tokens the pair can keep, and one more. */
  exhaustive?: boolean;
}

/**
 * Whitespace every pre-tokeniser here splits on: space, tab, line feed, carriage return and the
 * Unicode space separators (Zs). Not JavaScript's \s, which also takes \v, \f and U+FEFF: BERT's
 * normaliser deletes those (control and format characters), joining the words on either side, so a
 * cut there changed the kept tokens (break test: "…qzxj\vqqq…" kept 160, 237… where the whole
 * document gives 1, 75…).
 */
const SPLITTING_WHITESPACE = /[ \t\n\r\p{Zs}]/u;

/**
 * Characters BERT's pre-tokeniser makes tokens of their own, whatever is next to them (so a cut just
 * before one leaves every word of the prefix whole): its punctuation (ASCII symbols and Unicode P*)
 * and CJK ideographs (BertNormalizer's handle_chinese_chars spaces them). A document without
 * whitespace — Chinese or Japanese text, a URL, base64 — tokenised whole before (100,000 CJK
 * characters: 500 ms on the scoring thread, counted as the model's time, which opened the surface's
 * circuit for every caller).
 */
const BERT_OWN_TOKEN = /[!-/:-@[-`{-~\p{P}\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2a6df}\u{2a700}-\u{2ceaf}\u{2f800}-\u{2fa1f}]/u;

/**
 * Index of the last cut point in document[from, at] (so document.slice(0, index) ends just before
 * it), or -1: a splitting whitespace, or with `bertPunctuation` one of BERT's own-token characters.
 */
function lastCutAtOrBefore(document: string, at: number, from: number, bertPunctuation: boolean): number {
  for (let i = Math.min(at, document.length - 1); i >= from; i--) {
    // At a high surrogate this is the whole astral character (a CJK extension ideograph); at a low one, a lone half that matches nothing.
    const c = String.fromCodePoint(document.codePointAt(i)!);
    if (SPLITTING_WHITESPACE.test(c)) return i;
    if (bertPunctuation && BERT_OWN_TOKEN.test(c)) return i;
  }
  return -1;
}

/**
 * A tokenizer.json loaded with @huggingface/tokenizers, and the pair layout its post-processor
 * gives (BERT: `[CLS] q [SEP] d [SEP]`, RoBERTa/XLM-R: `<s> q </s></s> d </s>`).
 * Throws an Error with the library's message when the JSON is not a tokenizer it can load.
 */
export class PairEncoder {
  readonly tokenizer: Tokenizer;
  /** BERT's pre-tokeniser (it splits on punctuation and CJK too): more places to cut a long document at. */
  private readonly bertPreTokenizer: boolean;
  /** Every id the tokenizer can emit is below this (added tokens included). */
  readonly vocabSize: number;
  private readonly ids: Map<string, number>;
  private readonly unkId: number;
  /** The id of the tokenizer's unknown token (0 when it has none): a token every model takes. */
  get unknownId(): number {
    return this.unkId;
  }
  private readonly padId: number;
  /** Special tokens the post-processor adds around a pair. */
  readonly pairOverhead: number;

  constructor(tokenizerJson: object, tokenizerConfig: object = {}) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.ids = this.tokenizer.get_vocab(true);
    let max = -1;
    for (const id of this.ids.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const model = (tokenizerJson as { model?: { unk_token?: string } }).model;
    this.unkId = (model?.unk_token !== undefined ? this.ids.get(model.unk_token) : undefined) ?? 0;
    this.padId = this.ids.get("[PAD]") ?? this.ids.get("<pad>") ?? 0;
    this.pairOverhead = this.postProcess(["a"], ["b"]).tokens.length - 2;
    const preTokenizer = (tokenizerJson as { pre_tokenizer?: { type?: string } | null }).pre_tokenizer;
    this.bertPreTokenizer = preTokenizer?.type === "BertPreTokenizer";
  }

  /** The ids of one pair and whether it was truncated; `maxLength` counts the special tokens. */
  encodePair(query: string, document: string, options: EncodeOptions): { ids: number[]; typeIds: number[]; truncated: boolean } {
    // Hugging Face's `longest_first`: drop a token from the longer side until the pair fits.
    const budget = options.maxLength - this.pairOverhead;
    if (budget < 2) throw new Error(`maxLength ${options.maxLength} leaves no room for a query and a document after ${this.pairOverhead} special tokens`);
    const q = this.tokenizer.tokenize(query);
    // The pair keeps at most min(max_tokens_per_doc, budget) of the document's tokens, and whether it
    // was cut depends only on whether there is one more: tokenising more is wasted work.
    let d = options.exhaustive ? this.tokenizer.tokenize(document) : this.leadingTokens(document, Math.min(options.maxTokensPerDoc ?? Infinity, budget) + 1);
    let truncated = false;
    if (options.maxTokensPerDoc !== undefined && d.length > options.maxTokensPerDoc) {
      d = d.slice(0, options.maxTokensPerDoc);
      truncated = true;
    }
    let qLen = q.length;
    let dLen = d.length;
    while (qLen + dLen > budget) {
      truncated = true;
      if (dLen >= qLen) dLen--;
      else qLen--;
    }
    const out = this.postProcess(q.slice(0, qLen), d.slice(0, dLen));
    const ids = out.tokens.map((t) => this.ids.get(t) ?? this.unkId);
    return { ids, typeIds: out.token_type_ids ?? new Array<number>(ids.length).fill(0), truncated };
  }

  /**
   * The document's first tokens, at least `wanted` of them when it has that many (all of them when
   * fewer): the tokens of a prefix cut just before a whitespace, growing 4× until it yields `wanted`.
   * A 100,000-character document costs the tokens the model can read, not 100,000 characters of
   * tokenising. Cut before whitespace, every word of the prefix is whole, and the pre-tokenisers of
   * BERT (WordPiece), byte-level BPE and Metaspace split on whitespace, so the prefix's tokens are
   * the whole document's first tokens; BERT's also on punctuation and CJK ideographs, so with it a
   * prefix may end before one of those too (a document with nothing to cut at is tokenised whole).
   */
  private leadingTokens(document: string, wanted: number): string[] {
    for (let chars = Math.max(256, wanted * 8); chars < document.length; chars *= 4) {
      const cut = lastCutAtOrBefore(document, chars, chars >> 1, this.bertPreTokenizer);
      if (cut < 0) break;
      const tokens = this.tokenizer.tokenize(document.slice(0, cut));
      if (tokens.length >= wanted) return tokens;
    }
    return this.tokenizer.tokenize(document);
  }

  /** Pairs (of one or several queries) padded to the longest; `maxLength` counts special tokens. */
  encodeBatch(pairs: ReadonlyArray<PairInput>, maxLength: number): EncodedBatch {
    const encoded = pairs.map((p) => this.encodePair(p.query, p.document, { maxLength, maxTokensPerDoc: p.maxTokensPerDoc }));
    const width = Math.max(1, ...encoded.map((e) => e.ids.length));
    const rows = encoded.length;
    const inputIds = new BigInt64Array(rows * width).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(rows * width);
    const tokenTypeIds = new BigInt64Array(rows * width);
    let truncated = 0;
    const truncatedRows = new Uint8Array(rows);
    const tokens = Uint32Array.from(encoded, (e) => e.ids.length);
    encoded.forEach((e, r) => {
      if (e.truncated) {
        truncated++;
        truncatedRows[r] = 1;
      }
      for (let i = 0; i < e.ids.length; i++) {
        inputIds[r * width + i] = BigInt(e.ids[i]!);
        attentionMask[r * width + i] = 1n;
        tokenTypeIds[r * width + i] = BigInt(e.typeIds[i] ?? 0);
      }
    });
    return { inputIds, attentionMask, tokenTypeIds, rows, width, truncated, truncatedRows, tokens };
  }

  private postProcess(a: string[], b: string[]): { tokens: string[]; token_type_ids?: number[] } {
    const processor = this.tokenizer.post_processor;
    if (!processor) return { tokens: [...a, ...b], token_type_ids: [...a.map(() => 0), ...b.map(() => 1)] };
    return processor._call(a, b, true);
  }
}
