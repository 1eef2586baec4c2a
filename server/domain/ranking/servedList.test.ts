import { describe, expect, it } from "vitest";
import { readServedList, servedItemIdSql, servedItemReasonsSql, servedItemScoreSql, servedListJson } from "./servedList";

describe("served list in the request log", () => {
  const items = [
    { id: "sku-1", score: 0.93, position: 1, reasons: ["interleaving:A", "interleaving:competitive"] },
    { id: 'odd "id"\n\u2028', score: -1.5e-7, position: 2, reasons: [] },
    { id: "sku-3", score: 12, position: 3, reasons: ["boost:fresh"] },
  ];

  it("writes one [id, score] tuple per item, reasons only when there are any", () => {
    const text = servedListJson(items);
    expect(JSON.parse(text)).toEqual([["sku-1", 0.93, ["interleaving:A", "interleaving:competitive"]], ['odd "id"\n\u2028', -1.5e-7], ["sku-3", 12, ["boost:fresh"]]]);
    expect(text.length).toBeLessThan(JSON.stringify(items).length);
  });

  it("writes a score that is not finite as null, as JSON.stringify does", () => {
    expect(JSON.parse(servedListJson([{ id: "a", score: Number.NaN }, { id: "b", score: Infinity }]))).toEqual([["a", null], ["b", null]]);
  });

  it("reads back what it wrote, positions from the order", () => {
    expect(readServedList(JSON.parse(servedListJson(items)))).toEqual(items);
    expect(readServedList(JSON.parse(servedListJson([])))).toEqual([]);
  });

  it("reads rows written before the compact format (objects), keeping their stored position", () => {
    expect(readServedList(items)).toEqual(items);
    expect(readServedList([{ id: "x", score: 1, position: 7, reasons: ["r"] }])).toEqual([{ id: "x", score: 1, position: 7, reasons: ["r"] }]);
  });

  it("skips entries that are neither format instead of failing the page", () => {
    expect(readServedList(null)).toEqual([]);
    expect(readServedList({ id: "x" })).toEqual([]);
    expect(readServedList([["a", 1], 5, null, [7, 2], { score: 1 }, ["b", 2, ["ok", 3]]])).toEqual([
      { id: "a", score: 1, position: 1, reasons: [] },
      { id: "b", score: 2, position: 6, reasons: ["ok"] },
    ]);
  });

  it("names both formats in its SQL", () => {
    expect(servedItemIdSql("e")).toBe("coalesce(e ->> 'id', e ->> 0)");
    expect(servedItemReasonsSql("served", 0)).toBe("coalesce(served -> 0 -> 'reasons', served -> 0 -> 2)");
    expect(servedItemScoreSql("e")).toBe("coalesce(e ->> 'score', e ->> 1)::float8");
  });
});
