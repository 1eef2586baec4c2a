import { describe, expect, it } from "vitest";
import { isolatedRows, labelled, rowsWithGaps, timeDomain, timeTicks } from "./latencyChartRows";

// The On-call chart's rows and marker labels (break test of issue #15: the fallback % line drawn
// diagonally across buckets without traffic; kill switch on and off labels overlapping).

const FIVE_MIN = 300_000;
const point = (bucket: number, fallbackRate: number) => ({ t: bucket * FIVE_MIN, p95: 10, p99: 20, fallbackRate });

describe("rowsWithGaps", () => {
  it("breaks the lines where buckets had no traffic", () => {
    const rows = rowsWithGaps([point(0, 0), point(1, 0.5), point(5, 0), point(6, 0)]);
    expect(rows.map((r) => [r.t / FIVE_MIN, r.fallback])).toEqual([[0, 0], [1, 50], [2, null], [5, 0], [6, 0]]);
    expect(rows[2]).toEqual({ t: 2 * FIVE_MIN, p95: null, p99: null, fallback: null });
  });

  it("adds nothing to consecutive buckets or a single point", () => {
    expect(rowsWithGaps([point(0, 0), point(1, 0), point(2, 0)]).every((r) => r.fallback !== null)).toBe(true);
    expect(rowsWithGaps([point(3, 0.1)])).toHaveLength(1);
  });
});

describe("the window's only point (break test: product-search's first bucket sat alone in the middle of the chart, drawn as nothing)", () => {
  it("spans the time axis over the window asked for, stretched to points outside it", () => {
    const hour = 3_600_000;
    expect(timeDomain([10 * hour], { from: 9 * hour, to: 10.5 * hour })).toEqual([9 * hour, 10.5 * hour]);
    expect(timeDomain([11 * hour], { from: 9 * hour, to: 10.5 * hour })).toEqual([9 * hour, 11 * hour]);
    expect(timeDomain([2, 5])).toEqual([2, 5]);
    expect(timeDomain([])).toEqual([0, 1]);
  });

  it("ticks the whole window at round steps, not only the data's points", () => {
    const minute = 60_000;
    const from = 1_000 * minute + 7 * minute;
    expect(timeTicks([from, from + 60 * minute]).map((t) => (t - 1_000 * minute) / minute)).toEqual([10, 20, 30, 40, 50, 60]);
    // Half-hour steps fall on the half hours since the epoch (minute 1,020 and 1,050).
    expect(timeTicks([from, from + 60 * minute], 3).map((t) => (t - 1_000 * minute) / minute)).toEqual([20, 50]);
    expect(timeTicks([0, 24 * 60 * minute]).length).toBeLessThanOrEqual(6);
    expect(timeTicks([5, 5])).toEqual([5]);
  });

  it("marks a point with no neighbour to draw a line to: the only one, or one between empty buckets", () => {
    expect([...isolatedRows(rowsWithGaps([point(3, 0.1)]), "p99")]).toEqual([0]);
    const rows = rowsWithGaps([point(0, 0), point(1, 0), point(3, 0), point(5, 0), point(6, 0)]);
    expect(rows.map((r) => r.p99 === null)).toEqual([false, false, true, false, true, false, false]);
    expect([...isolatedRows(rows, "p95")]).toEqual([3]);
    expect(isolatedRows(rowsWithGaps([point(0, 0), point(1, 0)]), "fallback").size).toBe(0);
  });
});

describe("labelled", () => {
  it("merges the labels of markers closer than a label's width, oldest first, on the newest line", () => {
    const out = labelled([{ t: 1000, label: "kill switch on" }, { t: 1500, label: "kill switch off" }, { t: 10_000, label: "production → v3" }], 2000);
    expect(out.map((m) => [m.t, m.showLabel, m.showLabel ? m.mergedLabel : null, m.slot])).toEqual([
      [1000, false, null, 0],
      [1500, true, "kill switch on → kill switch off", 0],
      [10_000, true, "production → v3", 1],
    ]);
  });

  it("keeps a merged label short: first and last change and how many", () => {
    const out = labelled([{ t: 0, label: "v2 → v3" }, { t: 100, label: "rollback v3 → v2" }, { t: 200, label: "kill switch on" }, { t: 300, label: "kill switch off" }], 1000);
    expect(out.filter((m) => m.showLabel).map((m) => m.mergedLabel)).toEqual(["v2 → v3 → … → kill switch off (4 changes)"]);
  });
});
