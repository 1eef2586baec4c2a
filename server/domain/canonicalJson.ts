/**
 * JSON text with every object's keys sorted, so two values that PostgreSQL's jsonb stored and gave back
 * in another key order compare equal as text. Otherwise JSON.stringify's rules: undefined members are
 * left out, NaN and ±Infinity become null.
 * @param value any JSON-like value (plain objects, arrays, strings, numbers, booleans, null).
 * @param options.omitNull leave out object members that are null too (a null and a missing member read the same).
 * @returns the canonical text; `undefined` for undefined, as JSON.stringify.
 */
export function canonicalJson(value: unknown, options: { omitNull?: boolean } = {}): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, m]) => !options.omitNull || m != null).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
