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
  /** Each row's tokenising time in ms (its document, and its query the first time the batch met that query). */
  encodeMs: Float64Array;
  /** Characters each row gave the tokenizer (counted the same way). */
  chars: Uint32Array;
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
 * circuit for every caller). Only the BMP's ideographs: @huggingface/tokenizers spaces CJK by UTF-16
 * code unit, so an astral one (U+20021, CJK Extension B) joins the words beside it, and a cut before
 * it changed the kept tokens (property test: "00𠀡xxx…" gave "00" where the whole document gives one
 * [UNK]). Fewer cut points are always safe: each must be a place the tokenizer splits.
 */
const BERT_OWN_TOKEN = /[!-/:-@[-`{-~\p{P}\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/u;

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
 * Longest prefix of a document given to the tokenizer for `wanted` tokens: 32 characters a token
 * (English text averages 4–6), at least 1,024. What the model reads bounds what is read before it,
 * whatever the characters: the normaliser and pre-tokeniser cost time per character, not per token.
 * Two prefixes are tokenised at most, each from the start, so a document costs at most 5/4 of this
 * in all (readDocument).
 */
export function readBound(wanted: number): number {
  return Math.max(1024, wanted * 32);
}

/** `at`, or `at − 1` when a cut at `at` would split a surrogate pair (an astral character stays whole or goes). */
function endBefore(document: string, at: number): number {
  const low = document.charCodeAt(at);
  const high = document.charCodeAt(at - 1);
  return low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? at - 1 : at;
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
    const { ids, typeIds, truncated } = this.encodeTokenized(this.tokenizer.tokenize(query), document, options);
    return { ids, typeIds, truncated };
  }

  /** Tokens of the document a pair needs: the most it keeps, and one more to tell whether it was cut. */
  private documentWanted(options: EncodeOptions): number {
    return Math.min(options.maxTokensPerDoc ?? Infinity, options.maxLength - this.pairOverhead) + 1;
  }

  /** encodePair with the query's tokens given (a batch tokenises each query once); `read`: characters tokenised for the document. */
  private encodeTokenized(q: string[], document: string, options: EncodeOptions): { ids: number[]; typeIds: number[]; truncated: boolean; read: number } {
    // Hugging Face's `longest_first`: drop a token from the longer side until the pair fits.
    const budget = options.maxLength - this.pairOverhead;
    if (budget < 2) throw new Error(`maxLength ${options.maxLength} leaves no room for a query and a document after ${this.pairOverhead} special tokens`);
    // The pair keeps at most min(max_tokens_per_doc, budget) of the document's tokens, and whether it
    // was cut depends only on whether there is one more: tokenising more is wasted work.
    const doc = options.exhaustive ? { tokens: this.tokenizer.tokenize(document), cut: false, read: document.length } : this.readDocument(document, this.documentWanted(options));
    let d = doc.tokens;
    let truncated = doc.cut;
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
    return { ids, typeIds: out.token_type_ids ?? new Array<number>(ids.length).fill(0), truncated, read: doc.read };
  }

  /**
   * The document's first tokens, at least `wanted` of them when it has that many within the read
   * bound: the tokens of a prefix cut just before a whitespace, a quarter of the bound, then the bound.
   * Cut before whitespace, every word of the prefix is whole, and the pre-tokenisers of BERT
   * (WordPiece), byte-level BPE and Metaspace split on whitespace, so the prefix's tokens are the
   * whole document's first tokens; BERT's also on punctuation and CJK ideographs, so with it a prefix
   * may end before one of those too. No prefix longer than readBound(wanted) characters is given to
   * the tokenizer, whatever they are; the first is a quarter of that (max(256, 8 × wanted)), the
   * second, when the first yields too few tokens, the bound itself, tokenised from the start again:
   * at most 5/4 × readBound(wanted) characters in all (`read` counts them). A document that has not
   * yielded `wanted` tokens within the bound — one long word of letters, digits or base64 (WordPiece
   * makes it one [UNK]), combining marks or format characters the normaliser deletes — is cut there
   * (`cut`: its text was truncated), at its last whitespace in the bound's second half, else at the
   * bound itself (break test: 100,000 letters, digits or "a" + combining accents were normalised and
   * split whole, 60–190 ms of the scoring thread per document, counted as nothing truncated).
   * @returns the tokens, the text they are of, whether that text was cut by the bound, and the characters tokenised in all.
   */
  private readDocument(document: string, wanted: number): { tokens: string[]; text: string; cut: boolean; read: number } {
    const bound = readBound(wanted);
    let read = 0;
    const tokenize = (text: string) => ((read += text.length), this.tokenizer.tokenize(text));
    for (let chars = Math.min(bound, Math.max(256, wanted * 8)); ; chars = Math.min(bound, chars * 4)) {
      if (document.length <= chars) return { tokens: tokenize(document), text: document, cut: false, read };
      const at = lastCutAtOrBefore(document, chars, chars >> 1, this.bertPreTokenizer);
      const text = document.slice(0, at >= 0 ? at : endBefore(document, chars));
      if (at >= 0 || chars === bound) {
        const tokens = tokenize(text);
        if (tokens.length >= wanted) return { tokens, text, cut: false, read };
        if (chars === bound) return { tokens, text, cut: true, read };
      }
    }
  }

  /** Pairs (of one or several queries) padded to the longest; `maxLength` counts special tokens. */
  encodeBatch(pairs: ReadonlyArray<PairInput>, maxLength: number): EncodedBatch {
    // Each query is tokenised once per batch, not once per document (a 2,000-character query
    // beside 1,000 documents was tokenised 1,000 times), and charged to its first row.
    const queries = new Map<string, string[]>();
    const encodeMs = new Float64Array(pairs.length);
    const chars = new Uint32Array(pairs.length);
    const encoded = pairs.map((p, r) => {
      const started = performance.now();
      let q = queries.get(p.query);
      if (!q) {
        queries.set(p.query, (q = this.tokenizer.tokenize(p.query)));
        chars[r] = p.query.length;
      }
      const e = this.encodeTokenized(q, p.document, { maxLength, maxTokensPerDoc: p.maxTokensPerDoc });
      chars[r] = chars[r]! + e.read;
      encodeMs[r] = performance.now() - started;
      return e;
    });
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
    return { inputIds, attentionMask, tokenTypeIds, rows, width, truncated, truncatedRows, tokens, encodeMs, chars };
  }

  private postProcess(a: string[], b: string[]): { tokens: string[]; token_type_ids?: number[] } {
    const processor = this.tokenizer.post_processor;
    if (!processor) return { tokens: [...a, ...b], token_type_ids: [...a.map(() => 0), ...b.map(() => 1)] };
    return processor._call(a, b, true);
  }
}
