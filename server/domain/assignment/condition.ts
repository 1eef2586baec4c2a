// GrowthBook targeting conditions: a Mongo-style query over a user's attributes. This follows the
// SDKs' evaluation rule for rule, including their loose JavaScript coercions ("8" > 5, a string
// condition matching `value + ""`), because an experiment must target the same users here as in
// any GrowthBook SDK. The conformance cases in fixtures/growthbook-cases.json pin the behaviour.

/** A condition: keys are attribute paths ("a.b.c") or the logical operators $and/$or/$nor/$not. */
export type Condition = { readonly [pathOrOperator: string]: unknown };

/** Saved groups by id: lists of attribute values that `$inGroup` / `$notInGroup` test against. */
export type SavedGroups = { readonly [groupId: string]: readonly unknown[] };

const NO_GROUPS: SavedGroups = {};

/**
 * True when `attributes` satisfy `condition`. An empty condition matches everyone. Never throws:
 * where the SDKs would throw (an attribute JavaScript cannot coerce, such as an object without a
 * prototype), the condition fails, so one odd request cannot break assignment.
 */
export function evalCondition(attributes: unknown, condition: Condition, savedGroups: SavedGroups = NO_GROUPS): boolean {
  try {
    return evaluate(attributes, condition, savedGroups);
  } catch {
    return false;
  }
}

function evaluate(attributes: unknown, condition: Condition, savedGroups: SavedGroups): boolean {
  // for..in with an own-key check walks the keys without allocating an array: this runs per request.
  for (const key in condition) {
    if (!Object.hasOwn(condition, key)) continue;
    const arg = condition[key];
    switch (key) {
      case "$or":
        if (!anyMatches(attributes, arg, savedGroups)) return false;
        break;
      case "$nor":
        if (anyMatches(attributes, arg, savedGroups)) return false;
        break;
      case "$and":
        if (!allMatch(attributes, arg, savedGroups)) return false;
        break;
      case "$not":
        if (isObject(arg) && evaluate(attributes, arg, savedGroups)) return false;
        break;
      default:
        if (!matchesValue(arg, getPath(attributes, key), savedGroups, false)) return false;
    }
  }
  return true;
}

// An empty $or passes (so $nor: [] fails), as in the SDKs. A non-object entry acts as an empty
// condition, which is what the SDKs' Object.entries() makes of it.
function anyMatches(attributes: unknown, conditions: unknown, savedGroups: SavedGroups): boolean {
  if (!Array.isArray(conditions) || conditions.length === 0) return true;
  for (const c of conditions) if (!isObject(c) || evaluate(attributes, c, savedGroups)) return true;
  return false;
}

function allMatch(attributes: unknown, conditions: unknown, savedGroups: SavedGroups): boolean {
  if (!Array.isArray(conditions)) return true;
  for (const c of conditions) if (isObject(c) && !evaluate(attributes, c, savedGroups)) return false;
  return true;
}

/**
 * The value at a dot-separated path, or null when any step is missing. Steps use `in`, like the
 * SDKs, so array properties such as "tags.length" resolve too.
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

function matchesValue(condition: unknown, actual: unknown, savedGroups: SavedGroups, insensitive: boolean): boolean {
  // Literals compare with the SDKs' coercions: strings against `actual + ""`, numbers against
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
    if (Object.hasOwn(condition, op) && !matchesOperator(op, actual, condition[op], savedGroups)) return false;
  }
  return true;
}

function matchesOperator(op: string, actual: unknown, expected: unknown, savedGroups: SavedGroups): boolean {
  // The relational operators rely on JavaScript's own comparison (with its string/number
  // coercion) because that is what the SDKs do; the casts only satisfy the type checker.
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
    case "$inGroup":
      return isIn(actual, groupMembers(savedGroups, expected), false);
    case "$notInGroup":
      return !isIn(actual, groupMembers(savedGroups, expected), false);
    case "$not":
      return !matchesValue(expected, actual, savedGroups, false);
    case "$size":
      return Array.isArray(actual) && matchesValue(expected, actual.length, savedGroups, false);
    case "$elemMatch":
      return elemMatch(actual, expected, savedGroups);
    case "$all":
      return Array.isArray(expected) && containsAll(actual, expected, savedGroups, false);
    case "$alli":
      return Array.isArray(expected) && containsAll(actual, expected, savedGroups, true);
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

function groupMembers(savedGroups: SavedGroups, groupId: unknown): readonly unknown[] {
  return typeof groupId === "string" && Object.hasOwn(savedGroups, groupId) ? (savedGroups[groupId] ?? []) : [];
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

function containsAll(actual: unknown, expected: readonly unknown[], savedGroups: SavedGroups, insensitive: boolean): boolean {
  if (!Array.isArray(actual)) return false;
  return expected.every((x) => actual.some((el) => matchesValue(x, el, savedGroups, insensitive)));
}

// Falsy elements (0, "", null) never match, as in the SDKs.
function elemMatch(actual: unknown, expected: unknown, savedGroups: SavedGroups): boolean {
  if (!Array.isArray(actual)) return false;
  const operators = isOperatorObject(expected);
  for (const el of actual) {
    if (!el) continue;
    if (operators ? matchesValue(expected, el, savedGroups, false) : isObject(expected) && evaluate(el, expected, savedGroups)) return true;
  }
  return false;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  return t === "string" || t === "number" || t === "boolean" || t === "object" || t === "undefined" ? t : "unknown";
}

// Compiled patterns, kept because the same few targeting patterns are tested on every request.
// Bounded so that a stream of distinct patterns cannot grow memory without limit.
const regexCache = new Map<string, RegExp | null>();
const REGEX_CACHE_LIMIT = 1000;

function testRegex(pattern: unknown, actual: unknown, insensitive: boolean): boolean {
  if (typeof pattern !== "string") return false;
  const cacheKey = insensitive ? `i:${pattern}` : `s:${pattern}`;
  let regex = regexCache.get(cacheKey);
  if (regex === undefined) {
    try {
      // Escaping bare slashes mirrors the SDKs, which accept patterns written for /…/ literals.
      regex = new RegExp(pattern.replace(/([^\\])\//g, "$1\\/"), insensitive ? "i" : undefined);
    } catch {
      regex = null; // an invalid pattern matches nobody
    }
    if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
    regexCache.set(cacheKey, regex);
  }
  if (regex === null) return false;
  // RegExp#test stringifies its argument, so a missing attribute is tested as "null". A value that
  // cannot be stringified fails only this operator (the SDKs catch here), so a surrounding $not holds.
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
