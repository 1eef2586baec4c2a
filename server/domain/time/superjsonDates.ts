import { parseIsoInstant } from "./isoInstant";

// tRPC input arrives as superjson's envelope: { json, meta: { values } }, where `values` tags the
// paths superjson will turn into other types, a Date with ["Date"]. superjson makes that Date with
// `new Date(text)`, which reads "12" as December 2001, "2026-02-30" as 2 March and a time without
// offset in the server's zone: the loose reading strict ISO 8601 input (parseIsoInstant) refuses.
// Before superjson reads the envelope, the text of every Date it tags must be strict ISO 8601 (what
// superjson's own serialiser writes: Date#toISOString()); other text becomes "Invalid Date", which
// every date schema (z.date) refuses with its field's message.

/** What `new Date(text)` makes of text that is not a date: an Invalid Date. */
const NOT_A_DATE = "not a date";

/** superjson's path keys: segments joined by ".", a "." or "\" inside a segment escaped by "\". */
function pathSegments(path: string): string[] {
  const segments: string[] = [];
  let current = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && i + 1 < path.length) current += path[++i];
    else if (c === ".") {
      segments.push(current);
      current = "";
    } else current += c;
  }
  segments.push(current);
  return segments;
}

type Holder = Record<string, unknown> | unknown[];

/** Replaces the text at `segments` below `holder[key]` (arrays by index) with NOT_A_DATE unless strict ISO 8601. */
function checkAt(holder: Holder, key: string | number, segments: readonly string[]): void {
  let parent: Holder = holder;
  let k: string | number = key;
  for (const segment of segments) {
    const next: unknown = (parent as Record<string | number, unknown>)[k];
    if (next === null || typeof next !== "object") return;
    parent = next as Holder;
    k = Array.isArray(parent) ? Number(segment) : segment;
  }
  const value = (parent as Record<string | number, unknown>)[k];
  if (typeof value === "string" && parseIsoInstant(value) === null) (parent as Record<string | number, unknown>)[k] = NOT_A_DATE;
}

/**
 * The envelope with the text of every Date it tags checked: strict ISO 8601 stays, anything else
 * becomes text that superjson turns into an Invalid Date. Only top-level annotations are checked
 * (["Date"] at a path); Dates nested in a Map or Set (superjson's inner trees) are left as they are:
 * no input schema takes a Map or a Set. Does not change `payload`.
 */
export function strictSuperjsonDates<T>(payload: T): T {
  if (payload === null || typeof payload !== "object") return payload;
  const envelope = payload as { json?: unknown; meta?: { values?: unknown } };
  const values = envelope.meta?.values;
  if (values === undefined || values === null || typeof values !== "object") return payload;
  // The input itself tagged ([type] or [type, children]), or a path of it per key.
  const datePaths = Array.isArray(values)
    ? (values[0] === "Date" ? [[]] : [])
    : Object.entries(values as Record<string, unknown>).filter(([, tree]) => Array.isArray(tree) && tree[0] === "Date").map(([path]) => pathSegments(path));
  if (datePaths.length === 0) return payload;
  const box: { json: unknown } = { json: structuredClone(envelope.json) };
  for (const segments of datePaths) checkAt(box, "json", segments);
  return { ...envelope, json: box.json } as T;
}
