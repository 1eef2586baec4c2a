import { beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { connectClient } from "../db/pgClient";
import { telemetry } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { abDefinition, experimentLogRow, flushTelemetry, seedSurfacesOnDemoModel } from "../testing/experiments";
import { withinPhase } from "./phaseWindow";
import { servedVersions } from "./served";

// An experiment phase's queries of the day-partitioned logs carry the phase's time as a bound
// (withinPhase): rows labelled with the phase within a day of it are read, the log's other days are not.

let versionId: string;
let phaseStart: Date;

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-pw"]);
  const client = await connectClient({ connectionString: databaseUrl() });
  try { await ensurePartitions(client, { daysBack: 6 }); } finally { await client.end(); }
  const admin = callerAs(["admin"], "pm@rerank.local");
  await admin.experiments.create(abDefinition("pw", "t-pw"));
  await admin.experiments.start({ key: "pw" });
  phaseStart = (await db.experimentPhase.findFirstOrThrow({ where: { experiment: { key: "pw" }, phase: 1 } })).startedAt;
  versionId = (await db.modelVersion.findFirstOrThrow({ where: { model: { name: "search-ranker" } }, orderBy: { version: "asc" } })).id;
  const at = (ms: number) => new Date(phaseStart.getTime() + ms);
  // Served by the treatment: 3 within the phase, 2 an hour before it started (a replica's clock or a
  // stale config), and 4 three days before (labelled phase 1 but outside any margin: never its rows).
  const rows = [...[1, 2, 3].map((i) => at(i * 1000)), at(-3_600_000), at(-3_600_001), ...[0, 1, 2, 3].map((i) => at(-3 * 86_400_000 - i))];
  rows.forEach((ts, i) => telemetry().requests.enqueue(experimentLogRow("pw", "t-pw", `u-${i}`, "treatment", i, { ts, modelVersionId: versionId })));
  await flushTelemetry();
}, 120_000);

describe("phase windows on the partitioned logs", () => {
  it("counts the phase's rows within a day of it, not rows labelled with it days before (served versions)", async () => {
    const served = await servedVersions(getDb(), "pw", 1, ["treatment"]);
    expect(served.map((s) => [s.versionId, s.requests])).toEqual([[versionId, 5]]);
    // An unknown phase has no bound: nothing is lost to a missing phase row.
    const unbounded = await getDb().$queryRaw<Array<{ n: number }>>`SELECT count(*)::float8 AS n FROM rerank_requests r WHERE r.experiment_key = 'pw' AND ${withinPhase("r.ts", "pw", 9)}`;
    expect(unbounded[0]!.n).toBe(9);
  });

  it("reads only the partitions within the phase's window (the others are never executed)", async () => {
    const explained = await getDb().$queryRaw<Array<{ "QUERY PLAN": unknown }>>`
      EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM rerank_requests r WHERE r.experiment_key = 'pw' AND ${withinPhase("r.ts", "pw", 1)}`;
    const plan = explained[0]!["QUERY PLAN"];
    const scans: Array<{ relation: string; loops: number }> = [];
    const walk = (node: Record<string, unknown>) => {
      if (typeof node["Relation Name"] === "string") scans.push({ relation: node["Relation Name"] as string, loops: node["Actual Loops"] as number });
      for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
    };
    walk((plan as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
    const partitions = scans.filter((s) => s.relation.startsWith("rerank_requests_"));
    // Six days back exist: those older than a day before the phase are pruned (not executed).
    const read = partitions.filter((s) => s.loops > 0).map((s) => s.relation);
    expect(partitions.length).toBeGreaterThan(read.length + 3);
    const oldest = partitionName("rerank_requests", utcDay(new Date(phaseStart.getTime() - 86_400_000)));
    expect(read.filter((name) => name !== "rerank_requests_default" && name < oldest)).toEqual([]);
  });
});
