import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assignAll, assignVariant, normalisedWeights, targetingCondition, type Assignment, type AssignmentContext, type ExperimentDefinition, type TargetingRule } from "./assign";
import { runExperiment, type Experiment } from "./growthbook";

const def = (over: Partial<ExperimentDefinition> = {}): ExperimentDefinition => ({
  key: "ranker-v2",
  seed: "ranker-v2-seed",
  hashVersion: 2,
  hashAttribute: "userKey",
  coverage: 1,
  variants: [
    { key: "control", weight: 0.5 },
    { key: "treatment", weight: 0.5 },
  ],
  namespace: null,
  targeting: [],
  phase: 1,
  ...over,
});
const user = (userKey: string | undefined, attributes: Record<string, unknown> = {}): AssignmentContext => ({ userKey, attributes });
const users = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`);
const variantOf = (a: Assignment) => (a.inExperiment ? a.variant : null);
const reasonOf = (a: Assignment) => (a.inExperiment ? null : a.reason);

/** How a GrowthBook user would write the same experiment: built by hand, not by our mapping code. */
function asGrowthBook(d: ExperimentDefinition, ctx: AssignmentContext) {
  const total = d.variants.reduce((s, v) => s + v.weight, 0);
  const experiment: Experiment<string> = {
    key: d.key,
    seed: d.seed,
    hashVersion: d.hashVersion,
    hashAttribute: d.hashAttribute,
    variations: d.variants.map((v) => v.key),
    weights: d.variants.map((v) => v.weight / total),
    coverage: d.coverage,
  };
  if (d.namespace) experiment.namespace = [d.namespace.id, d.namespace.start, d.namespace.end];
  if (d.targeting.length > 0) experiment.condition = targetingCondition(d.targeting);
  const attributes: Record<string, unknown> = { ...ctx.attributes };
  if (ctx.userKey !== undefined) attributes.userKey = ctx.userKey;
  if (ctx.sessionKey !== undefined) attributes.sessionKey = ctx.sessionKey;
  return { experiment, context: { attributes } };
}

// Random definitions and requests. Keys and seeds include arbitrary UTF-16 (lone surrogates too),
// since hashing works on code units.
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 8 }));
const COUNTRIES = ["US", "DE", "FR", "JP"];
const ruleArb: fc.Arbitrary<TargetingRule> = fc.oneof(
  fc.record({ attribute: fc.constantFrom("country", "device"), op: fc.constantFrom("eq" as const, "neq" as const), value: fc.constantFrom(...COUNTRIES, "mobile", "desktop") }),
  fc.record({ attribute: fc.constant("country"), op: fc.constantFrom("in" as const, "nin" as const), value: fc.subarray(COUNTRIES) }),
  fc.record({ attribute: fc.constant("age"), op: fc.constantFrom("gt" as const, "gte" as const, "lt" as const, "lte" as const), value: fc.integer({ min: 10, max: 70 }) }),
  fc.record({ attribute: fc.constantFrom("returning", "custom.segment"), op: fc.constant("exists" as const), value: fc.option(fc.boolean(), { nil: undefined }) }),
  fc.record({ attribute: fc.constant("locale"), op: fc.constant("regex" as const), value: fc.constantFrom("^en", "-(US|GB)$", "de") }),
);
const definitionArb: fc.Arbitrary<ExperimentDefinition> = fc
  .record({
    key: fc.string({ minLength: 1, maxLength: 12 }),
    seed: fc.oneof(fc.constant(""), text),
    hashVersion: fc.constantFrom(1 as const, 2 as const),
    hashAttribute: fc.constantFrom("userKey" as const, "sessionKey" as const),
    coverage: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
    weights: fc.array(fc.oneof(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0.01, max: 1, noNaN: true })), { minLength: 2, maxLength: 5 }),
    namespace: fc.option(
      fc.record({ id: text, a: fc.double({ min: 0, max: 1, noNaN: true }), b: fc.double({ min: 0, max: 1, noNaN: true }) }).map(({ id, a, b }) => ({ id, start: Math.min(a, b), end: Math.max(a, b) })),
      { nil: null },
    ),
    targeting: fc.array(ruleArb, { maxLength: 3 }),
    phase: fc.nat(20),
  })
  .map(({ weights, ...rest }) => ({ ...rest, variants: weights.map((weight, i) => ({ key: `v${i}`, weight })) }));
const contextArb: fc.Arbitrary<AssignmentContext> = fc.record({
  userKey: fc.option(text, { nil: undefined }),
  sessionKey: fc.option(text, { nil: undefined }),
  attributes: fc.record(
    {
      country: fc.constantFrom(...COUNTRIES),
      device: fc.constantFrom("mobile", "desktop"),
      age: fc.integer({ min: 0, max: 90 }),
      returning: fc.boolean(),
      locale: fc.constantFrom("en-US", "en-GB", "de-DE", "fr-FR"),
      custom: fc.record({ segment: fc.constantFrom("a", "b") }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  ),
});

describe("equivalence with GrowthBook's runExperiment", () => {
  it("assigns exactly what GrowthBook assigns, for random definitions and requests", () => {
    fc.assert(
      fc.property(definitionArb, contextArb, (d, ctx) => {
        const ours = assignVariant(d, ctx);
        const { experiment, context } = asGrowthBook(d, ctx);
        const theirs = runExperiment(experiment, context);
        expect(ours.inExperiment).toBe(theirs.inExperiment);
        if (ours.inExperiment) {
          expect({ variant: ours.variant, variantIndex: ours.variantIndex, hashValue: ours.hashValue, phase: ours.phase }).toEqual({
            variant: theirs.value,
            variantIndex: theirs.variationId,
            hashValue: theirs.bucket,
            phase: d.phase,
          });
        } else if (ours.reason === "no_hash_attribute") {
          expect(ctx[d.hashAttribute] ?? "").toBe("");
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with GrowthBook on mostly-enrolled traffic too (no targeting or namespace)", () => {
    // The general property above spends many runs on excluded users; this one checks buckets.
    fc.assert(
      fc.property(
        definitionArb.map((d) => ({ ...d, targeting: [], namespace: null, coverage: 1 })),
        fc.string({ minLength: 1, maxLength: 16 }),
        (d, key) => {
          const ctx = { userKey: key, sessionKey: key, attributes: {} };
          const ours = assignVariant(d, ctx);
          const theirs = runExperiment(asGrowthBook(d, ctx).experiment, { attributes: { userKey: key, sessionKey: key } });
          expect(ours.inExperiment && theirs.inExperiment).toBe(true);
          expect(variantOf(ours)).toBe(theirs.value);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("uses the key as seed when the seed is empty, as GrowthBook does", () => {
    for (const id of users(200)) {
      expect(variantOf(assignVariant(def({ seed: "" }), user(id)))).toBe(variantOf(assignVariant(def({ seed: "ranker-v2" }), user(id))));
    }
  });
});

describe("stickiness", () => {
  it("gives a user the same variant on every request, whatever else the request carries", () => {
    const d = def();
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), contextArb, (key, other) => {
        const first = assignVariant(d, user(key));
        expect(assignVariant(d, user(key))).toEqual(first);
        expect(assignVariant(d, { ...other, userKey: key })).toEqual(first);
        // A re-created but equal definition (e.g. reloaded config) assigns the same.
        expect(assignVariant(structuredClone(d), user(key))).toEqual(first);
      }),
    );
  });

  it("keeps assignments across phases; only a new seed re-randomises", () => {
    let moved = 0;
    const ids = users(10_000);
    for (const id of ids) {
      const before = variantOf(assignVariant(def({ phase: 1 }), user(id)));
      expect(variantOf(assignVariant(def({ phase: 2 }), user(id)))).toBe(before);
      if (variantOf(assignVariant(def({ seed: "ranker-v2-restart" }), user(id))) !== before) moved++;
    }
    // A fresh seed re-draws independently: half of the users change sides.
    expect(moved / ids.length).toBeGreaterThan(0.48);
    expect(moved / ids.length).toBeLessThan(0.52);
  });

  it("hashes the session for session experiments", () => {
    const d = def({ hashAttribute: "sessionKey" });
    expect(reasonOf(assignVariant(d, user("u1")))).toBe("no_hash_attribute");
    const a = assignVariant(d, { userKey: "u1", sessionKey: "s1", attributes: {} });
    expect(assignVariant(d, { userKey: "u2", sessionKey: "s1", attributes: {} })).toEqual(a);
  });

  it("hashes a numeric key from an untyped caller as its text, like GrowthBook", () => {
    const numeric = { userKey: 42, attributes: {} } as unknown as AssignmentContext;
    expect(assignVariant(def(), numeric)).toEqual(assignVariant(def(), user("42")));
  });

  it("treats a missing or empty hash attribute as no hash attribute", () => {
    expect(assignVariant(def(), user(undefined))).toEqual({ experiment: "ranker-v2", inExperiment: false, reason: "no_hash_attribute" });
    expect(reasonOf(assignVariant(def(), user("")))).toBe("no_hash_attribute");
  });
});

describe("weights", () => {
  const share = (d: ExperimentDefinition, n: number) => {
    const counts = new Map<string, number>();
    for (const id of users(n)) {
      const v = variantOf(assignVariant(d, user(id))) ?? "(out)";
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return (key: string) => (counts.get(key) ?? 0) / n;
  };

  it.each([1, 2] as const)("splits 100k users 50/50 within ±1%% (hash version %i)", (hashVersion) => {
    const s = share(def({ hashVersion }), 100_000);
    expect(Math.abs(s("control") - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(s("treatment") - 0.5)).toBeLessThan(0.01);
  });

  it("respects uneven weights, given as relative numbers", () => {
    const s = share(def({ variants: [{ key: "a", weight: 1 }, { key: "b", weight: 3 }, { key: "c", weight: 6 }] }), 100_000);
    expect(Math.abs(s("a") - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(s("b") - 0.3)).toBeLessThan(0.01);
    expect(Math.abs(s("c") - 0.6)).toBeLessThan(0.01);
  });

  it("normalises weights, and falls back to equal weights when they are unusable", () => {
    expect(normalisedWeights([{ weight: 1 }, { weight: 3 }])).toEqual([0.25, 0.75]);
    expect(normalisedWeights([{ weight: 0 }, { weight: 0 }])).toBeUndefined();
    expect(normalisedWeights([{ weight: -1 }, { weight: 2 }])).toBeUndefined();
    expect(normalisedWeights([{ weight: Number.NaN }, { weight: 1 }])).toBeUndefined();
    const s = share(def({ variants: [{ key: "a", weight: 0 }, { key: "b", weight: 0 }] }), 20_000);
    expect(Math.abs(s("a") - 0.5)).toBeLessThan(0.02);
  });

  it("never enrols anyone in a variant of weight 0", () => {
    const s = share(def({ variants: [{ key: "a", weight: 0 }, { key: "b", weight: 1 }] }), 20_000);
    expect(s("a")).toBe(0);
    expect(s("b")).toBe(1);
  });

  it("enrols nobody when there are fewer than two variants", () => {
    expect(reasonOf(assignVariant(def({ variants: [{ key: "only", weight: 1 }] }), user("u1")))).toBe("coverage");
  });
});

describe("coverage", () => {
  it("enrols the covered share of users and reports the rest as coverage", () => {
    const ids = users(100_000);
    const outcomes = ids.map((id) => assignVariant(def({ coverage: 0.25 }), user(id)));
    const enrolled = outcomes.filter((a) => a.inExperiment).length / ids.length;
    expect(Math.abs(enrolled - 0.25)).toBeLessThan(0.01);
    expect(outcomes.every((a) => a.inExperiment || a.reason === "coverage")).toBe(true);
    const control = outcomes.filter((a) => variantOf(a) === "control").length / ids.length;
    expect(Math.abs(control - 0.125)).toBeLessThan(0.01);
  });

  it("enrols nobody at 0 and everybody at 1", () => {
    for (const id of users(2000)) {
      expect(reasonOf(assignVariant(def({ coverage: 0 }), user(id)))).toBe("coverage");
      expect(assignVariant(def({ coverage: 1 }), user(id)).inExperiment).toBe(true);
    }
  });

  it("only adds users when coverage is raised: nobody already enrolled changes variant", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.string({ minLength: 1 }), (a, b, id) => {
        const [low, high] = a < b ? [a, b] : [b, a];
        const before = assignVariant(def({ coverage: low }), user(id));
        if (before.inExperiment) expect(variantOf(assignVariant(def({ coverage: high }), user(id)))).toBe(before.variant);
      }),
    );
  });
});

describe("namespaces", () => {
  it("keeps experiments with disjoint ranges of one namespace from sharing a user", () => {
    const namespace = { id: "search-surface", start: 0, end: 0.5 };
    const left = def({ key: "left", seed: "left", namespace });
    const right = def({ key: "right", seed: "right", namespace: { ...namespace, start: 0.5, end: 1 } });
    let inLeft = 0;
    let inRight = 0;
    const ids = users(50_000);
    for (const id of ids) {
      const [l, r] = assignAll([left, right], user(id));
      expect(l!.inExperiment && r!.inExperiment).toBe(false);
      // Full coverage inside the namespace: every user is in exactly one of the two.
      expect(l!.inExperiment || r!.inExperiment).toBe(true);
      if (l!.inExperiment) inLeft++;
      else expect(reasonOf(l!)).toBe("namespace");
      if (r!.inExperiment) inRight++;
    }
    expect(Math.abs(inLeft / ids.length - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(inRight / ids.length - 0.5)).toBeLessThan(0.02);
  });

  it("lets experiments in different namespaces overlap independently", () => {
    const a = def({ key: "a", seed: "a", namespace: { id: "ns-a", start: 0, end: 0.5 } });
    const b = def({ key: "b", seed: "b", namespace: { id: "ns-b", start: 0, end: 0.5 } });
    const ids = users(40_000);
    const both = ids.filter((id) => assignAll([a, b], user(id)).every((x) => x.inExperiment)).length / ids.length;
    expect(Math.abs(both - 0.25)).toBeLessThan(0.015);
  });
});

describe("targeting", () => {
  const attrs = { country: "DE", device: "mobile", age: 34, returning: true, locale: "de-DE", custom: { segment: "power" } };
  const passes = (rule: TargetingRule, attributes: Record<string, unknown> = attrs) => assignVariant(def({ targeting: [rule] }), user("u1", attributes)).inExperiment;

  it.each<[TargetingRule, boolean]>([
    [{ attribute: "country", op: "eq", value: "DE" }, true],
    [{ attribute: "country", op: "eq", value: "de" }, false],
    [{ attribute: "age", op: "eq", value: "34" }, false], // strict: a string never equals a number
    [{ attribute: "country", op: "neq", value: "US" }, true],
    [{ attribute: "country", op: "neq", value: "DE" }, false],
    [{ attribute: "country", op: "in", value: ["DE", "AT"] }, true],
    [{ attribute: "country", op: "in", value: ["US"] }, false],
    [{ attribute: "country", op: "in", value: "DE" }, false], // a non-list never matches
    [{ attribute: "country", op: "nin", value: ["US", "FR"] }, true],
    [{ attribute: "country", op: "nin", value: ["DE"] }, false],
    [{ attribute: "age", op: "gt", value: 33 }, true],
    [{ attribute: "age", op: "gt", value: 34 }, false],
    [{ attribute: "age", op: "gte", value: 34 }, true],
    [{ attribute: "age", op: "lt", value: 35 }, true],
    [{ attribute: "age", op: "lt", value: 34 }, false],
    [{ attribute: "age", op: "lte", value: 34 }, true],
    [{ attribute: "returning", op: "exists" }, true],
    [{ attribute: "returning", op: "exists", value: true }, true],
    [{ attribute: "returning", op: "exists", value: false }, false],
    [{ attribute: "referrer", op: "exists", value: false }, true],
    [{ attribute: "referrer", op: "exists" }, false],
    [{ attribute: "locale", op: "regex", value: "^de-" }, true],
    [{ attribute: "locale", op: "regex", value: "^en-" }, false],
    [{ attribute: "locale", op: "regex", value: "([" }, false], // an invalid pattern matches nobody
    [{ attribute: "custom.segment", op: "eq", value: "power" }, true],
    [{ attribute: "custom.segment", op: "eq", value: "casual" }, false],
  ])("%o → %s", (rule, expected) => {
    expect(passes(rule)).toBe(expected);
  });

  it("excludes users missing the attribute from comparisons, with reason targeting", () => {
    expect(passes({ attribute: "age", op: "gte", value: 18 }, {})).toBe(false);
    expect(reasonOf(assignVariant(def({ targeting: [{ attribute: "country", op: "eq", value: "DE" }] }), user("u1", {})))).toBe("targeting");
  });

  it("requires every rule, also several on one attribute", () => {
    const adults = def({
      targeting: [
        { attribute: "age", op: "gte", value: 18 },
        { attribute: "age", op: "lt", value: 65 },
        { attribute: "device", op: "eq", value: "mobile" },
      ],
    });
    expect(assignVariant(adults, user("u1", { age: 30, device: "mobile" })).inExperiment).toBe(true);
    expect(assignVariant(adults, user("u1", { age: 70, device: "mobile" })).inExperiment).toBe(false);
    expect(assignVariant(adults, user("u1", { age: 10, device: "mobile" })).inExperiment).toBe(false);
    expect(assignVariant(adults, user("u1", { age: 30, device: "desktop" })).inExperiment).toBe(false);
  });

  it("does not change which variant a targeted user gets", () => {
    for (const id of users(500)) {
      const plain = assignVariant(def(), user(id, attrs));
      expect(assignVariant(def({ targeting: [{ attribute: "country", op: "eq", value: "DE" }] }), user(id, attrs))).toEqual(plain);
    }
  });

  it("converts rules to one GrowthBook $and condition", () => {
    expect(
      targetingCondition([
        { attribute: "age", op: "gte", value: 18 },
        { attribute: "age", op: "lt", value: 65 },
        { attribute: "returning", op: "exists" },
      ]),
    ).toEqual({ $and: [{ age: { $gte: 18 } }, { age: { $lt: 65 } }, { returning: { $exists: true } }] });
  });

  it("checks the namespace before targeting, as GrowthBook does", () => {
    const d = def({ namespace: { id: "ns", start: 0, end: 0.5 }, targeting: [{ attribute: "country", op: "eq", value: "US" }] });
    const reasons = new Set(users(2000).map((id) => reasonOf(assignVariant(d, user(id, { country: "DE" })))));
    expect(reasons).toEqual(new Set(["namespace", "targeting"]));
  });
});

describe("assignAll", () => {
  it("returns one assignment per experiment, in order, each as assigned alone", () => {
    const defs = [def({ key: "a", seed: "a" }), def({ key: "b", seed: "b", coverage: 0 }), def({ key: "c", seed: "c", hashAttribute: "sessionKey" })];
    const ctx = { userKey: "u1", attributes: {} };
    const all = assignAll(defs, ctx);
    expect(all.map((a) => a.experiment)).toEqual(["a", "b", "c"]);
    expect(all).toEqual(defs.map((d) => assignVariant(d, ctx)));
    expect(all.map(reasonOf)).toEqual([null, "coverage", "no_hash_attribute"]);
  });
});
