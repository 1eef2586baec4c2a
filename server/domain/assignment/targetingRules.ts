// Whether a targeting rule can ever match, checked when an experiment is defined: a rule that cannot
// (an invalid or unsupported pattern, a list operator without a list) would enrol nobody, silently.
// The rules are evaluated by condition.ts (GrowthBook's operators; patterns on RE2 via re2js), so the
// checks here follow what it does with each value.

import { RE2JS } from "re2js";
import type { TargetingRule } from "./assign";

/** What is wrong with a rule, and in which of its fields: "value" or "op". */
export interface TargetingRuleProblem {
  field: "value" | "op";
  message: string;
}

const describe = (value: unknown) => (value === undefined ? "no value" : value === null ? "null" : Array.isArray(value) ? "a list" : typeof value === "object" ? "an object" : `the ${typeof value} ${JSON.stringify(value)}`);
const isScalar = (value: unknown) => value === null || ["string", "number", "boolean"].includes(typeof value);

/**
 * Why `rule` can never match a request, or null when it can.
 * - regex: a string pattern that RE2 (re2js) compiles; backreferences and lookaround are refused, as RE2 refuses them;
 * - in, nin: a list of scalars (strings, numbers, booleans, null); not empty for in (it would match nobody);
 * - gt, gte, lt, lte: a string or a number (compared as the request's attribute is);
 * - eq, neq: a scalar, present (an object or a list never equals an attribute);
 * - exists: no value (present), or a boolean (false: must be absent).
 * @param rule a targeting rule as the form sends it (`value` unchecked JSON).
 * @returns { field, message } naming the rule's field at fault, or null.
 */
export function targetingRuleProblem(rule: Pick<TargetingRule, "op" | "value">): TargetingRuleProblem | null {
  const { op, value } = rule;
  switch (op) {
    case "regex": {
      if (typeof value !== "string") return { field: "value", message: `a regex needs a pattern (a string), not ${describe(value)}` };
      try {
        RE2JS.compile(value);
      } catch (error) {
        return { field: "value", message: `not a pattern RE2 accepts (${(error as Error).message}); targeting patterns run on RE2, which has no backreferences or lookaround` };
      }
      return null;
    }
    case "in":
    case "nin":
      if (!Array.isArray(value)) return { field: "value", message: `"${op}" needs a list of values (["US", "CA"]), not ${describe(value)}` };
      if (!value.every(isScalar)) return { field: "value", message: `"${op}" compares an attribute with each value of its list: strings, numbers, booleans or null, not lists or objects` };
      if (op === "in" && value.length === 0) return { field: "value", message: '"in" an empty list matches nobody' };
      return null;
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      if (typeof value !== "string" && typeof value !== "number") return { field: "value", message: `"${op}" compares with a number or a string, not ${describe(value)}` };
      return null;
    case "eq":
    case "neq":
      if (value === undefined) return { field: "value", message: `"${op}" needs a value to compare with` };
      if (!isScalar(value)) return { field: "value", message: `"${op}" compares with a string, a number, a boolean or null: ${describe(value)} never equals an attribute` };
      return null;
    case "exists":
      if (value !== undefined && typeof value !== "boolean") return { field: "value", message: `"exists" takes no value (present) or a boolean (false: absent), not ${describe(value)}` };
      return null;
    default:
      return { field: "op", message: `unknown operator "${String(op)}"` };
  }
}
