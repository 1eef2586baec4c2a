import { describe, expect, it } from "vitest";
import { evalCondition } from "./condition";
import { targetingCondition, type TargetingRule } from "./assign";
import { targetingRuleProblem } from "./targetingRules";

// Break test: rules that can never match were accepted, and silently enrolled nobody.

describe("targetingRuleProblem", () => {
  it.each<[string, Pick<TargetingRule, "op" | "value">, RegExp]>([
    ["an invalid pattern", { op: "regex", value: "(" }, /not a pattern RE2 accepts.*missing closing/],
    ["a backreference (RE2 has none)", { op: "regex", value: "^(a)\\1$" }, /not a pattern RE2 accepts.*invalid escape/],
    ["lookaround", { op: "regex", value: "(?=a)" }, /not a pattern RE2 accepts/],
    ["a pattern that is not a string", { op: "regex", value: 5 }, /needs a pattern \(a string\), not the number 5/],
    ["in without a list", { op: "in", value: "US" }, /"in" needs a list of values.*not the string "US"/],
    ["nin without a list", { op: "nin", value: 3 }, /"nin" needs a list/],
    ["in an empty list", { op: "in", value: [] }, /matches nobody/],
    ["in a list of lists", { op: "in", value: [["US"]] }, /not lists or objects/],
    ["gt an object", { op: "gt", value: { a: 1 } }, /"gt" compares with a number or a string, not an object/],
    ["lte a boolean", { op: "lte", value: true }, /"lte" compares with a number or a string/],
    ["eq without a value", { op: "eq" }, /"eq" needs a value/],
    ["neq a list", { op: "neq", value: ["a"] }, /never equals an attribute/],
    ["exists with a string", { op: "exists", value: "no" }, /"exists" takes no value \(present\) or a boolean/],
  ])("refuses %s, naming the value", (_name, rule, message) => {
    const problem = targetingRuleProblem(rule);
    expect(problem?.field).toBe("value");
    expect(problem?.message).toMatch(message);
  });

  it("refuses an unknown operator, naming op", () => {
    expect(targetingRuleProblem({ op: "like" as TargetingRule["op"], value: "x" })).toMatchObject({ field: "op" });
  });

  it.each<Pick<TargetingRule, "op" | "value">>([
    { op: "regex", value: "^en-(US|GB)$" }, { op: "regex", value: "^(a+)+$" }, { op: "in", value: ["US", "CA"] }, { op: "nin", value: [] },
    { op: "gt", value: 3 }, { op: "gte", value: "2024" }, { op: "eq", value: "US" }, { op: "eq", value: false }, { op: "neq", value: null },
    { op: "exists" }, { op: "exists", value: false },
  ])("accepts %o", (rule) => {
    expect(targetingRuleProblem(rule)).toBeNull();
  });

  it("what it refuses could never match, and what it accepts can (checked on the serving path's evaluator)", () => {
    const matches = (rule: TargetingRule, attributes: Record<string, unknown>) => evalCondition(attributes, targetingCondition([rule]));
    expect(matches({ attribute: "a", op: "regex", value: "^(a)\\1$" }, { a: "aa" })).toBe(false);
    expect(matches({ attribute: "a", op: "in", value: "US" }, { a: "US" })).toBe(false);
    expect(matches({ attribute: "a", op: "regex", value: "^en" }, { a: "en-GB" })).toBe(true);
    expect(matches({ attribute: "a", op: "in", value: ["US"] }, { a: "US" })).toBe(true);
  });
});
