import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { compareRatios, summarizeRatio } from "../domain/stats";
import { telemetry, type RequestLogRow } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { abDefinition as definition, experimentLogRow, flushTelemetry as flush, seedSurfacesOnDemoModel } from "../testing/experiments";
import { experimentLiftOverTime } from "./liftOverTime";
import { experimentResults } from "./results";
import type { ExperimentInput } from "./schema";

// The unit of analysis in the results, on real PostgreSQL: units seen in more than one arm are out
// of every metric; per-request metrics are analysed per unit; CUPED's covariate predates the
// experiment's first start.

const caller = () => callerAs(["admin"], "pm@rerank.local");
/** A logged request that served three items (sku-1, sku-2, sku-3). */
const logRow = (experimentKey: string, surface: string, unit: string, variantKey: string, i: number, overrides: Partial<RequestLogRow> = {}): RequestLogRow =>
  experimentLogRow(experimentKey, surface, unit, variantKey, i, { topK: 3, served: [{ id: "sku-1", score: 3 }, { id: "sku-2", score: 2 }, { id: "sku-3", score: 1 }], ...overrides });




type Event = { eventId: string; requestId: string; type: "impression" | "click"; itemId: string; position?: number };
async function record(events: Event[]) {
  for (let i = 0; i < events.length; i += 1000) await caller().events.record({ events: events.slice(i, i + 1000) });
  await flush();
}

async function startDirectly(key: string, surface: string, overrides: Partial<ExperimentInput> = {}) {
  await caller().experiments.create(definition(key, surface, overrides));
  await getDb().experiment.update({ where: { key }, data: { status: "running", phase: 1, startedAt: new Date() } });
}

const metric = (r: Awaited<ReturnType<typeof experimentResults>>, key: string) => r.metrics.find((m) => m.metric === key)!;

beforeAll(async () => {
  await seedSurfacesOnDemoModel(getDb(), ["t-units-mx", "t-units-ratio", "t-units-cuped"]);
});

describe("units seen in more than one arm", () => {
  it("are out of NDCG, MRR, the fallback rate, latency and the lift over time", async () => {
    // 30 clean units per arm, one impression each; units 0–4 click: position 2 in control, 1 in
    // treatment. Unit x is served once in each arm, by a fallback, slowly, and clicks in both.
    await startDirectly("units-mx", "t-units-mx", { primaryMetric: "ndcg" });
    for (let u = 0; u < 30; u++) {
      telemetry().requests.enqueue(logRow("units-mx", "t-units-mx", `c-${u}`, "control", 0));
      telemetry().requests.enqueue(logRow("units-mx", "t-units-mx", `t-${u}`, "treatment", 0));
    }
    telemetry().requests.enqueue(logRow("units-mx", "t-units-mx", "x", "control", 0, { fallbackUsed: true, fallbackReason: "timeout", latencyMs: 9999 }));
    telemetry().requests.enqueue(logRow("units-mx", "t-units-mx", "x", "treatment", 1, { fallbackUsed: true, fallbackReason: "timeout", latencyMs: 9999 }));
    await flush();
    const events: Event[] = [];
    for (let u = 0; u < 30; u++) {
      for (const [arm, position] of [["c", 2], ["t", 1]] as const) {
        const requestId = `units-mx-${arm}-${u}-0`;
        events.push({ eventId: `${arm}${u}i`, requestId, type: "impression", itemId: `sku-${position}`, position });
        if (u < 5) events.push({ eventId: `${arm}${u}c`, requestId, type: "click", itemId: `sku-${position}`, position });
      }
    }
    // x: in control 1 impression and a click at 1; in treatment 3 impressions and a click at 3.
    events.push({ eventId: "x0i", requestId: "units-mx-x-0", type: "impression", itemId: "sku-1", position: 1 }, { eventId: "x0c", requestId: "units-mx-x-0", type: "click", itemId: "sku-1", position: 1 });
    for (const p of [1, 2, 3]) events.push({ eventId: `x1i${p}`, requestId: "units-mx-x-1", type: "impression", itemId: `sku-${p}`, position: p });
    events.push({ eventId: "x1c", requestId: "units-mx-x-1", type: "click", itemId: "sku-3", position: 3 });
    await record(events);

    const r = await experimentResults(getDb(), "units-mx");
    expect(r.multipleExposure.units).toBe(1);
    expect(metric(r, "ndcg").variants).toEqual([
      { key: "control", value: expect.closeTo(1 / Math.log2(3), 12), n: 5 },
      { key: "treatment", value: 1, n: 5 },
    ]);
    expect(metric(r, "mrr").variants).toEqual([{ key: "control", value: 0.5, n: 5 }, { key: "treatment", value: 1, n: 5 }]);
    expect(metric(r, "fallback_rate").variants).toEqual([{ key: "control", value: 0, n: 30 }, { key: "treatment", value: 0, n: 30 }]);
    expect(r.latency).toEqual([{ variant: "control", p50: 5, p95: 5, requests: 30 }, { variant: "treatment", p50: 5, p95: 5, requests: 30 }]);
    // Clean CTR is 5/30 in both arms: no difference (with x: 6/31 against 6/33, −6.1 %); the lift over time ends on the table's comparison.
    const ctr = metric(r, "ctr").comparisons[0]!;
    expect(ctr).toMatchObject({ available: true, absolute: { estimate: 0 } });
    const lift = ctr.available && ctr.relative ? { treatment_lift: ctr.relative.estimate, treatment_lo: ctr.relative.ci[0], treatment_hi: ctr.relative.ci[1] } : {};
    expect((await experimentLiftOverTime(getDb(), "units-mx")).points.at(-1)).toEqual({ hour: expect.any(String), ...lift });
  });
});

describe("per-request metrics are analysed per unit", () => {
  it("MRR: n is the units, and the interval is the delta-method interval of the per-unit ratio", async () => {
    // Control unit i: (i mod 3) + 1 requests clicked at position (i mod 2) + 1; treatment unit i:
    // (i mod 2) + 1 requests clicked at (i mod 3) + 1. 10 units per arm, 19 and 15 clicked requests.
    await startDirectly("units-ratio", "t-units-ratio", { primaryMetric: "mrr", analysisMode: "fixed" });
    const events: Event[] = [];
    const perUnit: Record<string, Array<{ numerator: number; denominator: number }>> = { control: [], treatment: [] };
    for (let i = 0; i < 10; i++) {
      for (const [arm, requests, position] of [["control", (i % 3) + 1, (i % 2) + 1], ["treatment", (i % 2) + 1, (i % 3) + 1]] as const) {
        for (let q = 0; q < requests; q++) {
          telemetry().requests.enqueue(logRow("units-ratio", "t-units-ratio", `${arm}-${i}`, arm, q));
          events.push({ eventId: `${arm}-${i}-${q}`, requestId: `units-ratio-${arm}-${i}-${q}`, type: "click", itemId: `sku-${position}`, position });
        }
        perUnit[arm]!.push({ numerator: requests / position, denominator: requests });
      }
    }
    await flush();
    await record(events);

    const r = await experimentResults(getDb(), "units-ratio");
    const mrr = metric(r, "mrr");
    expect(mrr.variants.map((v) => v.n)).toEqual([10, 10]);
    const expected = compareRatios(summarizeRatio(perUnit.control!), summarizeRatio(perUnit.treatment!), { analysis: "fixedHorizon" });
    const c = mrr.comparisons[0]!;
    if (!c.available) throw new Error(c.reason);
    expect(c.absolute.estimate).toBeCloseTo(expected.absolute.estimate, 12);
    expect(c.absolute.ci[0]).toBeCloseTo(expected.absolute.ci[0], 10);
    expect(c.absolute.ci[1]).toBeCloseTo(expected.absolute.ci[1], 10);
    expect(c.pValue).toBeCloseTo(expected.pValue, 10);
  });
});

describe("CUPED after a resume that keeps the seed", () => {
  it("takes the covariate from before the experiment's first start, so the effect survives", async () => {
    // 400 units, base clicks u mod 5, treatment +1 click per unit. Before the experiment each unit
    // clicked `base` times; phase 1 and phase 2 (stop, start: same seed, same arms) carry the effect.
    const db = getDb();
    const units = Array.from({ length: 400 }, (_, u) => ({ key: `u-${u}`, arm: u % 2 ? "treatment" : "control", base: u % 5 }));
    const before = new Date(Date.now() - 86_400_000);
    await db.outcomeEvent.createMany({
      data: units.flatMap((u) => Array.from({ length: u.base }, (_, c) => ({
        eventId: `pre-${u.key}-${c}`, requestTs: before, requestId: `pre-${u.key}-${c}`, ts: before, surface: "t-units-cuped", type: "click" as const, itemId: "sku-1", position: 1, userKey: u.key,
      }))),
    });
    await caller().experiments.create(definition("units-cuped", "t-units-cuped"));
    await caller().experiments.start({ key: "units-cuped" });
    let rid = 0;
    const phase = async (ph: number, extra: (u: number) => number) => {
      const events: Event[] = [];
      units.forEach((u, i) => {
        const clicks = u.base + (u.arm === "treatment" ? 1 : 0) + extra(i);
        for (let c = 0; c < Math.max(1, clicks); c++) {
          const requestId = `units-cuped-${ph}-${rid++}`;
          telemetry().requests.enqueue({ ...logRow("units-cuped", "t-units-cuped", u.key, u.arm, 0), requestId, experimentPhase: ph });
          if (c < clicks) events.push({ eventId: `${requestId}-c`, requestId, type: "click", itemId: "sku-1", position: 1 });
        }
      });
      await flush();
      await record(events);
    };
    await phase(1, () => 0);
    await caller().experiments.stop({ key: "units-cuped" });
    await caller().experiments.start({ key: "units-cuped" });
    const { phase: current } = await db.experiment.findUniqueOrThrow({ where: { key: "units-cuped" } });
    expect(current).toBe(2);
    await phase(current, (i) => (i % 3 === 0 ? 1 : 0));

    const r = await experimentResults(db, "units-cuped");
    // Raw means 2.335 and 3.335; the covariate (base) explains the spread of base, not of the extra click.
    expect(metric(r, "clicks_cuped").variants.map((v) => v.value)).toEqual([expect.closeTo(2.335, 12), expect.closeTo(3.335, 12)]);
    const c = metric(r, "clicks_cuped").comparisons[0]!;
    if (!c.available) throw new Error(c.reason);
    expect(c.absolute.estimate).toBeGreaterThan(0.95);
    expect(c.absolute.estimate).toBeLessThan(1.05);
    expect(c.pValue).toBeLessThan(1e-6);
  });
});
