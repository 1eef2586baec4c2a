// GrowthBook targeting conditions: a Mongo-style query over a user's attributes. This follows the
// JavaScript SDK (@growthbook/growthbook 1.8.0) rule for rule, including its loose JavaScript
// coercions ("8" > 5, a string condition matching `value + ""`), because an experiment must target
// the same users here as in GrowthBook. fixtures/growthbook-cases.json pins the behaviour.

import { RE2JS } from "re2js";

/** A condition: keys are attribute paths ("a.b.c") or the operators $and/$or/$nor/$not/$savedGroup. */
export type Condition = { readonly [pathOrOperator: string]: unknown };

/**
 * A saved group: a bare list of values (the original format), a list bound to an attribute, or a
 * reusable condition. `$inGroup`/`$notInGroup` take lists; `$savedGroup` takes any of them.
 */
export type SavedGroup =
  | readonly unknown[]
  | { readonly type: "list"; readonly attributeKey?: string; readonly values: readonly unknown[] }
  | { readonly type: "condition"; readonly condition: Condition };

export type SavedGroups = { readonly [groupId: string]: SavedGroup };

/** Saved-group ids being resolved on this path, to stop a group that refers to itself. */
type Visiting = ReadonlySet<string> | null;

const NO_GROUPS: SavedGroups = {};

/**
 * True when `attributes` satisfy `condition`. An empty condition matches everyone. Never throws:
 * where the SDK would throw (an attribute JavaScript cannot coerce, such as an object without a
 * prototype), the condition fails, so one odd request cannot break assignment.
 */
export function evalCondition(attributes: unknown, condition: Condition, savedGroups: SavedGroups = NO_GROUPS): boolean {
  try {
    return evaluate(attributes, condition, savedGroups, null);
  } catch {
    return false;
  }
}

function evaluate(attributes: unknown, condition: Condition, groups: SavedGroups, visiting: Visiting): boolean {
  // for..in with an own-key check walks the keys without allocating an array: this runs per request.
  for (const key in condition) {
    if (!Object.hasOwn(condition, key)) continue;
    const arg = condition[key];
    switch (key) {
      case "$or":
        if (!anyMatches(attributes, arg, groups, visiting)) return false;
        break;
      case "$nor":
        if (anyMatches(attributes, arg, groups, visiting)) return false;
        break;
      case "$and":
        if (!allMatch(attributes, arg, groups, visiting)) return false;
        break;
      case "$not":
        if (evaluate(attributes, asCondition(arg), groups, visiting)) return false;
        break;
      case "$savedGroup":
        if (!inSavedGroup(attributes, arg, groups, visiting)) return false;
        break;
      default:
        if (!matchesValue(arg, getPath(attributes, key), groups, false, visiting)) return false;
    }
  }
  return true;
}

// An empty $or passes (so $nor: [] fails), as in the SDK.
function anyMatches(attributes: unknown, conditions: unknown, groups: SavedGroups, visiting: Visiting): boolean {
  if (!Array.isArray(conditions) || conditions.length === 0) return true;
  for (const c of conditions) if (evaluate(attributes, asCondition(c), groups, visiting)) return true;
  return false;
}

function allMatch(attributes: unknown, conditions: unknown, groups: SavedGroups, visiting: Visiting): boolean {
  if (!Array.isArray(conditions)) return true;
  for (const c of conditions) if (!evaluate(attributes, asCondition(c), groups, visiting)) return false;
  return true;
}

const EMPTY: Condition = {};

// What the SDK's Object.entries() makes of a malformed sub-condition: a string becomes its
// characters by index, other primitives an empty condition; null throws (caught in evalCondition).
function asCondition(value: unknown): Condition {
  if (typeof value === "object" && value !== null) return value as Condition;
  if (typeof value === "string") return Object.fromEntries(Object.entries(value));
  if (value === null || value === undefined) throw new TypeError("condition is null");
  return EMPTY;
}

function savedGroup(groups: SavedGroups, id: unknown): unknown {
  const key = String(id);
  return Object.hasOwn(groups, key) ? groups[key] : undefined;
}

// `$savedGroup: { id, attributeKey? }`. Anything malformed or unknown matches nobody.
function inSavedGroup(attributes: unknown, reference: unknown, groups: SavedGroups, visiting: Visiting): boolean {
  if (!isObject(reference) || Array.isArray(reference)) return false;
  const { id, attributeKey } = reference;
  if (typeof id !== "string" || visiting?.has(id)) return false;
  if (attributeKey !== undefined && typeof attributeKey !== "string") return false;
  const entry = savedGroup(groups, id);
  if (!isObject(entry) || Array.isArray(entry)) return false;
  if (entry.type === "list") {
    // The reference's attribute overrides the group's own.
    const path = attributeKey ?? entry.attributeKey;
    return typeof path === "string" && Array.isArray(entry.values) && isIn(getPath(attributes, path), entry.values, false);
  }
  if (entry.type === "condition") {
    if (!isObject(entry.condition)) return false;
    return evaluate(attributes, entry.condition, groups, new Set(visiting).add(id));
  }
  return false; // a group type newer than this code
}

// The values behind $inGroup/$notInGroup: an unknown id is an empty list, but a malformed entry
// or a condition group gives null, which fails both operators (else $notInGroup would pass everyone).
function groupValues(groups: SavedGroups, id: unknown): readonly unknown[] | null {
  const entry = savedGroup(groups, id);
  if (entry === undefined) return [];
  if (Array.isArray(entry)) return entry;
  if (isObject(entry) && entry.type === "list") return Array.isArray(entry.values) ? entry.values : null;
  return null;
}

/**
 * The value at a dot-separated path, or null when any step is missing. Steps use `in`, like the
 * SDK, so array properties such as "tags.length" resolve too.
 */
export function getPath(attributes: unknown, path: string): unknown {
  let current = attributes;
  let start = 0;
  // Walk the path by index rather than split(".") to keep the per-request path allocation-free.
  for (;;) {
    const dot = path.indexOf(".", start);
    const step = dot < 0 ? (start === 0 ? path : path.slice(start)) : path.slice(start, dot);
    if (current === null || typeof current !== "object" || !(step in current)) return null;
    current = (current as Record<string, unknown>)[step];
    if (dot < 0) return current;
    start = dot + 1;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

// An object whose keys all start with "$" is a set of operators; any other object is a literal.
function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value) || Array.isArray(value)) return false;
  let keys = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (key.charCodeAt(0) !== 36 /* $ */) return false;
    keys++;
  }
  return keys > 0;
}

function matchesValue(condition: unknown, actual: unknown, groups: SavedGroups, insensitive: boolean, visiting: Visiting): boolean {
  // Literals compare with the SDK's coercions: strings against `actual + ""`, numbers against
  // `actual * 1`, booleans by truthiness (except null).
  if (typeof condition === "string") {
    return insensitive ? String(actual).toLowerCase() === condition.toLowerCase() : String(actual) === condition;
  }
  if (typeof condition === "number") return Number(actual) === condition;
  if (typeof condition === "boolean") return actual !== null && Boolean(actual) === condition;
  if (condition === null) return actual === null;
  if (!isOperatorObject(condition)) {
    // Arrays and plain objects are literals, equal when their JSON is.
    return isObject(condition) && JSON.stringify(actual) === JSON.stringify(condition);
  }
  for (const op in condition) {
    if (Object.hasOwn(condition, op) && !matchesOperator(op, actual, condition[op], groups, visiting)) return false;
  }
  return true;
}

function matchesOperator(op: string, actual: unknown, expected: unknown, groups: SavedGroups, visiting: Visiting): boolean {
  // The relational operators rely on JavaScript's own comparison (with its string/number
  // coercion) because that is what the SDK does; the casts only satisfy the type checker.
  const a = actual as number;
  const e = expected as number;
  switch (op) {
    case "$eq":
      return actual === expected;
    case "$ne":
      return actual !== expected;
    case "$lt":
      return a < e;
    case "$lte":
      return a <= e;
    case "$gt":
      return a > e;
    case "$gte":
      return a >= e;
    case "$exists":
      return expected ? actual !== null && actual !== undefined : actual === null || actual === undefined;
    case "$in":
      return Array.isArray(expected) && isIn(actual, expected, false);
    case "$nin":
      return Array.isArray(expected) && !isIn(actual, expected, false);
    case "$ini":
      return Array.isArray(expected) && isIn(actual, expected, true);
    case "$nini":
      return Array.isArray(expected) && !isIn(actual, expected, true);
    case "$inGroup": {
      const values = groupValues(groups, expected);
      return values !== null && isIn(actual, values, false);
    }
    case "$notInGroup": {
      const values = groupValues(groups, expected);
      return values !== null && !isIn(actual, values, false);
    }
    case "$not":
      return !matchesValue(expected, actual, groups, false, visiting);
    case "$size":
      return Array.isArray(actual) && matchesValue(expected, actual.length, groups, false, visiting);
    case "$elemMatch":
      return elemMatch(actual, expected, groups, visiting);
    case "$all":
      return Array.isArray(expected) && containsAll(actual, expected, groups, false, visiting);
    case "$alli":
      return Array.isArray(expected) && containsAll(actual, expected, groups, true, visiting);
    case "$regex":
      return testRegex(expected, actual, false);
    case "$regexi":
      return testRegex(expected, actual, true);
    case "$type":
      return typeName(actual) === expected;
    case "$veq":
      return paddedVersion(actual) === paddedVersion(expected);
    case "$vne":
      return paddedVersion(actual) !== paddedVersion(expected);
    case "$vgt":
      return paddedVersion(actual) > paddedVersion(expected);
    case "$vgte":
      return paddedVersion(actual) >= paddedVersion(expected);
    case "$vlt":
      return paddedVersion(actual) < paddedVersion(expected);
    case "$vlte":
      return paddedVersion(actual) <= paddedVersion(expected);
    default:
      // An unknown operator never matches, so a typo excludes users rather than including everyone.
      return false;
  }
}

const caseFold = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : v);

// An array attribute is "in" the list when any of its elements is (an intersection test).
function isIn(actual: unknown, expected: readonly unknown[], insensitive: boolean): boolean {
  if (insensitive) {
    if (Array.isArray(actual)) return actual.some((el) => expected.some((x) => caseFold(el) === caseFold(x)));
    return expected.some((x) => caseFold(actual) === caseFold(x));
  }
  if (Array.isArray(actual)) return actual.some((el) => expected.includes(el));
  return expected.includes(actual);
}

function containsAll(actual: unknown, expected: readonly unknown[], groups: SavedGroups, insensitive: boolean, visiting: Visiting): boolean {
  if (!Array.isArray(actual)) return false;
  return expected.every((x) => actual.some((el) => matchesValue(x, el, groups, insensitive, visiting)));
}

// Null and undefined elements are skipped; other falsy ones (0, "", false) are tested.
function elemMatch(actual: unknown, expected: unknown, groups: SavedGroups, visiting: Visiting): boolean {
  if (!Array.isArray(actual)) return false;
  const operators = isOperatorObject(expected);
  for (const el of actual) {
    if (el === null || el === undefined) continue;
    if (operators ? matchesValue(expected, el, groups, false, visiting) : evaluate(el, asCondition(expected), groups, visiting)) return true;
  }
  return false;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  return t === "string" || t === "number" || t === "boolean" || t === "object" || t === "undefined" ? t : "unknown";
}

// Targeting patterns run on RE2's semantics (re2js, a port of Google's RE2): matching is linear in
// the input, so a pattern such as ^(a+)+$ cannot stall the serving path on a crafted attribute
// (a backtracking RegExp takes seconds on 31 a's and a b, doubling with each extra character).
// Patterns RE2 does not support (backreferences, lookaround) are invalid and match nobody.
// Compiled patterns are kept because the same few targeting patterns are tested on every request,
// bounded so that a stream of distinct patterns cannot grow memory without limit.
const regexCache = new Map<string, RE2JS | null>();
const REGEX_CACHE_LIMIT = 1000;

function testRegex(pattern: unknown, actual: unknown, insensitive: boolean): boolean {
  if (typeof pattern !== "string") return false;
  const cacheKey = insensitive ? `i:${pattern}` : `s:${pattern}`;
  let regex = regexCache.get(cacheKey);
  if (regex === undefined) {
    try {
      regex = RE2JS.compile(pattern, insensitive ? RE2JS.CASE_INSENSITIVE : 0);
    } catch {
      regex = null; // an invalid pattern matches nobody
    }
    if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
    regexCache.set(cacheKey, regex);
  }
  if (regex === null) return false;
  // Like RegExp#test, the value is stringified, so a missing attribute is tested as "null". A value
  // that cannot be stringified fails only this operator (the SDK catches here), so a surrounding $not holds.
  try {
    return regex.test(String(actual));
  } catch {
    return false;
  }
}

/**
 * A version string rewritten so plain string comparison orders versions: drop a leading "v" and
 * any "+build", split on "." and "-", pad numeric parts, and mark releases with "~" (the highest
 * printable ASCII) so "1.0.0" sorts above "1.0.0-rc.1".
 */
export function paddedVersion(input: unknown): string {
  const text = typeof input === "number" ? String(input) : typeof input === "string" && input ? input : "0";
  const parts = text.replace(/^v|\+.*$/g, "").split(/[-.]/);
  if (parts.length === 3) parts.push("~");
  return parts.map((p) => (/^[0-9]+$/.test(p) ? p.padStart(5, " ") : p)).join("-");
}
