import { remove as removeConfusables } from "confusables";
import { z, type ZodError } from "zod";
import { ISO_INSTANT_HINT, parseIsoInstant } from "./domain/time/isoInstant";
import { InvalidInputError } from "./errors";

/** A path segment longer than this is cut in what a reader sees: a key is the caller's text, and an answer must not echo a megabyte of it. */
const MAX_SEGMENT_CHARS = 128;
const shown = (key: string) => (key.length > MAX_SEGMENT_CHARS ? `${key.slice(0, MAX_SEGMENT_CHARS)}…` : key);

/** A zod path as a reader writes it: candidates[3].features.price (a key past 128 characters cut, with "…"). */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${shown(String(part))}` : shown(String(part))), "");
}

/**
 * How many issues an answer lists (its `fields`), and how many a list built by items() collects
 * before it stops checking: a body that is wrong everywhere gets a small 400 for about the CPU a
 * valid one costs (break test: 915 documents of 120 wrong fields each took 4.4 s to answer in 49.7 MB).
 */
export const MAX_REPORTED_ISSUES = 20;
/** How many of them the one-line message spells out; the rest are counted ("and 15 more"). */
const MESSAGE_ISSUES = 5;
/** Unknown field names one issue spells out. */
const MESSAGE_KEYS = 5;
/** A message longer than this is cut (a refinement may quote the caller's value). */
const MAX_MESSAGE_CHARS = 500;

/** `params.notChecked` of the issue items() adds when it stops: how many items it did not check. */
const notCheckedOf = (issue: z.core.$ZodIssue): number | undefined => (issue.code === "custom" ? (issue.params as { notChecked?: number } | undefined)?.notChecked : undefined);

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
const orList = (words: string[]) => (words.length > 1 ? `${words.slice(0, -1).join(", ")} or ${words.at(-1)}` : (words[0] ?? ""));

/**
 * One issue as a reader acts on it: the field it names and what is wrong, in our words where zod's
 * say too little. A record key's issue names the record and the key ("context.attributes: key "":
 * must not be empty", not "Invalid key in record"); a union none of whose options took the value
 * says what it takes ("must be a string, number or boolean", not "Invalid input"), or, when the
 * value had an option's type, what that option refused; unknown fields are listed up to five.
 */
export function readableIssue(issue: z.core.$ZodIssue): { path: string; message: string } {
  let path = issue.path;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const listed = issue.keys.slice(0, MESSAGE_KEYS).map((k) => JSON.stringify(shown(k)));
    const more = issue.keys.length - listed.length;
    message = `unknown field${issue.keys.length > 1 ? "s" : ""} ${listed.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
  } else if (issue.code === "invalid_key") {
    const key = path.at(-1);
    path = path.slice(0, -1);
    message = `key ${JSON.stringify(shown(String(key ?? "")))}: ${issue.issues.map((i) => i.message).join("; ") || "not a valid key"}`;
  } else if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const typeOnly = (branch: readonly z.core.$ZodIssue[]) => branch.length > 0 && branch.every((i) => i.code === "invalid_type" && i.path.length === 0);
    const fitting = issue.errors.find((branch) => branch.length > 0 && !typeOnly(branch));
    if (fitting) {
      const inner = readableIssue(fitting[0]!);
      path = [...path, ...fitting[0]!.path];
      message = inner.message;
    } else {
      const expected = [...new Set(issue.errors.flatMap((branch) => branch.map((i) => (i.code === "invalid_type" ? String(i.expected) : ""))).filter(Boolean))];
      if (expected.length) message = `must be ${article(orList(expected))}`;
    }
  }
  if (message.length > MAX_MESSAGE_CHARS) message = `${message.slice(0, MAX_MESSAGE_CHARS)}…`;
  return { path: path.length ? fieldPath(path) : "input", message };
}

/**
 * A refused input as an answer gives it: `fields`, the first MAX_REPORTED_ISSUES issues (then
 * where checking stopped, when a list stopped it: items()), and `message`, one line naming the first
 * five of them and counting the rest ("candidates[3].id: must not be empty; …; and 15 more issues").
 * The one reading of zod's issues for every answer: the HTTP endpoints, tRPC's, the upload's.
 */
export function describeInvalidInput(error: ZodError): { message: string; fields: Array<{ path: string; message: string }> } {
  const stops: Array<{ path: string; message: string }> = [];
  const issues: z.core.$ZodIssue[] = [];
  for (const issue of error.issues) {
    if (notCheckedOf(issue) !== undefined) stops.push(readableIssue(issue));
    else issues.push(issue);
  }
  const fields = [...issues.slice(0, MAX_REPORTED_ISSUES).map(readableIssue), ...stops];
  const line = (f: { path: string; message: string }) => `${f.path}: ${f.message}`;
  const more = issues.length - Math.min(issues.length, MESSAGE_ISSUES);
  const message = [
    ...fields.slice(0, Math.min(issues.length, MESSAGE_ISSUES)).map(line),
    ...(more > 0 ? [`and ${more} more issue${more > 1 ? "s" : ""}${issues.length > MESSAGE_ISSUES ? ` (fields lists ${Math.min(issues.length, MAX_REPORTED_ISSUES)})` : ""}`] : []),
    ...stops.map(line),
  ].join("; ");
  return { message, fields };
}

/** One line a user can act on: "candidates[3].id: must not be empty; topK: Too big …", naming each field (describeInvalidInput's message). */
export function describeZodError(error: ZodError): string {
  return describeInvalidInput(error).message;
}

const itemSchemas = new WeakMap<object, z.ZodType>();
/** The item schema of a list built by items(), for tools that walk schemas (server/testing/inputProbes.ts). */
export const itemsOf = (schema: unknown): z.ZodType | undefined => (typeof schema === "object" && schema !== null ? itemSchemas.get(schema) : undefined);

/**
 * A list of `item`s, checked one item at a time until MAX_REPORTED_ISSUES issues are found; the
 * rest are not checked, and one issue at the list's path says how many. zod's z.array checks every
 * item and collects every issue (a 1 MiB body can hold 100,000 of them), so a body wrong everywhere
 * would cost seconds of the event loop. Its length is checked first (`max`, `min`), before any item.
 */
export function items<I extends z.ZodType>(item: I, bounds: { min?: number; tooFew?: string; max: number; tooMany?: string }) {
  const list = z.array(z.unknown()).max(bounds.max, bounds.tooMany);
  const checked = (bounds.min === undefined ? list : list.min(bounds.min, bounds.tooFew)).transform((values, ctx): Array<z.output<I>> => {
    const out = new Array<z.output<I>>(values.length);
    let found = 0;
    for (let i = 0; i < values.length; i++) {
      if (found >= MAX_REPORTED_ISSUES) {
        const left = values.length - i;
        ctx.issues.push({ code: "custom", input: values, params: { notChecked: left }, message: `${left} more item${left > 1 ? "s" : ""} from [${i}] on not checked (checking stops after ${MAX_REPORTED_ISSUES} issues)` });
        return z.NEVER;
      }
      const parsed = item.safeParse(values[i]);
      if (parsed.success) out[i] = parsed.data as z.output<I>;
      else {
        for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, path: [i, ...issue.path], input: values[i] } as z.core.$ZodRawIssue);
        found += parsed.error.issues.length;
      }
    }
    return found ? z.NEVER : out;
  });
  itemSchemas.set(checked, item);
  // Typed as a list of `item`'s input: z.array(z.unknown()) would type it unknown[] for tRPC's callers.
  return checked as unknown as z.ZodType<Array<z.output<I>>, Array<z.input<I>>>;
}

// ---------------------------------------------------------------------------------------------
// The primitives every input schema is built from (REST bodies, tRPC inputs, upload fields). Each
// checks a value at the edge against the type it ends in — a float32 tensor, a PostgreSQL int4 or
// double column, a text or jsonb column — so a bad value is a 400 naming the field instead of a
// model error, a 500 or a log row no batch can write. server/validation.test.ts walks every tRPC
// procedure's input and proves each string refuses NUL and lone surrogates, each number is bounded
// and each free-form JSON value is bounded in depth and size.
// ---------------------------------------------------------------------------------------------

/**
 * NUL (PostgreSQL's text and jsonb refuse it) or a UTF-16 surrogate half without its partner (not
 * Unicode: PostgreSQL refuses it in jsonb, UTF-8 cannot encode it). With the `u` flag a well-formed
 * pair is one code point and does not match; only a lone half does.
 */
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/u;

function unstorableProblem(s: string): string | null {
  const match = UNSTORABLE.exec(s);
  if (!match) return null;
  return match[0] === "\u0000" ? "must not contain NUL (\\u0000) characters" : `must be well-formed Unicode (a lone surrogate \\u${match[0].charCodeAt(0).toString(16)} at character ${match.index})`;
}

/**
 * A string PostgreSQL can store and a reader can read: well-formed Unicode, no NUL, at most `max`
 * UTF-16 code units (and at least `min`). Chain `.trim()`, `.regex()` as needed.
 */
export const text = (max: number, min = 0) => {
  const bounded = z.string().max(max, `at most ${max} character${max === 1 ? "" : "s"}`);
  return (min > 0 ? bounded.min(min, min === 1 ? "must not be empty" : `at least ${min} characters`) : bounded).check((ctx) => {
      const problem = unstorableProblem(ctx.value);
      if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
    });
};

/**
 * `schema` for an object taken from outside, except that an own key "__proto__" is refused, naming
 * it: zod skips such a key (it cannot add it by assignment without setting the prototype), so it
 * would be dropped without a word. `maxKeys`: an object of more keys is refused with `tooMany`
 * before any of them is checked (a 1 MiB body holds 100,000 wrong ones).
 */
export const keepingEveryKey = <S extends z.core.SomeType>(schema: S, bounds?: { maxKeys: number; tooMany: string }) =>
  // Typed as `schema`'s input and output: z.preprocess would type its input as unknown, and tRPC's
  // callers would lose the field's type.
  z.preprocess((input, ctx) => {
    if (typeof input === "object" && input !== null) {
      if (bounds && !Array.isArray(input) && Object.keys(input).length > bounds.maxKeys) ctx.issues.push({ code: "custom", message: bounds.tooMany, input });
      else if (Object.hasOwn(input, "__proto__")) ctx.issues.push({ code: "custom", message: 'may not be "__proto__" (it cannot be kept as a field name)', path: ["__proto__"], input });
    }
    return input;
  }, schema) as unknown as z.ZodType<z.output<S>, z.input<S>>;

/**
 * A free-form record (metrics, hyperparameters by name): z.record(key, value), refusing a key "__proto__" (keepingEveryKey)
 * and, with `bounds`, more than `maxKeys` keys before checking any.
 */
export const record = <K extends z.core.$ZodRecordKey, V extends z.core.SomeType>(key: K, value: V, bounds?: { maxKeys: number; tooMany: string }) => keepingEveryKey(z.record(key, value), bounds);

/** An id or key of ours (surface key, version id, user id): 1–`max` characters of storable text. */
export const idString = (max = 100) => text(max, 1);

/** A bigint row id (an audit entry, a history row) as decimal text: 1–19 digits, at most 2^63 − 1; `what` is the error's words ("an entry id"). */
export const bigintIdText = (what: string) =>
  text(19).regex(/^\d{1,19}$/, what).refine((c) => !/^\d+$/.test(c) || BigInt(c) <= 9_223_372_036_854_775_807n, what);

/** The largest finite float32 (2^128 − 2^104): a larger magnitude becomes Infinity in a Float32Array. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A number that ends in a float32 tensor (a feature, a score, a retrieval score): finite (zod
 * refuses NaN and ±Infinity) and within ±FLOAT32_MAX, so it is still finite once the model sees it.
 */
export const float32 = () =>
  z
    .number()
    .min(-FLOAT32_MAX, "must fit a 32-bit float (between -3.4e38 and 3.4e38)")
    .max(FLOAT32_MAX, "must fit a 32-bit float (between -3.4e38 and 3.4e38)");

/** PostgreSQL's int4 range (Prisma `Int`): a larger integer is a database error, not a 400. */
export const INT32_MAX = 2_147_483_647;

/** An integer that ends in an int4 column or is compared with one (a version, a position, a count). */
export const int32 = (min = 0, max = INT32_MAX) => z.number().int().min(min).max(max);

/**
 * Revenue of one purchase, in the currency's unit. It is summed into double precision columns
 * (experiment_unit_stats.revenue, experiment_hourly_stats.revenue) and squared by var_samp: below
 * 1e9 the sum of a billion purchases stays under 2^53 cents' worth of precision and no square
 * overflows, so sums and variances stay exact enough to compare arms.
 */
export const MAX_REVENUE = 1e9;
export const revenue = () => z.number().min(0, "must not be negative").max(MAX_REVENUE, `at most ${MAX_REVENUE} per purchase`);

/** A bounded decimal (a rate, a weight, a threshold) that ends in a double column or a JSON field. */
export const decimal = (min: number, max: number) => z.number().min(min).max(max);

/**
 * An instant that ends in a timestamptz column: JavaScript dates reach ±275,760 years, PostgreSQL
 * refuses years before 4713 BC; 1900–9999 covers every real expiry and filter. The one date schema
 * of every input: a Date (superjson's tagged Date, itself read strictly: superjsonDates.ts) or text
 * (query strings, plain JSON callers without superjson's tag) as strict ISO 8601 only
 * (parseIsoInstant: a date, or a date-time with its offset), never `new Date(text)`'s loose reading
 * ("12" is not December 2001, "2026-02-30" not 2 March).
 * `future`: the instant must be later than now (an expiry): one already past is refused.
 */
export const timestamp = (options: { message?: string; future?: boolean } = {}) => {
  const message = options.message ? `${options.message} (${ISO_INSTANT_HINT})` : `must be ${ISO_INSTANT_HINT}`;
  const date = z
    .date({ error: message })
    .min(new Date("1900-01-01T00:00:00Z"), "must be in 1900 or later")
    .max(new Date("9999-12-31T23:59:59.999Z"), "must be in 9999 or earlier");
  const checked = options.future ? date.refine((d) => d.getTime() > Date.now(), "must be in the future") : date;
  // Text that is not strict ISO stays text, and z.date refuses it with the message.
  return z.preprocess((v) => (typeof v === "string" ? (parseIsoInstant(v) ?? v) : v), checked);
};

/**
 * An instant given as text that stays text (an outcome event's `ts`): the same strict ISO 8601 as
 * timestamp(), in the same 1900–9999 range.
 */
export const isoInstantText = () =>
  z.string().max(40, `must be ${ISO_INSTANT_HINT}`).refine((t) => {
    const at = parseIsoInstant(t);
    return at !== null && at.getUTCFullYear() >= 1900 && at.getUTCFullYear() <= 9999;
  }, `must be ${ISO_INSTANT_HINT}, in 1900–9999`);

export interface JsonBounds {
  /** Nesting levels, the value itself being 1. Default 16. */
  maxDepth?: number;
  /** Its size as JSON text, approximately (UTF-16 units of strings and keys plus punctuation). Default 64 KiB. */
  maxBytes?: number;
}

/**
 * Why `value` is not a bounded JSON value, or null: plain objects (no key "__proto__"), arrays, storable strings, finite
 * numbers, booleans and null only (superjson could otherwise hand us a Date, a Map, a BigInt or
 * undefined), at most `maxDepth` deep and about `maxBytes` as JSON. Iterative: a value nested 100,000
 * levels is refused without recursion.
 */
export function jsonProblem(value: unknown, bounds: JsonBounds = {}): string | null {
  const maxDepth = bounds.maxDepth ?? 16;
  const maxBytes = bounds.maxBytes ?? 65_536;
  const stack: Array<[unknown, number]> = [[value, 1]];
  let bytes = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (depth > maxDepth) return `must be JSON nested at most ${maxDepth} levels deep`;
    if (v === null || typeof v === "boolean") bytes += 5;
    else if (typeof v === "number") {
      if (!Number.isFinite(v)) return "must hold only finite numbers";
      bytes += 24;
    } else if (typeof v === "string") {
      const problem = unstorableProblem(v);
      if (problem) return problem;
      bytes += v.length + 2;
    } else if (Array.isArray(v)) {
      bytes += 2 + v.length;
      for (const item of v) stack.push([item, depth + 1]);
    } else if (isPlainObject(v)) {
      for (const [key, item] of Object.entries(v)) {
        const problem = unstorableProblem(key);
        if (problem) return `key ${problem}`;
        // superjson refuses to send an object with an own "__proto__" (a pollution guard): stored, it
        // would fail every page that shows it (a version's card, an experiment) with a 500.
        if (key === "__proto__") return 'must not hold a key "__proto__" (no page could show it)';
        bytes += key.length + 4;
        stack.push([item, depth + 1]);
      }
      bytes += 2;
    } else return `must be JSON (got ${v === undefined ? "undefined" : typeof v === "object" ? (v as object).constructor?.name ?? "an object" : typeof v})`;
    if (bytes > maxBytes) return `must be at most ${maxBytes} bytes as JSON`;
  }
  return null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A free-form JSON value (a targeting value, hyperparameters, metadata), bounded in depth and size. */
export const jsonValue = (bounds: JsonBounds = {}) =>
  z.unknown().check((ctx) => {
    const problem = jsonProblem(ctx.value, bounds);
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
  });

/** Bidirectional embedding, override and isolate controls: they reorder how the text around them is shown ("Trojan Source", CVE-2021-42574). */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/u;
/**
 * Characters that show as nothing: Unicode's default-ignorable code points (format characters such as
 * U+200B and U+00AD, fillers such as U+3164 HANGUL FILLER and U+FFA0, variation selectors, U+034F) and
 * U+2800 BRAILLE PATTERN BLANK, a symbol drawn blank (re-break: three U+3164 passed as a reason).
 */
const INVISIBLE_CLASS = "[\\p{Default_Ignorable_Code_Point}\\u2800]";
export const INVISIBLE = new RegExp(INVISIBLE_CLASS, "u");
/** Characters a reader sees: letters, digits, punctuation and symbols that are not INVISIBLE. */
const VISIBLE = new RegExp(`(?!${INVISIBLE_CLASS})[\\p{L}\\p{N}\\p{P}\\p{S}]`, "gu");
/** More than four combining marks in a row: stacked marks smear over the text around them ("Zalgo"); no script needs that many. */
export const MARK_PILE = /\p{M}{5,}/u;

/**
 * What `s` looks like, for telling names apart by eye (after UTS #39's skeleton, loosely): NFKC
 * (fullwidth and compatibility forms), the confusables library's mapping of look-alike letters to
 * Latin ones (Cyrillic "ѕ", Greek "ο", small capitals "ᴀ"), lower case; then only letters and digits
 * are kept (every dash, colon, space or modifier letter between them goes: "rollout‐analysis",
 * "db꞉retention", "rolloutーanalysis") and the shapes that read alike in common fonts are folded:
 * "rn" → "m", "vv" → "w", "0" → "o", "1", "i" and "ı" → "l". Two names with the same skeleton
 * read as one; "ѕеed" → "seed", "anonyrnous" → "anonymous", "r0llout-analysis" → "rolloutanalysls".
 * For comparing with a few reserved names (folded the same way), not for storing.
 */
export const lookAlikeSkeleton = (s: string): string =>
  removeConfusables(s.normalize("NFKC"))
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\p{Lm}|[^\p{L}\p{N}]/gu, "")
    .replace(/rn/g, "m")
    .replace(/vv/g, "w")
    .replace(/0/g, "o")
    .replace(/[1iı]/g, "l");

/** How many characters of `s` a reader sees (VISIBLE). */
export const visibleCount = (s: string): number => s.match(VISIBLE)?.length ?? 0;

/**
 * Why someone pulls a production lever, for the audit trail: what the next person reads.
 * 3–500 characters after trimming, at least 3 of them visible (break test: three zero-width spaces
 * or soft hyphens passed; re-break: three Hangul fillers or Braille blanks), no bidirectional controls
 * (a U+202E reversed how the entry read) and no pile of combining marks.
 */
export const reasonSchema = text(500)
  .trim()
  .min(3, "say why (at least 3 characters)")
  .refine((s) => !BIDI_CONTROLS.test(s), "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069): they reorder how the audit trail shows it")
  .refine((s) => visibleCount(s) >= 3, "say why (at least 3 visible characters)")
  .refine((s) => !MARK_PILE.test(s), "must not stack more than four combining marks on a character: they smear over the audit trail");

/**
 * Text from outside that is kept, not refused (a webhook receiver's response body, a remote error):
 * lone surrogates and NUL become U+FFFD, so PostgreSQL's text columns take it. Inputs are refused
 * instead (`text()`); this is for what a third party says back.
 */
export const storableText = (value: string): string => value.replace(new RegExp(UNSTORABLE.source, "gu"), "\uFFFD");

// ---------------------------------------------------------------------------------------------
// tRPC input arrives as superjson's envelope { json, meta: { values, referentialEqualities, v } }.
// superjson applies `meta.values` copying the path so far at every level of it (plainer.js
// traverse): time and memory grow as nodes × depth × path length — one 0.9 MB request nesting
// 4,000 levels of 104-segment keys took a worker past 4 GB and out of memory. So `meta` is checked
// first, in time linear in its size and without recursion.
// ---------------------------------------------------------------------------------------------

/**
 * What `meta.values` may hold: levels of nesting, keys visited, path segments summed over them (what
 * superjson copies and walks), characters of a key. The depth bounds the copying; keys and segments
 * are sized so every input the schemas take passes (1,000 candidates with -0 or undefined in a few
 * fields each: 12,000 segments were refused in the second break test) while a 1 MiB body stays
 * well under 100 ms of superjson's work (measured: 40,000 annotations, 2 MB, 79 ms).
 */
export const SUPERJSON_META_LIMITS = { depth: 32, keys: 100_000, segments: 400_000, keyLength: 1_000 } as const;

/** The annotations an input may carry: what superjson writes for undefined, NaN / ±Infinity / -0, a BigInt and a Date (no input takes a Map, a Set, a class or a symbol). */
const INPUT_ANNOTATIONS: ReadonlySet<unknown> = new Set(["undefined", "number", "bigint", "Date"]);

/** Path segments superjson refuses (accessDeep.ts validatePath). */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(["__proto__", "prototype", "constructor"]);

interface MetaFrame {
  tree: unknown;
  key: string;
  parent: MetaFrame | null;
  depth: number;
  /** Segments of the full path at this frame. */
  segments: number;
}

/** The field a frame is, for a message: meta.values.<key>.<key>…, at most 120 characters. */
function metaField(frame: MetaFrame): string {
  const keys: string[] = [];
  for (let f: MetaFrame | null = frame; f; f = f.parent) keys.push(f.key);
  const field = keys.reverse().join(".");
  return field.length > 120 ? `${field.slice(0, 119)}…` : field;
}

/** The segments of a superjson path key ("a.b\.c" → 2), or why it is refused. `legacy`: envelopes before superjson's v1 (no "\\" escapes). */
function keySegments(key: string, legacy: boolean): number | string {
  let count = 1;
  let segment = "";
  for (let i = 0; i <= key.length; i++) {
    const c = key[i];
    if (c === undefined || c === ".") {
      if (FORBIDDEN_SEGMENTS.has(segment)) return `"${segment}" is not allowed in a path`;
      if (c === ".") count++;
      segment = "";
    } else if (c === "\\" && !legacy) {
      const next = key[++i];
      if (next !== "." && next !== "\\") return 'a "\\" in a path must escape "." or "\\"';
      segment += next;
    } else if (c === "\\" && key[i + 1] === ".") segment += key[++i];
    else segment += c;
  }
  return count;
}

/**
 * The path of the first own key "__proto__" in a parsed JSON value (fieldPath's form:
 * `candidates[0].features.__proto__`), or null when it holds none. JSON.parse keeps such a key as
 * an own property; superjson's copy drops it without a word (a pollution guard), so a tRPC input
 * would reach its schema without the key that /api/v1/* refuses naming it. Iterative: any depth.
 */
export function protoKeyPath(value: unknown): string | null {
  type Frame = { value: unknown; key: PropertyKey | null; parent: Frame | null };
  const pathOf = (frame: Frame | null, last: PropertyKey): string => {
    const path: PropertyKey[] = [last];
    for (let f = frame; f && f.key !== null; f = f.parent) path.push(f.key);
    return fieldPath(path.reverse());
  };
  const stack: Frame[] = [{ value, key: null, parent: null }];
  while (stack.length) {
    const frame = stack.pop()!;
    const node = frame.value;
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ value: node[i], key: i, parent: frame });
      continue;
    }
    if (Object.hasOwn(node, "__proto__")) return pathOf(frame, "__proto__");
    const keys = Object.keys(node);
    for (let i = keys.length - 1; i >= 0; i--) stack.push({ value: (node as Record<string, unknown>)[keys[i]!], key: keys[i]!, parent: frame });
  }
  return null;
}

/**
 * A superjson envelope as superjson.deserialize may take it: `meta.values` at most 32 levels deep,
 * 100,000 keys, 400,000 path segments summed over its keys' full paths, keys of at most 1,000
 * characters, annotations of undefined, number, bigint and Date only, no __proto__ / prototype /
 * constructor segment; `meta.referentialEqualities` left out (it says which equal objects were one
 * object: the json already holds every copy, and applied it could build a cycle or a graph
 * exponentially large when read). A payload that is not an object passes as it is.
 * @throws InvalidInputError naming `meta`, `meta.values` or the key path under it (meta.values.x.a.b…)
 */
export function boundedSuperjsonEnvelope(payload: unknown): unknown {
  if (payload === null || typeof payload !== "object" || !("meta" in payload) || payload.meta === undefined) return payload;
  const meta = payload.meta;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) throw new InvalidInputError("meta", "must be superjson's meta object");
  const { values, v } = meta as { values?: unknown; v?: unknown };
  const limits = SUPERJSON_META_LIMITS;
  const legacy = ((v ?? 0) as number) < 1; // as superjson reads it
  const stack: MetaFrame[] = values === undefined ? [] : [{ tree: values, key: "meta.values", parent: null, depth: 0, segments: 0 }];
  let keys = 0;
  let segments = 0;
  while (stack.length) {
    const frame = stack.pop()!;
    const refuse = (message: string) => new InvalidInputError(metaField(frame), message);
    if (frame.depth > limits.depth) throw refuse(`annotations nested more than ${limits.depth} levels deep`);
    let children = frame.tree;
    if (Array.isArray(frame.tree)) {
      const [type, inner] = frame.tree as unknown[];
      if (!INPUT_ANNOTATIONS.has(type)) throw refuse(`the type ${JSON.stringify(type)?.slice(0, 40) ?? "undefined"} is not taken as input (undefined, number, bigint or Date)`);
      if (inner === undefined) continue;
      children = inner;
    }
    if (children === null || typeof children !== "object" || Array.isArray(children)) throw refuse("must be an annotation ([type] or [type, {path: annotation}]) or an object of them");
    for (const [key, tree] of Object.entries(children)) {
      if (key.length > limits.keyLength) throw refuse(`a path key longer than ${limits.keyLength} characters`);
      const own = keySegments(key, legacy);
      if (typeof own === "string") throw new InvalidInputError(metaField({ ...frame, key, parent: frame }), own);
      const child: MetaFrame = { tree, key, parent: frame, depth: frame.depth + 1, segments: frame.segments + own };
      keys++;
      segments += child.segments;
      if (keys > limits.keys) throw new InvalidInputError("meta.values", `more than ${limits.keys} annotated paths`);
      if (segments > limits.segments) throw new InvalidInputError(metaField(child), `annotation paths of more than ${limits.segments} segments in all`);
      stack.push(child);
    }
  }
  const kept: Record<string, unknown> = { ...meta };
  delete kept.referentialEqualities;
  return { ...payload, meta: kept };
}
