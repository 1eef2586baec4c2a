import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { summarizeProportion, summarizeRatio, type RatioSummary } from "../stats";
import { analyseExperiment, type Engine, type VariantData } from "./analyse";
import { liftOverTime, type LiftOverTimeInput } from "./liftOverTime";

// The lift over time is the table's CTR comparison on the data up to each point: its last point is
// the table's (analyseExperiment's) CTR lift and interval on the same summaries.

const empty = { n: 0, sum: 0, sumSq: 0 };
const variants = [{ key: "control", weight: 0.5, isControl: true }, { key: "treatment", weight: 0.5, isControl: false }];
/** Per-unit CTR rows: `clicked` of `units` units clicked once, each with `impressions` impressions. */
function ctrRows(units: number, clicked: number, impressions = 5): RatioSummary {
  return summarizeRatio(Array.from({ length: units }, (_, i) => ({ numerator: i < clicked ? 1 : 0, denominator: impressions })));
}
function variant(ctr: RatioSummary): VariantData {
  return { units: ctr.n, multipleExposures: 0, ctr, conversion: summarizeProportion(ctr.n, 0), revenue: empty, ndcg: empty, mrr: empty, fallback: empty, clicksCuped: { n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 }, latencyMs: [] };
}
/** The results table's CTR lift and interval on arms `ctr` under `engine`, in the chart's keys (none when the table has no lift). */
function tableLift(ctr: Record<string, RatioSummary>, engine: Engine) {
  const analysis = analyseExperiment({ kind: "ab", engine, primaryMetric: "ctr", guardrails: [], variants, data: { control: variant(ctr.control!), treatment: variant(ctr.treatment!) } });
  const c = analysis.metrics.find((m) => m.metric === "ctr")!.comparisons[0]!;
  return c.available && c.relative ? { treatment_lift: c.relative.estimate, treatment_lo: c.relative.ci[0], treatment_hi: c.relative.ci[1] } : {};
}

// Each hour h (from 0) adds 40 units of 5 impressions to each arm; by its end 4(h + 1) control and 6(h + 1) treatment units clicked once.
const hourOf = (h: number) => new Date(Date.UTC(2026, 10, 1, h)).toISOString();
const ctrAt = (h: number) => ({ control: ctrRows(40 * (h + 1), 4 * (h + 1)), treatment: ctrRows(40 * (h + 1), 6 * (h + 1)) });
const byHour = (hours: number) => Array.from({ length: hours }, (_, h) => Object.entries(ctrAt(h)).map(([variantKey, ctr]) => ({ hour: hourOf(h), variantKey, ctr }))).flat();
/** The lift over time of the data up to the end of hour `last`, as the page reads it then. */
const at = (last: number, overrides: Partial<LiftOverTimeInput> = {}) =>
  liftOverTime({ engine: "sequential", variants, ctr: ctrAt(last), ctrByHour: byHour(last + 1), ...overrides });

describe("liftOverTime", () => {
  it("each point is the table's CTR comparison on the data up to its end, in the configured engine; the last point is the table's own", () => {
    for (const engine of ["sequential", "fixed", "bayesian"] as const) {
      const timeline = at(23, { engine });
      expect(timeline).toHaveLength(24);
      for (const h of [0, 5, 23]) expect(timeline[h], `${engine}, hour ${h}`).toEqual({ hour: hourOf(h), ...tableLift(ctrAt(h), engine) });
      expect(timeline[23]!.treatment_lift).toBeCloseTo(0.5, 12);
    }
    // The sequential engine gives no result below 30 units per arm: the first point has its hour only, as the table has no lift.
    expect(at(0)).toEqual([{ hour: hourOf(0) }]);
    expect(tableLift(ctrAt(0), "sequential")).toEqual({});
  });

  it("is hourly for the first two days, daily after (a day's point is the table at the day's end), and narrows as data comes in", () => {
    const long = at(71);
    expect(long.map((p) => p.hour)).toEqual(["2026-11-01T00:00:00.000Z", "2026-11-02T00:00:00.000Z", "2026-11-03T00:00:00.000Z"]);
    expect(long[0]).toEqual({ hour: "2026-11-01T00:00:00.000Z", ...tableLift(ctrAt(23), "sequential") });
    expect(long[2]).toEqual({ hour: "2026-11-03T00:00:00.000Z", ...tableLift(ctrAt(71), "sequential") });
    expect(Number(long[2]!.treatment_hi) - Number(long[2]!.treatment_lo)).toBeLessThan(Number(long[0]!.treatment_hi) - Number(long[0]!.treatment_lo));
    // On request: hourly points over three days, or daily points within one.
    expect(at(71, { granularity: "hourly" })).toHaveLength(72);
    expect(at(23, { granularity: "daily" })).toEqual([{ hour: "2026-11-01T00:00:00.000Z", ...tableLift(ctrAt(23), "sequential") }]);
  });

  it("an arm keeps its summary through hours it has no row for; the last point compares the table's summaries, not the last row", () => {
    // Hour 2 has a treatment row only: the control stands as at hour 1.
    const rows = [...byHour(2), { hour: hourOf(2), variantKey: "treatment", ctr: ctrRows(120, 18) }, ...byHour(4).filter((r) => r.hour === hourOf(3))];
    const timeline = liftOverTime({ engine: "fixed", variants, ctr: ctrAt(3), ctrByHour: rows });
    expect(timeline[2]).toEqual({ hour: hourOf(2), ...tableLift({ control: ctrAt(1).control, treatment: ctrRows(120, 18) }, "fixed") });
    // Rows read a moment before the table (one more unit since): the chart still ends on the table's figure.
    const table = { control: ctrRows(161, 17), treatment: ctrAt(3).treatment };
    const ended = liftOverTime({ engine: "fixed", variants, ctr: table, ctrByHour: byHour(4) });
    expect(ended.at(-1)).toEqual({ hour: hourOf(3), ...tableLift(table, "fixed") });
    expect(ended.at(-1)).not.toEqual({ hour: hourOf(3), ...tableLift(ctrAt(3), "fixed") });
  });

  it("has no points without rows, and names the field when there are no variants", () => {
    expect(liftOverTime({ engine: "sequential", variants, ctr: ctrAt(3), ctrByHour: [] })).toEqual([]);
    expect(() => liftOverTime({ engine: "sequential", variants: [], ctr: {}, ctrByHour: byHour(1) })).toThrow(/variants/);
  });

  it("no NaN or Infinity, whatever the arms: empty, one unit, all zeros, all clicked, constant", () => {
    const arm = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.constantFrom(0, 1, 5)).map(([units, c, impressions]) => ctrRows(units, Math.min(units, c), impressions));
    fc.assert(
      fc.property(arm, arm, fc.constantFrom<Engine>("sequential", "fixed", "bayesian"), (c, t, engine) => {
        const points = liftOverTime({
          engine, variants, ctr: { control: c, treatment: t },
          ctrByHour: [{ hour: "2026-11-29T10:00:00.000Z", variantKey: "control", ctr: c }, { hour: "2026-11-29T09:00:00.000Z", variantKey: "treatment", ctr: t }, { hour: "2026-11-29T10:00:00.000Z", variantKey: "treatment", ctr: t }],
        });
        expect(points.map((p) => p.hour)).toEqual(["2026-11-29T09:00:00.000Z", "2026-11-29T10:00:00.000Z"]);
        for (const p of points) for (const v of Object.values(p)) if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
