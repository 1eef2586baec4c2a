import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { connectClient } from "../db/pgClient";
import { serialiseRequestLogRow, telemetry } from "../telemetry/streams";
import { partitionsRead, rawQueriesOf } from "../testing/partitionReads";
import { recordOutcomes } from "./service";

// An event whose request is no longer in memory is checked against the request log, read over the
// days the log keeps (RETENTION_DAYS): before, the lookup had no bound on ts and probed every day
// partition (the week created ahead and DEFAULT included) for each batch.

const DAY = 86_400_000;
const tag = `rl-${Date.now().toString(36)}`;
const logged = (requestId: string, ts: Date) => serialiseRequestLogRow({
  requestId, ts, surface: "search", userKey: null, sessionKey: null, context: {}, experimentKey: null, experimentPhase: null, variantKey: null, exposed: false,
  modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 2, topK: 2,
  served: [{ id: "item-1", score: 2, position: 1 }, { id: "item-2", score: 1, position: 2 }], timings: {}, latencyMs: 1, defaultedFeatures: 0,
});
const click = (eventId: string, requestId: string) => ({ events: [{ eventId, requestId, type: "click" as const, itemId: "item-2", position: 2 }] });

beforeAll(async () => {
  const client = await connectClient({ connectionString: databaseUrl() });
  try { await ensurePartitions(client, { daysBack: 6 }); } finally { await client.end(); }
  // Two days kept (from the start of the day two days back): a request of four days ago is past them,
  // its partition still there until retention's next run.
  setEnv("RETENTION_DAYS", "2");
  telemetry().requests.enqueue(logged(`${tag}-kept`, new Date(Date.now() - DAY)));
  telemetry().requests.enqueue(logged(`${tag}-old`, new Date(Date.now() - 4 * DAY)));
  await telemetry().requests.flush();
}, 120_000);

afterAll(() => setEnv("RETENTION_DAYS", undefined));

describe("the request an event refers to, read from the request log", () => {
  it("is found among the days the log keeps; one logged before them is an unknown request (break test: its events were kept, in a partition retention drops next)", async () => {
    expect(await recordOutcomes(click(`${tag}-e1`, `${tag}-kept`))).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await getDb().rerankRequest.count({ where: { requestId: `${tag}-old` } })).toBe(1);
    await expect(recordOutcomes(click(`${tag}-e2`, `${tag}-old`))).rejects.toThrow(`no served request "${tag}-old"`);
  });

  it("reads only the partitions of the days kept: not older days, not the week ahead, not DEFAULT (break test: every day partition was probed)", async () => {
    const queries = await rawQueriesOf(getDb(), () => recordOutcomes(click(`${tag}-e3`, `${tag}-kept`)));
    const lookup = queries.filter((q) => q.sql.includes("FROM rerank_requests r"));
    expect(lookup).toHaveLength(1);
    const today = utcDay(new Date()).getTime();
    const kept = [-2, -1, 0, 1].map((d) => partitionName("rerank_requests", new Date(today + d * DAY)));
    // Planned with the values (the driver's unnamed statements) and generic (a statement prepared once): pruned either way.
    for (const plan of ["custom", "generic"] as const) expect(await partitionsRead(getDb(), lookup[0]!, "rerank_requests", { plan }), plan).toEqual(kept);
  });
});
