// How the request log keeps a response's served list (rerank_requests.served), and the shadow log its
// two rankings (shadow_records.primary_ranking, shadow_ranking): written and read here only.
//
// Written compact: one tuple per served item, best first, its position being its index + 1:
//   ["sku-1", 0.93]                       id and score
//   ["sku-2", 0.81, ["boost:fresh"]]      … and its reasons, only when it has any
// The objects the response carries ({ id, score, position, reasons }) cost PostgreSQL ~55 µs more per
// row to take in for a top-20 list (json_to_recordset walks every key of every nested object;
// `npm run bench:request-log`), and the position is the index again. Rows written before this format
// (objects) are still read: every reader goes through readServedList, or, in SQL, servedItemIdSql /
// servedItemReasonsSql, which accept both.

/** One served item as a reader gets it back, whichever format the row was written in. */
export interface LoggedServedItem {
  id: string;
  /** The score the response carried (null only when it was not a finite number). */
  score: number;
  /** 1-based. */
  position: number;
  reasons: string[];
}

/**
 * The served list as the log's JSON text: `[[id, score], [id, score, reasons], …]`, best first.
 * A score that is not finite is written as null (as JSON.stringify writes it).
 * One JSON.stringify of the tuples (its number and string writers are V8's own): 6.5 µs a top-20 list
 * against 11.1 µs appending each item's text (3,000 of the demo's responses, 2026-12-03).
 * @param items the response's items in served order (their `position` is not written: index + 1).
 */
export function servedListJson(items: ReadonlyArray<{ id: string; score: number; reasons?: readonly string[] }>): string {
  const tuples = new Array<unknown[]>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    tuples[i] = item.reasons && item.reasons.length > 0 ? [item.id, item.score, item.reasons] : [item.id, item.score];
  }
  return JSON.stringify(tuples);
}

/**
 * A stored served list back as items, from either format: compact tuples (servedListJson) or the
 * objects rows held before it. Entries that are neither are skipped, so one damaged row cannot fail
 * a page that lists many.
 * @param value the column's parsed JSON (what the driver returns for a json column).
 */
export function readServedList(value: unknown): LoggedServedItem[] {
  if (!Array.isArray(value)) return [];
  const items: LoggedServedItem[] = [];
  value.forEach((entry: unknown, index) => {
    if (Array.isArray(entry)) {
      if (typeof entry[0] !== "string") return;
      const reasons = Array.isArray(entry[2]) ? entry[2].filter((r): r is string => typeof r === "string") : [];
      items.push({ id: entry[0], score: entry[1] as number, position: index + 1, reasons });
    } else if (entry && typeof entry === "object" && typeof (entry as { id?: unknown }).id === "string") {
      const o = entry as { id: string; score?: number; position?: number; reasons?: unknown };
      const reasons = Array.isArray(o.reasons) ? o.reasons.filter((r): r is string => typeof r === "string") : [];
      items.push({ id: o.id, score: o.score as number, position: typeof o.position === "number" ? o.position : index + 1, reasons });
    }
  });
  return items;
}

/**
 * SQL for the id of a served-list element `element` (a json value from json_array_elements), in
 * either format. `element` must be a trusted SQL expression (a column alias), never user input.
 */
export const servedItemIdSql = (element: string) => `coalesce(${element} ->> 'id', ${element} ->> 0)`;

/** SQL for the score (float8) of a served-list element `element`, in either format; `element` as for servedItemIdSql. */
export const servedItemScoreSql = (element: string) => `coalesce(${element} ->> 'score', ${element} ->> 1)::float8`;

/**
 * SQL for the reasons (a json array, or null) of the served list's item at 0-based `index`, in
 * either format. `column` must be a trusted SQL expression (a column name), never user input.
 */
export const servedItemReasonsSql = (column: string, index: number) => `coalesce(${column} -> ${Math.trunc(index)} -> 'reasons', ${column} -> ${Math.trunc(index)} -> 2)`;
