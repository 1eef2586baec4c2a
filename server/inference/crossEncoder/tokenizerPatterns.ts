import { checkSync } from "recheck";

// A tokenizer.json may carry regular expressions (Split pre-tokenizers, Replace normalizers,
// decoders), and @huggingface/tokenizers compiles them into JavaScript RegExps, a backtracking
// engine: a pattern such as `(a+)+$` takes exponential time on some texts. Documents are the
// callers', so one hostile document could stall a cross-encoder thread for good (a JavaScript loop
// past the deadline is not stopped; workerPool.ts), and each such request would take another
// thread. A bundle is therefore refused unless every pattern the library compiled is proven safe
// by recheck (an automaton-based ReDoS checker, makenowjust-labs/recheck: the checker behind
// eslint-plugin-redos), which also names an attack string. Checked on the RegExps themselves, after
// the library's own rewriting of Oniguruma syntax, so what is checked is what runs.

/** How long one pattern's check may take before the bundle is refused as unchecked, in ms. */
const CHECK_TIMEOUT_MS = 10_000;

/** Verdicts by `/source/flags`: a bundle opened on every thread checks each pattern once per thread. */
const verdicts = new Map<string, string | null>();

/**
 * Every RegExp reachable from `root` through own properties (objects, callable objects, arrays and
 * Maps, each visited once, however deep), with the property path it was found at (e.g.
 * `normalizer.normalizers[1].pattern`). No depth limit: a bundle can nest Sequence normalizers or
 * pre-tokenizers as deep as it likes, and a pattern below a limit would go unchecked (six nested
 * Sequences hid `(a+)+$` from a 12-level walk). Iterative, so depth costs no stack.
 * `skipRootKeys`: own properties of `root` not walked (see TOKENIZER_DATA).
 */
export function compiledPatterns(root: object, skipRootKeys: ReadonlySet<string> = new Set()): Array<{ path: string; regex: RegExp }> {
  const found: Array<{ path: string; regex: RegExp }> = [];
  const seen = new Set<object>();
  for (const key of skipRootKeys) {
    const skipped = (root as Record<string, unknown>)[key];
    if (skipped !== null && (typeof skipped === "object" || typeof skipped === "function") && !(skipped instanceof RegExp)) seen.add(skipped);
  }
  const stack: Array<[unknown, string]> = [[root, ""]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (value instanceof RegExp) {
      found.push({ path, regex: value });
      continue;
    }
    // The library's normalizers, pre-tokenizers and decoders are callable objects (functions with own properties).
    if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) continue;
    seen.add(value);
    // Children are pushed last-first, so they are popped (and patterns found) in document order.
    const children: Array<[unknown, string]> = [];
    if (value instanceof Map) {
      for (const [key, entry] of value) if (entry !== null && (typeof entry === "object" || typeof entry === "function")) children.push([entry, `${path}[${String(key)}]`]);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      continue;
    }
    if (ArrayBuffer.isView(value)) continue;
    const isArray = Array.isArray(value);
    for (const key of Object.getOwnPropertyNames(value)) {
      let entry: unknown;
      try {
        entry = (value as Record<string, unknown>)[key];
      } catch {
        continue;
      }
      if (entry !== null && (typeof entry === "object" || typeof entry === "function")) children.push([entry, isArray ? `${path}[${key}]` : path ? `${path}.${key}` : key]);
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return found;
}

/**
 * Why `regex` may not run on callers' text (it can take super-linear time: exponential or
 * polynomial, with recheck's attack string; or its check did not finish), or null when it is safe.
 */
export function patternRisk(regex: RegExp): string | null {
  const key = `/${regex.source}/${regex.flags}`;
  const known = verdicts.get(key);
  if (known !== undefined) return known;
  let verdict: string | null;
  try {
    const diagnostics = checkSync(regex.source, regex.flags, { timeout: CHECK_TIMEOUT_MS });
    if (diagnostics.status === "safe") verdict = null;
    else if (diagnostics.status === "vulnerable") {
      const attack = diagnostics.attack.string;
      verdict = `it can take ${diagnostics.complexity.type} time on some texts (e.g. ${JSON.stringify(attack.length > 40 ? `${attack.slice(0, 40)}…` : attack)}, ${attack.length} characters)`;
    } else verdict = `it could not be proven safe (${diagnostics.error.kind}${"message" in diagnostics.error ? `: ${diagnostics.error.message}` : ""})`;
  } catch (error) {
    verdict = `it could not be checked (${(error as Error).message})`;
  }
  verdicts.set(key, verdict);
  return verdict;
}

/**
 * A loaded Tokenizer's (@huggingface/tokenizers 0.2.0, pinned) properties that hold data, never a
 * compiled pattern: `tokenizer` and `config` are the parsed JSON it was built from (JSON.parse makes
 * no RegExp), `model` the WordPiece / BPE / Unigram vocabulary (its classes compile no pattern; a
 * Unigram's trie of 250,000 pieces took 5.8 s of a 7 s check to walk). The normalizer,
 * pre-tokenizer, post-processor, decoder and added tokens are walked in full.
 */
const TOKENIZER_DATA: ReadonlySet<string> = new Set(["tokenizer", "config", "model"]);

/**
 * The first pattern of a loaded tokenizer that may not run on callers' text, as a refusal reason
 * naming where it sits, or null when every compiled pattern is safe.
 * @param tokenizer the loaded tokenizer object (its compiled RegExps are found by compiledPatterns).
 */
export function unsafeTokenizerPattern(tokenizer: object): string | null {
  for (const { path, regex } of compiledPatterns(tokenizer, TOKENIZER_DATA)) {
    const risk = patternRisk(regex);
    if (risk) return `tokenizer.json's pattern /${regex.source.length > 80 ? `${regex.source.slice(0, 80)}…` : regex.source}/ (${path}) is refused: ${risk}; one such document would stall the model's thread`;
  }
  return null;
}
