import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { keyedHash } from "../redact";
import { rerank } from "../rerank/pipeline";
import { surfaceConfigs } from "../surfaces/configCache";
import { callerAs } from "../testing/callers";
import { abDefinition, flushTelemetry, seedSurfacesOnDemoModel } from "../testing/experiments";

// The experiment rollups' counters are added to in the statement that stores the request or event
// row (server/telemetry/streams.ts). As int4, a sum past 2^31 - 1 failed that statement (22003) and the
// row was dropped though the rerank was answered 200 and the event accepted. As bigint they go on.

const INT4_MAX = 2_147_483_647;
const caller = () => callerAs(["admin"], "pm@rerank.local");
let candidateIds: string[];

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-overflow"]);
  candidateIds = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 10, orderBy: { id: "asc" }, select: { id: true } })).map((c) => c.id);
  await caller().experiments.create(abDefinition("overflow", "t-overflow"));
  await caller().experiments.start({ key: "overflow" });
  await surfaceConfigs().refresh();
});

describe("rollup counters at 2^31 - 1", () => {
  it("an event and a request past a counter at 2^31 - 1 are stored, and the counters read 2^31", async () => {
    const db = getDb();
    const e = await db.experiment.findUniqueOrThrow({ where: { key: "overflow" } });
    const unitKey = keyedHash("guest");
    const first = await rerank({ surface: "t-overflow", topK: 5, userKey: "guest", candidates: candidateIds.map((id) => ({ id })) });
    expect(first.variant).not.toBeNull();
    await flushTelemetry();
    const where = { experimentId_phase_unitKey: { experimentId: e.id, phase: e.phase, unitKey } };
    expect((await db.experimentUnitStat.findUniqueOrThrow({ where })).requests).toBe(1n);

    // Impressions (unit and hour) at the int4 maximum, then one more impression.
    await db.experimentUnitStat.update({ where, data: { impressions: INT4_MAX } });
    await db.experimentHourlyStat.updateMany({ where: { experimentId: e.id, phase: e.phase }, data: { impressions: INT4_MAX, requests: INT4_MAX } });
    const item = first.items[0]!;
    const answer = await caller().events.record({ events: [{ eventId: `${first.requestId}-i`, requestId: first.requestId, type: "impression", itemId: item.id, position: 1 }] });
    expect(answer).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    await flushTelemetry();
    expect(await db.outcomeEvent.count({ where: { requestId: first.requestId, type: "impression" } })).toBe(1);
    expect((await db.experimentUnitStat.findUniqueOrThrow({ where })).impressions).toBe(2_147_483_648n);
    const hours = await db.experimentHourlyStat.findMany({ where: { experimentId: e.id, phase: e.phase, variantKey: first.variant!.key } });
    expect(hours.reduce((n, h) => n + h.impressions, 0n)).toBeGreaterThanOrEqual(2_147_483_648n);

    // Requests at the int4 maximum, then the next rerank of the same unit.
    await db.experimentUnitStat.update({ where, data: { requests: INT4_MAX } });
    const second = await rerank({ surface: "t-overflow", topK: 5, userKey: "guest", candidates: candidateIds.map((id) => ({ id })) });
    await flushTelemetry();
    expect(await db.rerankRequest.count({ where: { requestId: second.requestId } })).toBe(1);
    expect((await db.experimentUnitStat.findUniqueOrThrow({ where })).requests).toBe(2_147_483_648n);
    expect((await db.experimentHourlyStat.findMany({ where: { experimentId: e.id, phase: e.phase } })).reduce((n, h) => n + h.requests, 0n)).toBeGreaterThanOrEqual(2_147_483_648n);

    // The results read the counters as numbers past 2^31.
    const results = await caller().experiments.results({ key: "overflow" });
    const arm = results.variants.find((v) => v.key === first.variant!.key)!;
    expect(arm.units).toBe(1);
    const ctr = results.metrics.find((m) => m.metric === "ctr")!;
    expect(ctr.variants.find((v) => v.key === arm.key)!.value).toBe(0);
  });
});
