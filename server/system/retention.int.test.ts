import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { experimentInputSchema } from "../experiments/schema";
import { telemetry, type RequestLogRow } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { HANDLERS } from "../jobs/handlers";
import { startJobRunner } from "../jobs/runner";
import { enqueue, TASKS } from "../jobs/tasks";
import { waitFor } from "../testing/tcpProxy";
import { runRetention } from "./retention";
import { connectClient } from "../db/pgClient";

// Retention on real PostgreSQL, through the real log writer (which keeps the experiment rollups):
// day partitions before the cutoff are dropped with their rows, later ones stay, and the rollups
// built from the dropped rows stay too.

const DAY = 86_400_000;
const now = new Date();
const today = utcDay(now);
const daysAgo = (n: number) => new Date(today.getTime() - n * DAY + 12 * 3_600_000); // noon UTC, n days back
const TABLES = ["rerank_requests", "outcome_events", "shadow_records"];

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient({ connectionString: databaseUrl() });
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const partitionsExist = (day: Date) =>
  withClient(async (c) => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_class WHERE relname = ANY($1)", [TABLES.map((t) => partitionName(t, day))])).rows[0]!.n);

function logRow(i: number, ts: Date): RequestLogRow {
  return {
    requestId: `ret-${ts.toISOString().slice(0, 10)}-${i}`, ts, surface: "t-retain", userKey: `u-${i}`, sessionKey: null, context: {}, experimentKey: "ret-exp", experimentPhase: 1,
    variantKey: i % 2 ? "treatment" : "control", exposed: true, modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 10, topK: 10, served: [], timings: {},
    latencyMs: 5, defaultedFeatures: 0,
  };
}

beforeAll(async () => {
  const db = getDb();
  await createTestSurface(db, { key: "t-retain", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), fallbackBytes: demoModelBytes("popularity") });
  await callerAs(["admin"], "pm@rerank.local").experiments.create(experimentInputSchema.parse({
    key: "ret-exp", name: "Retention", surface: "t-retain", owner: "pm@rerank.local",
    variants: [{ key: "control", name: "v1", weight: 0.5, isControl: true, modelAlias: "fallback" }, { key: "treatment", name: "v2", weight: 0.5, modelAlias: "production" }],
  }));
}, 120_000);

describe("retention", () => {
  it("drops the request, event and shadow partitions older than RETENTION_DAYS, keeps newer ones, and the rollups", async () => {
    // 40 and 31 days back: older than 30 days. 30 days back is the first day kept; 10 days back is recent.
    const [old, justOld, firstKept, recent] = [daysAgo(40), daysAgo(31), daysAgo(30), daysAgo(10)];
    await withClient(async (c) => {
      for (const day of [old, justOld, firstKept, recent]) await ensurePartitions(c, { now: day, daysBack: 0, daysAhead: 0 });
    });
    for (const day of [old, justOld, firstKept, recent]) for (let i = 0; i < 4; i++) telemetry().requests.enqueue(logRow(i, day));
    await telemetry().requests.flush();
    const db = getDb();
    const experiment = await db.experiment.findUniqueOrThrow({ where: { key: "ret-exp" } });
    const rollups = async () => ({
      hourly: await db.experimentHourlyStat.findMany({ where: { experimentId: experiment.id }, orderBy: [{ hour: "asc" }, { variantKey: "asc" }] }),
      units: await db.experimentUnitStat.count({ where: { experimentId: experiment.id } }),
    });
    const before = await rollups();
    expect(before.hourly.map((h) => [h.hour.toISOString(), h.variantKey, h.requests])).toEqual(
      [old, justOld, firstKept, recent].flatMap((d) => [[d.toISOString(), "control", 2n], [d.toISOString(), "treatment", 2n]]),
    );

    const lines: string[] = [];
    const result = await runRetention({ retentionDays: 30, now, log: (l) => lines.push(l) });

    const names = (day: Date) => TABLES.map((t) => partitionName(t, day));
    expect(result.retentionDays).toBe(30);
    expect(result.keptFrom).toBe(firstKept.toISOString().slice(0, 10));
    expect(result.dropped).toEqual(expect.arrayContaining([...names(old), ...names(justOld)]));
    for (const kept of [...names(firstKept), ...names(recent), ...names(now)]) expect(result.dropped).not.toContain(kept);
    expect([await partitionsExist(old), await partitionsExist(justOld), await partitionsExist(firstKept), await partitionsExist(recent)]).toEqual([0, 0, 3, 3]);
    // The rows of dropped days are gone, the others kept; the rollups are exactly as before.
    const rows = await db.rerankRequest.groupBy({ by: ["ts"], where: { surface: "t-retain" }, _count: true, orderBy: { ts: "asc" } });
    expect(rows.map((r) => [r.ts.toISOString(), r._count])).toEqual([[firstKept.toISOString(), 4], [recent.toISOString(), 4]]);
    expect(await rollups()).toEqual(before);
    // The week ahead exists.
    expect(await partitionsExist(new Date(today.getTime() + 7 * DAY))).toBe(3);

    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "retention.drop" }, orderBy: { id: "desc" } });
    expect(audit).toMatchObject({ actor: "retention", actorKind: "system", entityType: "system", after: { retentionDays: 30, keptFrom: result.keptFrom, dropped: result.dropped } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^\\[retention\\] keeping 30 days \\(from ${result.keptFrom}\\): dropped ${result.dropped.length} partitions \\(.*${partitionName("rerank_requests", old)}`));

    // A second run finds nothing to drop and writes no audit entry.
    const again = await runRetention({ retentionDays: 30, now, log: () => {} });
    expect(again.dropped).toEqual([]);
    expect(await db.auditLog.count({ where: { action: "retention.drop" } })).toBe(1);
  });

  it("deletes webhook deliveries, events and 5xx-tally minutes older than the cutoff", async () => {
    const db = getDb();
    const endpoint = await db.webhookEndpoint.create({ data: { name: "retained", url: "http://127.0.0.1:9/x", format: "standard", eventKinds: ["rollback"], secret: "whsec_x", createdBy: "test" } });
    for (const [id, at] of [["msg_old", daysAgo(45)], ["msg_new", daysAgo(2)]] as const) {
      await db.webhookEvent.create({ data: { id, kind: "rollback", data: {}, createdAt: at } });
      await db.webhookDelivery.create({ data: { endpointId: endpoint.id, eventId: id, attempt: 1, status: 200, createdAt: at } });
    }
    for (const [surface, at] of [["old-surface", daysAgo(45)], ["new-surface", daysAgo(2)]] as const) await db.rerankErrorMinute.create({ data: { surface, minute: at, count: 3 } });
    const result = await runRetention({ retentionDays: 30, now, log: () => {} });
    expect(result).toMatchObject({ webhookDeliveries: 1, webhookEvents: 1, errorMinutes: 1 });
    expect((await db.rerankErrorMinute.findMany({ where: { surface: { in: ["old-surface", "new-surface"] } } })).map((e) => e.surface)).toEqual(["new-surface"]);
    expect((await db.webhookEvent.findMany({ where: { id: { in: ["msg_old", "msg_new"] } } })).map((e) => e.id)).toEqual(["msg_new"]);
    await db.webhookEndpoint.delete({ where: { id: endpoint.id } });
  });

  it("runs as the queue's retention.run job (what the daily crontab adds)", async () => {
    const runner = await startJobRunner({ connectionString: databaseUrl(), tasks: TASKS, handlers: HANDLERS, concurrency: 1, pollIntervalMs: 200, log: () => {} });
    try {
      const endpoint = await getDb().webhookEndpoint.create({ data: { name: "job", url: "http://127.0.0.1:9/x", format: "standard", eventKinds: ["rollback"], secret: "whsec_x", createdBy: "test" } });
      await getDb().webhookEvent.create({ data: { id: "msg_job_old", kind: "rollback", data: {}, createdAt: daysAgo(60) } });
      await getDb().webhookDelivery.create({ data: { endpointId: endpoint.id, eventId: "msg_job_old", attempt: 1, status: 200, createdAt: daysAgo(60) } });
      await enqueue("retention.run", { days: 30 });
      await waitFor(async () => (await getDb().webhookEvent.count({ where: { id: "msg_job_old" } })) === 0, "the retention job");
      const audit = await getDb().auditLog.findFirstOrThrow({ where: { action: "retention.drop" }, orderBy: { id: "desc" } });
      expect(audit.after).toMatchObject({ retentionDays: 30, webhookEvents: 1, webhookDeliveries: 1 });
      await getDb().webhookEndpoint.delete({ where: { id: endpoint.id } });
    } finally {
      await runner.stop(2000);
    }
  });
});

describe("retention beside a long reader", () => {
  it("never queues the log's INSERTs behind a DROP: the drop gives way and is deferred, then done once the reader ends", async () => {
    const old = daysAgo(50);
    const due = partitionName("rerank_requests", old);
    await withClient((c) => ensurePartitions(c, { now: old, daysBack: 0, daysAhead: 0 }));
    // A day ahead whose partition retention must create: creating one locks the parent too.
    const ahead = partitionName("rerank_requests", new Date(today.getTime() + 7 * DAY));
    await withClient((c) => c.query(`DROP TABLE IF EXISTS "${ahead}"`));
    const reader = await connectClient({ connectionString: databaseUrl() });
    try {
      await reader.query("BEGIN");
      await reader.query("SELECT count(*) FROM rerank_requests"); // holds ACCESS SHARE on the parent and every partition
      const retention = runRetention({ retentionDays: 30, now, log: () => {}, retryDelaysMs: [300, 300, 300] });
      await new Promise((r) => setTimeout(r, 150)); // the DROP is waiting for its lock now
      const started = Date.now();
      telemetry().requests.enqueue(logRow(99, now));
      const flushed = await Promise.race([telemetry().requests.flush().then(() => "written"), new Promise((r) => setTimeout(() => r("waited 1 s"), 1_000))]);
      expect(flushed).toBe("written");
      expect(Date.now() - started).toBeLessThan(1_000);
      const result = await retention;
      expect(result.deferred).toContain(due);
      expect(result.dropped).not.toContain(due);
      expect(result.deferred).toContain(ahead);
      expect(result.created).not.toContain(ahead);
    } finally {
      await reader.query("COMMIT");
      await reader.end();
    }
    const later = await runRetention({ retentionDays: 30, now, log: () => {} });
    expect(later.dropped).toContain(due);
    expect(later.created).toContain(ahead);
    expect(later.deferred).toEqual([]);
  });
});
