import { describe, expect, it } from "vitest";
import { z } from "zod";
import { outcomeBatchSchema } from "./events/schema";
import { experimentInputSchema } from "./experiments/schema";
import { rerankRequestSchema } from "./rerank/schema";
import { uploadFieldsSchema } from "./registry/schema";
import { appRouter } from "./routers/_app";
import { deepJson, isUnder, procedureInputs, samplesOf, withLeaf, type Leaf } from "./testing/inputProbes";
import { boundedSuperjsonEnvelope, describeZodError, float32, FLOAT32_MAX, int32, jsonProblem, jsonValue, protoKeyPath, reasonSchema, revenue, SUPERJSON_META_LIMITS, text } from "./validation";

// The shared primitives, and proof that every input schema is built from them: generated from the
// router (and the two REST bodies), each string refuses NUL and lone surrogates and has a length
// bound, each number is bounded, each date is within PostgreSQL's range, and each free-form JSON
// value refuses deep nesting. A new procedure is probed without being listed here.

describe("the primitives", () => {
  it("text: storable, well-formed, bounded", () => {
    const s = text(10, 1);
    expect(s.safeParse("qa-user").success).toBe(true);
    expect(s.safeParse("😀 ok").success).toBe(true); // a well-formed pair
    expect(describeZodError(s.safeParse("qa-\ud800-u").error!)).toBe("input: must be well-formed Unicode (a lone surrogate \\ud800 at character 3)");
    expect(describeZodError(s.safeParse("sku-\udfff").error!)).toContain("lone surrogate \\udfff");
    expect(describeZodError(s.safeParse("a\u0000b").error!)).toBe("input: must not contain NUL (\\u0000) characters");
    expect(describeZodError(s.safeParse("x".repeat(11)).error!)).toBe("input: at most 10 characters");
    expect(describeZodError(s.safeParse("").error!)).toBe("input: must not be empty");
  });

  it("float32: finite and within ±3.4028234663852886e38", () => {
    expect(float32().safeParse(FLOAT32_MAX).success).toBe(true);
    expect(Math.fround(FLOAT32_MAX)).toBe(FLOAT32_MAX);
    for (const bad of [1e39, -1e39, Infinity, NaN, "1"]) expect(float32().safeParse(bad).success).toBe(false);
    expect(Number.isFinite(Math.fround(1e39))).toBe(false); // why: a double past the bound becomes Infinity in a Float32Array
  });

  it("int32 and revenue match their columns", () => {
    expect(int32().safeParse(2_147_483_647).success).toBe(true);
    expect(int32().safeParse(2_147_483_648).success).toBe(false);
    expect(int32(1).safeParse(1.5).success).toBe(false);
    expect(revenue().safeParse(1e9).success).toBe(true);
    expect(revenue().safeParse(1e10).success).toBe(false);
    expect(revenue().safeParse(-1).success).toBe(false);
  });

  it("JSON: plain values only, bounded in depth and size, iteratively", () => {
    expect(jsonProblem({ a: [1, "x", null, true, { b: 2 }] })).toBeNull();
    expect(jsonProblem(deepJson(3000))).toBe("must be JSON nested at most 16 levels deep");
    expect(jsonProblem(deepJson(200_000))).toBe("must be JSON nested at most 16 levels deep"); // no stack overflow
    expect(jsonProblem({ a: "x".repeat(70_000) })).toBe("must be at most 65536 bytes as JSON");
    expect(jsonProblem({ "k\u0000": 1 })).toBe("key must not contain NUL (\\u0000) characters");
    expect(jsonProblem(["\ud800"])).toContain("lone surrogate");
    expect(jsonProblem(new Date())).toBe("must be JSON (got Date)");
    expect(jsonProblem(new Map())).toBe("must be JSON (got Map)");
    expect(jsonProblem(undefined)).toBe("must be JSON (got undefined)");
    expect(jsonProblem({ a: [JSON.parse('{"__proto__": {"x": 1}}')] })).toBe('must not hold a key "__proto__" (no page could show it)');
    expect(jsonValue({ maxDepth: 2 }).safeParse({ a: { b: 1 } }).success).toBe(false);
  });
});

// The values every leaf of its kind must refuse.
const HOSTILE: Record<Leaf["kind"], Array<[string, unknown]>> = {
  string: [["NUL", "ok\u0000ok"], ["lone high surrogate", "qa-\ud800-user"], ["lone low surrogate", "sku-\udfff"], ["a megabyte", "a".repeat(1_048_576)]],
  key: [["NUL", "k\u0000"], ["lone surrogate", "k\ud800"], ["a megabyte", "k".repeat(1_048_576)]],
  number: [["1e39", 1e39], ["-1e39", -1e39]],
  date: [["year -271821", new Date(-8.64e15)], ["year 275760", new Date(8.64e15)]],
  json: [["3,000 levels deep", deepJson(3000)], ["NUL inside", { v: "a\u0000" }], ["a lone surrogate inside", ["\udc00"]], ["a megabyte", "j".repeat(1_048_576)], ["a key __proto__ inside", JSON.parse('{"v": {"__proto__": 1}}')]],
};

const inputs = [
  ...procedureInputs(appRouter).filter((p) => p.input).map((p) => ({ name: `tRPC ${p.path}`, schema: p.input! })),
  { name: "POST /api/v1/rerank", schema: rerankRequestSchema },
  { name: "POST /api/v1/events", schema: outcomeBatchSchema },
];

describe("reasonSchema (what the next person reads in the audit trail)", () => {
  it("takes a reason in any script, trimmed", () => {
    expect(reasonSchema.parse("  INC-1042 rollback  ")).toBe("INC-1042 rollback");
    expect(reasonSchema.parse("שחזור גרסה")).toBe("שחזור גרסה");
    expect(reasonSchema.parse("回滚版本")).toBe("回滚版本");
  });

  it("refuses reasons nobody can read: fewer than 3 visible characters, or bidirectional controls (break test)", () => {
    const message = (input: string) => reasonSchema.safeParse(input).error?.issues[0]?.message;
    expect(message("\u200b\u200b\u200b")).toBe("say why (at least 3 visible characters)");
    expect(message("\u00ad\u00ad\u00ad")).toBe("say why (at least 3 visible characters)");
    expect(message("a\u200bb")).toBe("say why (at least 3 visible characters)");
    expect(message("\u202e\u202e\u202e")).toMatch(/^must not contain bidirectional control characters/);
    expect(message("rolled back \u202edab saw 3v")).toMatch(/^must not contain bidirectional control characters/);
    expect(message("ab")).toBe("say why (at least 3 characters)");
    // Re-break: letters and symbols that show as blank (Hangul fillers, Braille blank), one visible letter among fillers, a smear of combining marks.
    for (const blank of ["\u3164\u3164\u3164", "\u2800\u2800\u2800", "\uFFA0\uFFA0\uFFA0", "\u115F\u115F\u115F", "\u1160\u1160\u1160", "\u3164x\u3164"]) expect(message(blank), JSON.stringify(blank)).toBe("say why (at least 3 visible characters)");
    expect(message(`abc${"\u0336".repeat(300)}`)).toMatch(/^must not stack more than four combining marks/);
    // Scripts with marks keep working.
    expect(reasonSchema.parse("Trả lời chậm")).toBe("Trả lời chậm");
    expect(reasonSchema.parse("नमस्ते दुनिया")).toBe("नमस्ते दुनिया");
  });
});

describe("every input schema refuses hostile values where it takes them", () => {
  it("finds the procedures' inputs", () => {
    expect(inputs.length).toBeGreaterThan(40);
  });

  it.each(inputs.map((i) => [i.name, i.schema] as const))("%s", (_name, schema: z.ZodType) => {
    const missed: string[] = [];
    for (const sample of samplesOf(schema)) {
      for (const leaf of sample.leaves) {
        for (const [what, value] of HOSTILE[leaf.kind]) {
          const result = schema.safeParse(withLeaf(sample.value, leaf, value));
          const where = leaf.path.join(".") || "input";
          if (result.success || !result.error.issues.some((issue) => isUnder(issue.path, leaf.path))) missed.push(`${where} (${leaf.kind}) took ${what}`);
        }
      }
    }
    expect(missed).toEqual([]);
  });
});

describe("records keep every key or refuse it", () => {
  // zod builds a record by assignment, so a key "__proto__" (an own field once JSON.parse has read
  // it) sets the prototype instead and is gone from what the service sees, without a word.
  it.each(inputs.map((i) => [i.name, i.schema] as const))("%s: a record key named __proto__ is kept or refused naming it", (_name, schema: z.ZodType) => {
    const dropped: string[] = [];
    for (const sample of samplesOf(schema)) {
      for (const leaf of sample.leaves.filter((l) => l.kind === "key")) {
        const result = schema.safeParse(withLeaf(sample.value, leaf, "__proto__"));
        const where = leaf.path.join(".") || "input";
        if (!result.success) {
          if (!result.error.issues.some((issue) => isUnder(issue.path, [...leaf.path, "__proto__"]))) dropped.push(`${where}: refused, but not naming ${where}.__proto__`);
          continue;
        }
        const record = leaf.path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)?.[key], result.data);
        if (typeof record !== "object" || record === null || !Object.hasOwn(record, "__proto__")) dropped.push(`${where}: dropped`);
      }
    }
    expect(dropped).toEqual([]);
  });

  it("a rerank request's inline feature or attribute named __proto__ is refused naming it", () => {
    const request = JSON.parse('{"surface":"s","topK":1,"context":{"attributes":{"__proto__":"x"}},"candidates":[{"id":"a","features":{"__proto__":1}}]}') as unknown;
    const parsed = rerankRequestSchema.safeParse(request);
    expect(describeZodError(parsed.error!)).toContain('candidates[0].features.__proto__: may not be "__proto__"');
    expect(describeZodError(parsed.error!)).toContain('context.attributes.__proto__: may not be "__proto__"');
    // So an experiment cannot target one: such a rule could never match.
    const rules = experimentInputSchema.shape.targeting.safeParse([{ attribute: "__proto__", op: "exists" }]);
    expect(describeZodError(rules.error!)).toBe('[0].attribute: may not be "__proto__" (a request cannot carry an attribute of that name)');
  });

  it("a metric or hyperparameter named __proto__ is refused naming it, not dropped without a word", () => {
    const fields = JSON.parse('{"format":"cross-encoder","metrics":{"ndcg@10":0.5,"__proto__":0.9},"metadata":{"hyperparameters":{"__proto__":{"x":1}}}}') as unknown;
    const parsed = uploadFieldsSchema.safeParse(fields);
    expect(parsed.success).toBe(false);
    expect(describeZodError(parsed.error!)).toContain('metrics.__proto__: may not be "__proto__"');
    expect(describeZodError(parsed.error!)).toContain('metadata.hyperparameters.__proto__: may not be "__proto__"');
    expect(uploadFieldsSchema.parse(JSON.parse('{"format":"cross-encoder","metrics":{"ndcg@10":0.5,"proto":0.9}}')).metrics).toEqual({ "ndcg@10": 0.5, proto: 0.9 });
    const metadata = uploadFieldsSchema.safeParse(JSON.parse('{"format":"cross-encoder","metadata":{"notes":"n","__proto__":{"x":1}}}'));
    expect(describeZodError(metadata.error!)).toContain('metadata.__proto__: may not be "__proto__"');
    // Deeper: superjson would refuse to send the version's metadata, and its card would fail.
    const nested = uploadFieldsSchema.safeParse(JSON.parse('{"format":"cross-encoder","metadata":{"run":{"config":{"__proto__":{"x":1}}}}}'));
    expect(describeZodError(nested.error!)).toContain('metadata.run: must not hold a key "__proto__" (no page could show it)');
    const spec = uploadFieldsSchema.safeParse({ format: "onnx", featureSpec: [{ name: "__proto__", source: "item", default: 0 }] });
    expect(describeZodError(spec.error!)).toContain('featureSpec[0].name: may not be "__proto__"');
  });
});

describe("storableText", () => {
  it("keeps a receiver's words but replaces what PostgreSQL's text refuses", async () => {
    const { storableText } = await import("./validation");
    expect(storableText("ok\u0000nul \ud800")).toBe("ok\uFFFDnul \uFFFD");
    expect(storableText("plain ✓ 😀")).toBe("plain ✓ 😀");
  });
});

describe("dates taken as text (#14 break test)", () => {
  it("an outcome event's ts and every timestamp take strict ISO 8601 only", async () => {
    const { outcomeEventSchema } = await import("./events/schema");
    const { timestamp } = await import("./validation");
    const event = { eventId: "e1", requestId: "r1", type: "click", itemId: "sku-1" };
    const stamp = timestamp();
    for (const loose of ["12", "2026-02-30", "2026-02-30T00:00:00Z", "2026-11-28T14:02:00Z\u0000", "2026-11-28T14:02:00", "1899-12-31T23:59:59Z"]) {
      expect(outcomeEventSchema.safeParse({ ...event, ts: loose }).success, loose).toBe(false);
      expect(stamp.safeParse(loose).success, loose).toBe(false);
    }
    for (const strict of ["2026-11-28", "2026-11-28T14:02Z", "2026-11-28T14:02:00.123+01:00"]) {
      expect(outcomeEventSchema.safeParse({ ...event, ts: strict }).success, strict).toBe(true);
      expect(stamp.parse(strict)).toEqual(new Date(Date.parse(strict.length === 10 ? `${strict}T00:00:00Z` : strict)));
    }
    // An expiry (future): a past instant is refused however it is given, a later one taken.
    const expiry = timestamp({ future: true });
    for (const past of ["2020-01-01", new Date(Date.now() - 1000), new Date(Date.now() - 1000).toISOString()]) {
      expect(expiry.safeParse(past).error?.issues[0]?.message, String(past)).toBe("must be in the future");
    }
    expect(expiry.parse("2999-01-01T00:00Z")).toEqual(new Date("2999-01-01T00:00:00Z"));
  });
});

describe("boundedSuperjsonEnvelope's limits on meta.values", () => {
  it("refuses more annotated paths than SUPERJSON_META_LIMITS.keys, naming the field (a body within 1 MiB cannot reach it: checked here)", () => {
    const values = Object.fromEntries(Array.from({ length: SUPERJSON_META_LIMITS.keys + 1 }, (_, i) => [`k${i}`, ["undefined"]]));
    expect(() => boundedSuperjsonEnvelope({ json: {}, meta: { values, v: 1 } })).toThrow(`meta.values: more than ${SUPERJSON_META_LIMITS.keys} annotated paths`);
  });
});

describe("protoKeyPath", () => {
  it("names the first own key \"__proto__\" of a parsed JSON value, at any depth", () => {
    expect(protoKeyPath(JSON.parse('{"a":[{"b":1},{"c":{"__proto__":2}}]}'))).toBe("a[1].c.__proto__");
    expect(protoKeyPath(JSON.parse('{"__proto__":{}}'))).toBe("__proto__");
    expect(protoKeyPath(JSON.parse('[[{"x":{"__proto__":null}}]]'))).toBe("[0][0].x.__proto__");
    let deep: unknown = JSON.parse('{"__proto__":1}');
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(protoKeyPath(deep)?.endsWith("[0].__proto__")).toBe(true);
  });

  it("is null without one (an inherited __proto__ is not a key)", () => {
    expect(protoKeyPath({ a: [1, "x", null, { b: {} }] })).toBeNull();
    expect(protoKeyPath(undefined)).toBeNull();
    expect(protoKeyPath("__proto__")).toBeNull();
    expect(protoKeyPath(JSON.parse('{"proto":1,"__proto":2}'))).toBeNull();
  });
});
