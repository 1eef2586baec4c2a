import { beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { connectClient } from "../db/pgClient";
import { analyseExperiment, type VariantData } from "../domain/experiments/analyse";
import { summarizeMean, summarizeRatio } from "../domain/stats";
import { telemetry, type RequestLogRow } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { abDefinition as definition, experimentLogRow, flushTelemetry as flush, seedSurfacesOnDemoModel } from "../testing/experiments";
import { partitionsRead, rawQueriesOf } from "../testing/partitionReads";
import { env } from "../config";
import { retainedFrom } from "../system/retention";
import { experimentLiftOverTime } from "./liftOverTime";
import { experimentResults } from "./results";

// The cumulative CTR lift over time counts CTR as the table does: per unit, a unit's clicks up to its
// impressions, so clicks on items never reported shown move neither; each point is the table's
// comparison on the data up to then, and the last point is the table's figure (break test: 30 control
// users with 5 clicks each and no impressions read −13.4 % in the table, −56.4 % on the chart). It is
// its own read (experiments.liftOverTime): the results read never passes over the phase's events for it.

const caller = () => callerAs(["admin"], "pm@rerank.local");
const HOUR = 3_600_000;
/** The start of the hour two hours before this one, and of this hour. */
const thisHour = Math.floor(Date.now() / HOUR) * HOUR;
const earlier = new Date(thisHour - 2 * HOUR);
const later = new Date(thisHour);
const logRow = (unit: string, variantKey: string, i: number, ts: Date): RequestLogRow =>
  experimentLogRow("tl", "t-tl", unit, variantKey, i, { ts: new Date(ts.getTime() + 60_000), topK: 3, served: [{ id: "sku-1", score: 3 }, { id: "sku-2", score: 2 }, { id: "sku-3", score: 1 }] });

type Event = { eventId: string; requestId: string; type: "impression" | "click"; itemId: string; position?: number };
/** Per unit, its impressions (x) and clicks as of the end of the earlier hour, and at the end. */
const expected: Record<"earlier" | "final", Record<string, Map<string, { x: number; clicks: number }>>> = {
  earlier: { control: new Map(), treatment: new Map() },
  final: { control: new Map(), treatment: new Map() },
};
let phaseStart: Date;

/** A request of `unit` in `arm` at `ts` with `impressions` impressions (sku-1, sku-2) and `clicks` clicks on sku-1, added to the unit's figures `upTo`. */
function serve(requests: RequestLogRow[], events: Event[], arm: "control" | "treatment", unit: string, i: number, ts: Date, impressions: number, clicks: number, upTo: Array<"earlier" | "final">) {
  const row = logRow(unit, arm, i, ts);
  requests.push(row);
  for (let k = 0; k < impressions; k++) events.push({ eventId: `${unit}-${i}-i${k}`, requestId: row.requestId, type: "impression", itemId: `sku-${k + 1}`, position: k + 1 });
  for (let k = 0; k < clicks; k++) events.push({ eventId: `${unit}-${i}-c${k}`, requestId: row.requestId, type: "click", itemId: "sku-1", position: 1 });
  for (const when of upTo) {
    const units = expected[when][arm]!;
    const was = units.get(unit) ?? { x: 0, clicks: 0 };
    units.set(unit, { x: was.x + impressions, clicks: was.clicks + clicks });
  }
}

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-tl", "t-tl-old"]);
  const client = await connectClient({ connectionString: databaseUrl() });
  try { await ensurePartitions(client, { daysBack: 6 }); } finally { await client.end(); }
  await caller().experiments.create(definition("tl", "t-tl"));
  await caller().experiments.start({ key: "tl" });
  // The phase began three hours ago (its rows two hours ago and this hour).
  phaseStart = new Date(thisHour - 3 * HOUR);
  await db.$executeRaw`UPDATE experiments SET started_at = ${phaseStart} WHERE key = 'tl'`;
  await db.$executeRaw`UPDATE experiment_phases SET started_at = ${phaseStart} WHERE experiment_id = (SELECT id FROM experiments WHERE key = 'tl')`;

  const requests: RequestLogRow[] = [];
  const events: Event[] = [];
  const both: Array<"earlier" | "final"> = ["earlier", "final"];
  // Two hours ago: 150 units per arm with 2 impressions each (45 control and 30 treatment units click
  // once), and 30 control units with 5 clicks each on an item never reported shown (no impressions).
  for (let u = 0; u < 150; u++) {
    serve(requests, events, "control", `c${u}`, 0, earlier, 2, u < 45 ? 1 : 0, both);
    serve(requests, events, "treatment", `t${u}`, 0, earlier, 2, u < 30 ? 1 : 0, both);
  }
  for (let u = 0; u < 30; u++) serve(requests, events, "control", `k${u}`, 0, earlier, 0, 5, both);
  // This hour: 50 new units per arm (15 control and 12 treatment click), and c0–c29 again (c0–c9 click).
  for (let u = 150; u < 200; u++) {
    serve(requests, events, "control", `c${u}`, 0, later, 2, u < 165 ? 1 : 0, ["final"]);
    serve(requests, events, "treatment", `t${u}`, 0, later, 2, u < 162 ? 1 : 0, ["final"]);
  }
  for (let u = 0; u < 30; u++) serve(requests, events, "control", `c${u}`, 1, later, 2, u < 10 ? 1 : 0, ["final"]);
  // 10 treatment units served two hours ago without events then (counted from then, with nothing), with 2 impressions and a click this hour.
  for (let u = 0; u < 10; u++) {
    serve(requests, events, "treatment", `q${u}`, 0, earlier, 0, 0, both);
    serve(requests, events, "treatment", `q${u}`, 1, later, 2, 1, ["final"]);
  }
  for (const r of requests) telemetry().requests.enqueue(r);
  await flush();
  for (let i = 0; i < events.length; i += 1000) await caller().events.record({ events: events.slice(i, i + 1000) });
  await flush();
}, 120_000);

/** The CTR comparison the table would show on per-unit figures `units`, each unit's clicks counted up to its impressions, under `engine` (tl's: sequential). */
function liftOf(units: Record<string, Map<string, { x: number; clicks: number }>>, engine: "sequential" | "fixed" = "sequential") {
  const arm = (key: string): VariantData => {
    const rows = [...(units[key]?.values() ?? [])];
    const empty = summarizeMean([]);
    return {
      units: rows.length, multipleExposures: 0, ctr: summarizeRatio(rows.map((r) => ({ numerator: Math.min(r.clicks, r.x), denominator: r.x }))),
      conversion: empty, revenue: empty, ndcg: empty, mrr: empty, fallback: empty, clicksCuped: summarizeRatio([]), latencyMs: [],
    };
  };
  const analysis = analyseExperiment({
    kind: "ab", engine, primaryMetric: "ctr", guardrails: [],
    variants: [{ key: "control", weight: 0.5, isControl: true }, { key: "treatment", weight: 0.5, isControl: false }],
    data: { control: arm("control"), treatment: arm("treatment") },
  });
  const c = analysis.metrics.find((m) => m.metric === "ctr")!.comparisons[0]!;
  if (!c.available || !c.relative) throw new Error(`the expected comparison has no lift: ${JSON.stringify(c)}`);
  return c.relative;
}

describe("the lift over time counts CTR as the table does", () => {
  it("clicks on items never shown move neither; the chart's last point is the table's lift and interval, an earlier point the table's as of then", async () => {
    const r = await caller().experiments.results({ key: "tl" });
    const { phase, points: timeline } = await caller().experiments.liftOverTime({ key: "tl" });
    expect(phase).toBe(1);
    const ctr = r.metrics.find((m) => m.metric === "ctr")!;
    expect(ctr.variants.map((v) => [v.key, v.n])).toEqual([["control", 230], ["treatment", 210]]);
    const table = ctr.comparisons[0]!;
    if (!table.available || !table.relative) throw new Error(`the table has no CTR lift: ${JSON.stringify(table)}`);
    // The table counts each unit's clicks up to its impressions (the clickers' 150 clicks count 0).
    const final = liftOf(expected.final);
    expect(table.relative.estimate).toBeCloseTo(final.estimate, 12);
    expect(table.relative.ci[0]).toBeCloseTo(final.ci[0], 10);
    expect(table.relative.ci[1]).toBeCloseTo(final.ci[1], 10);

    expect(timeline.map((p) => p.hour)).toEqual([earlier.toISOString(), later.toISOString()]);
    // The last point is the table's figure, exactly (the hourly rollup capped clicks per arm and hour:
    // the control's 195 clicks on 300 impressions two hours ago counted whole, the clickers' 150 among them).
    expect(timeline.at(-1)).toEqual({ hour: later.toISOString(), treatment_lift: table.relative.estimate, treatment_lo: table.relative.ci[0], treatment_hi: table.relative.ci[1] });
    // Two hours ago, the table would have read the units as they were then.
    const then = liftOf(expected.earlier);
    expect(timeline[0]!.treatment_lift).toBeCloseTo(then.estimate, 12);
    expect(timeline[0]!.treatment_lo).toBeCloseTo(then.ci[0], 10);
    expect(timeline[0]!.treatment_hi).toBeCloseTo(then.ci[1], 10);
  });

  it("units seen in more than one arm are out of every point", async () => {
    // c199 is also served by the treatment this hour (its events with it): it leaves the control, and no point counts it.
    const row = logRow("c199", "treatment", 9, later);
    telemetry().requests.enqueue(row);
    await flush();
    await caller().events.record({ events: [{ eventId: "c199-9-i0", requestId: row.requestId, type: "impression", itemId: "sku-1", position: 1 }, { eventId: "c199-9-c0", requestId: row.requestId, type: "click", itemId: "sku-1", position: 1 }] });
    await flush();
    const r = await experimentResults(getDb(), "tl");
    expect(r.multipleExposure.units).toBe(1);
    const timeline = (await experimentLiftOverTime(getDb(), "tl")).points;
    expected.final.control!.delete("c199");
    const final = liftOf(expected.final);
    expect(timeline.at(-1)!.treatment_lift).toBeCloseTo(final.estimate, 12);
    expect(timeline[0]!.treatment_lift).toBeCloseTo(liftOf(expected.earlier).estimate, 12);
  });

  it("is read on its own: the results read does not pass over the phase's events for it", async () => {
    const db = getDb();
    const results = await rawQueriesOf(db, () => experimentResults(db, "tl"));
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((q) => q.sql.includes("WITH units AS"))).toEqual([]);
    expect((await rawQueriesOf(db, () => experimentLiftOverTime(db, "tl"))).filter((q) => q.sql.includes("WITH units AS"))).toHaveLength(1);
  });

  it("asks for the same role and phases as the results", async () => {
    await expect(callerAs([], "nobody@rerank.local").experiments.liftOverTime({ key: "tl" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(caller().experiments.liftOverTime({ key: "tl", phase: 2 })).rejects.toThrow(/phase.*has phases 1 to 1, not 2/);
    await expect(caller().experiments.liftOverTime({ key: "no-such-experiment" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("reads only the outcome_events partitions within the phase's window", async () => {
    const db = getDb();
    const queries = await rawQueriesOf(db, () => experimentLiftOverTime(db, "tl"));
    const timeline = queries.find((q) => q.sql.includes("WITH units AS"));
    expect(timeline).toBeDefined();
    const read = await partitionsRead(db, timeline!, "outcome_events");
    const oldest = partitionName("outcome_events", utcDay(new Date(phaseStart.getTime() - 86_400_000)));
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((name) => name < oldest && name !== "outcome_events_default")).toEqual([]);
    // As a statement prepared once and run many times would be planned, too.
    const generic = await partitionsRead(db, timeline!, "outcome_events", { plan: "generic" });
    expect(generic.filter((name) => name < oldest && name !== "outcome_events_default")).toEqual([]);
  });

  it("a phase older than the kept log starts its lift where the log does: units seen before count there with their earlier events (dropped from the log, kept in the totals)", async () => {
    const db = getDb();
    await caller().experiments.create(definition("tl-old", "t-tl-old", { analysisMode: "fixed" }));
    await caller().experiments.start({ key: "tl-old" });
    const e = await db.experiment.findUniqueOrThrow({ where: { key: "tl-old" } });
    const started = new Date(Date.now() - 45 * 86_400_000);
    await db.$executeRaw`UPDATE experiments SET started_at = ${started} WHERE id = ${e.id}`;
    await db.$executeRaw`UPDATE experiment_phases SET started_at = ${started} WHERE experiment_id = ${e.id}`;
    const kept = retainedFrom(new Date(), env().RETENTION_DAYS);
    // 20 units per arm first seen 40 days ago, with 2 impressions then (u < 8 of control, u < 4 of treatment clicked),
    // their events long dropped from the log; two hours ago 2 more impressions each (u < 5 and u < 10 click), still logged.
    const figures: Record<"kept" | "final", Record<string, Map<string, { x: number; clicks: number }>>> = { kept: { control: new Map(), treatment: new Map() }, final: { control: new Map(), treatment: new Map() } };
    for (const [arm, oldClicks, newClicks] of [["control", 8, 5], ["treatment", 4, 10]] as const) {
      for (let u = 0; u < 20; u++) {
        const unit = `old-${arm}-${u}`;
        const was = { x: 2, clicks: u < oldClicks ? 1 : 0 };
        const now = { x: 4, clicks: was.clicks + (u < newClicks ? 1 : 0) };
        figures.kept[arm]!.set(unit, was);
        figures.final[arm]!.set(unit, now);
        await db.$executeRaw`INSERT INTO experiment_unit_stats (experiment_id, phase, variant_key, unit_key, requests, impressions, clicks, first_seen_at, last_seen_at)
          VALUES (${e.id}, 1, ${arm}, ${unit}, 2, ${now.x}, ${now.clicks}, ${new Date(Date.now() - 40 * 86_400_000)}, ${earlier})`;
        const logged = [{ type: "impression", n: 0 }, { type: "impression", n: 1 }, ...(u < newClicks ? [{ type: "click", n: 2 }] : [])];
        for (const ev of logged) {
          await db.$executeRaw`INSERT INTO outcome_events (event_id, request_ts, request_id, ts, surface, type, item_id, position, user_key, experiment_key, experiment_phase, variant_key, owner)
            VALUES (${`${unit}-${ev.n}`}, ${new Date(earlier.getTime() + 60_000)}, ${`${unit}-r`}, now(), 't-tl-old', ${ev.type}::"OutcomeType", 'sku-1', 1, ${unit}, 'tl-old', 1, ${arm}, '')`;
        }
      }
    }
    const r = await experimentResults(db, "tl-old");
    const timeline = (await experimentLiftOverTime(db, "tl-old", { granularity: "hourly" })).points;
    // Two points: the first hour the log keeps (every unit with its figures before its kept events), and two hours ago.
    expect(timeline.map((p) => p.hour)).toEqual([kept.toISOString(), earlier.toISOString()]);
    // Over a month, "auto" shows days: the same two points, at their days.
    expect((await experimentLiftOverTime(db, "tl-old")).points.map((p) => p.hour)).toEqual([kept.toISOString(), `${earlier.toISOString().slice(0, 10)}T00:00:00.000Z`]);
    const then = liftOf(figures.kept, "fixed");
    expect(timeline[0]!.treatment_lift).toBeCloseTo(then.estimate, 12);
    expect(timeline[0]!.treatment_lo).toBeCloseTo(then.ci[0], 10);
    const table = r.metrics.find((m) => m.metric === "ctr")!.comparisons[0]!;
    if (!table.available || !table.relative) throw new Error("the table has no CTR lift");
    expect(timeline[1]).toEqual({ hour: earlier.toISOString(), treatment_lift: table.relative.estimate, treatment_lo: table.relative.ci[0], treatment_hi: table.relative.ci[1] });
    expect(table.relative.estimate).toBeCloseTo(liftOf(figures.final, "fixed").estimate, 12);
  });
});
