import type { RatioSummary } from "../stats";
import { compareOne, type Engine } from "./analyse";
import { METRIC_CATALOGUE } from "./metrics";

// The cumulative CTR lift over time, apart from the analysis (analyse.ts): it reads the phase's kept
// events, so the page loads it as a panel of its own, refreshed less often than the table
// (server/experiments/liftOverTime.ts). Pure: summaries in, points out.

/** The lift over time is hourly until the data spans this many hours, daily after. */
export const TIMELINE_DAILY_AFTER_HOURS = 48;

export interface LiftOverTimeInput {
  /** The engine that decides (the table's): each point is its lift and interval. */
  engine: Engine;
  /** Two-sided level; default 0.05, as analyseExperiment's. */
  alpha?: number;
  /** The experiment's variants; the control is the one marked so (else the first), the others are the treatments. */
  variants: ReadonlyArray<{ key: string; isControl: boolean }>;
  /**
   * Each arm's CTR summary as the table compares it (VariantData.ctr: per unit, Y = clicks up to the
   * unit's impressions, X = impressions), by variant key; a missing arm has no data. The last point
   * compares these, so it is the table's figure whatever moment the hourly rows were read at.
   */
  ctr: Readonly<Record<string, RatioSummary>>;
  /**
   * Each arm's CTR summary counted as `ctr` is, cumulative as of the end of each hour (ISO, the hour's
   * start) in which the arm changed (a unit entered it, or a unit's impressions or clicks). Any order.
   * An arm keeps its last summary through the hours it has no row for.
   */
  ctrByHour: ReadonlyArray<{ hour: string; variantKey: string; ctr: RatioSummary }>;
  /** Points: "auto" (default) is hourly until the rows span TIMELINE_DAILY_AFTER_HOURS, then daily. */
  granularity?: "auto" | "hourly" | "daily";
}

/**
 * One point of the lift over time: `hour` (the bucket's start, ISO), and per treatment with a lift
 * `<variant>_lift`, `<variant>_lo`, `<variant>_hi` (relative, 0.1 = +10 %).
 */
export type LiftPoint = { hour: string; [series: string]: number | string };

const NO_CTR: RatioSummary = Object.freeze({ n: 0, sumX: 0, sumY: 0, sumX2: 0, sumY2: 0, sumXY: 0 });

/**
 * The cumulative CTR lift at the end of each bucket (an hour; a day once the rows span more than
 * TIMELINE_DAILY_AFTER_HOURS, or as `granularity` asks), oldest first: the table's comparison
 * (compareOne on the arms' per-unit summaries, the engine's lift and interval, Fieller's) on the data
 * up to then, so the chart reads as the table would have. The last point compares `input.ctr`, the
 * summaries the table compares: it equals the table's CTR lift and interval. A point without a lift
 * (an arm without impressions or spread, a control not told from 0) has its hour only. No rows: no
 * points.
 * @throws RangeError when `variants` is empty.
 */
export function liftOverTime(input: LiftOverTimeInput): LiftPoint[] {
  const alpha = input.alpha ?? 0.05;
  const control = input.variants.find((v) => v.isControl) ?? input.variants[0];
  if (!control) throw new RangeError("variants: an experiment needs variants");
  const treatments = input.variants.filter((v) => v.key !== control.key).map((v) => v.key);
  const rows = [...input.ctrByHour].sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : 0));
  if (!rows.length) return [];
  const spanHours = (Date.parse(rows.at(-1)!.hour) - Date.parse(rows[0]!.hour)) / 3_600_000;
  const daily = input.granularity === "daily" || (input.granularity !== "hourly" && spanHours > TIMELINE_DAILY_AFTER_HOURS);
  const bucketOf = (hour: string) => (daily ? `${hour.slice(0, 10)}T00:00:00.000Z` : hour);
  const buckets = [...new Set(rows.map((r) => bucketOf(r.hour)))].sort();
  const current = new Map<string, RatioSummary>();
  let next = 0;
  return buckets.map((bucket, b) => {
    for (; next < rows.length && bucketOf(rows[next]!.hour) <= bucket; next++) current.set(rows[next]!.variantKey, rows[next]!.ctr);
    const last = b === buckets.length - 1;
    const arm = (key: string) => ({ kind: "ratio" as const, s: (last ? input.ctr[key] : current.get(key)) ?? NO_CTR });
    const point: LiftPoint = { hour: bucket };
    for (const v of treatments) {
      const c = compareOne(v, arm(control.key), arm(v), input.engine, alpha, METRIC_CATALOGUE.ctr);
      if (c.available && c.relative) Object.assign(point, { [`${v}_lift`]: c.relative.estimate, [`${v}_lo`]: c.relative.ci[0], [`${v}_hi`]: c.relative.ci[1] });
    }
    return point;
  });
}
