import { describe, expect, it } from "vitest";
import { describeZodError } from "../validation";
import { experimentInputSchema } from "./schema";

// Break test (experiments levers): definitions that were accepted and then served or judged nothing.
// Each is refused with the field named (a 400 at the router).

const base = {
  key: "exp-schema", name: "An experiment", surface: "search", owner: "pm@rerank.local",
  variants: [
    { key: "control", name: "v1", weight: 0.5, isControl: true, modelAlias: "fallback" },
    { key: "treatment", name: "v2", weight: 0.5, modelAlias: "production" },
  ],
};

const refusal = (input: Record<string, unknown>) => {
  const parsed = experimentInputSchema.safeParse({ ...base, ...input });
  return parsed.success ? "accepted" : describeZodError(parsed.error);
};

describe("experimentInputSchema", () => {
  it("accepts the base definition", () => expect(refusal({})).toBe("accepted"));

  it("refuses p95 latency as the primary (or a secondary) metric; it stays a guardrail", () => {
    expect(refusal({ primaryMetric: "latency_p95" })).toMatch(/^primaryMetric: latency_p95 is judged as a guardrail only/);
    expect(refusal({ secondaryMetrics: ["ndcg", "latency_p95"] })).toMatch(/^secondaryMetrics\[1\]: latency_p95 is judged as a guardrail only/);
    expect(refusal({ guardrails: [{ metric: "latency_p95", direction: "increase", threshold: 0.2 }] })).toBe("accepted");
  });

  it.each([
    [{ op: "regex", value: "(" }, /^targeting\[0\]\.value: not a pattern RE2 accepts/],
    [{ op: "regex", value: "^(a)\\1$" }, /^targeting\[0\]\.value: not a pattern RE2 accepts/],
    [{ op: "regex", value: 5 }, /^targeting\[0\]\.value: a regex needs a pattern/],
    [{ op: "in", value: "US" }, /^targeting\[0\]\.value: "in" needs a list/],
    [{ op: "gt", value: { a: 1 } }, /^targeting\[0\]\.value: "gt" compares with a number or a string/],
    [{ op: "eq" }, /^targeting\[0\]\.value: "eq" needs a value/],
    [{ op: "exists", value: "no" }, /^targeting\[0\]\.value: "exists" takes no value/],
  ])("refuses the targeting rule %o naming targeting[i].value", (rule, message) => {
    expect(refusal({ targeting: [{ attribute: "country", ...rule }] })).toMatch(message);
  });

  it("refuses coverage 0, a variant of weight 0, and a variant with both an alias and a version", () => {
    expect(refusal({ coverage: 0 })).toMatch(/^coverage: must be above 0/);
    expect(refusal({ variants: [{ ...base.variants[0], weight: 1 }, { ...base.variants[1], weight: 0 }] })).toMatch(/^variants\[1\]\.weight: must be above 0/);
    expect(refusal({ variants: [base.variants[0], { ...base.variants[1], modelVersionId: "v-1" }] })).toMatch(/^variants\[1\]\.modelVersionId: a variant serves a model alias or a pinned version, not both/);
  });

  it("refuses duplicate secondary metrics, the primary among them, and two guardrails on one metric and direction", () => {
    expect(refusal({ secondaryMetrics: ["ndcg", "mrr", "ndcg"] })).toMatch(/^secondaryMetrics\[2\]: ndcg is listed twice/);
    expect(refusal({ secondaryMetrics: ["ctr"] })).toMatch(/^secondaryMetrics\[0\]: ctr is the primary metric/);
    expect(refusal({ guardrails: [{ metric: "ctr", direction: "decrease", threshold: 0.1 }, { metric: "ctr", direction: "decrease", threshold: 0.2 }] })).toMatch(/^guardrails\[1\]: another guardrail already guards ctr against a decrease/);
  });

  it("refuses a name, owner or variant name with no visible character", () => {
    expect(refusal({ owner: "   " })).toMatch(/^owner: must have a visible character/);
    expect(refusal({ name: "\u200b" })).toMatch(/^name: must have a visible character/);
    expect(refusal({ variants: [base.variants[0], { ...base.variants[1], name: "\u3164" }] })).toMatch(/^variants\[1\]\.name: must have a visible character/);
  });

  it("refuses a guardrail on its metric's improvement, naming guardrails[i].direction", () => {
    expect(refusal({ guardrails: [{ metric: "ctr", direction: "increase", threshold: 0.1 }] })).toMatch(/^guardrails\[0\]\.direction: ctr gets worse when it falls/);
    expect(refusal({ guardrails: [{ metric: "latency_p95", direction: "decrease", threshold: 0.1 }] })).toMatch(/^guardrails\[0\]\.direction: latency_p95 gets worse when it rises/);
    expect(refusal({ guardrails: [{ metric: "fallback_rate", direction: "decrease", threshold: 0.1 }] })).toMatch(/^guardrails\[0\]\.direction: /);
    expect(refusal({ guardrails: [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }, { metric: "conversion", direction: "decrease", threshold: 0.1 }] })).toBe("accepted");
  });

  it("refuses guardrails and secondary metrics on an interleaving experiment (it is judged by credited clicks only)", () => {
    expect(refusal({ kind: "interleaving", guardrails: [{ metric: "latency_p95", direction: "increase", threshold: 0.2 }] })).toMatch(/^guardrails: an interleaving experiment is judged by credited clicks only/);
    expect(refusal({ kind: "interleaving", secondaryMetrics: ["ndcg"] })).toMatch(/^secondaryMetrics: an interleaving experiment/);
    expect(refusal({ kind: "interleaving" })).toBe("accepted");
  });
});
