import { afterAll, describe, expect, it } from "vitest";
import { env } from "../config";
import { BatchWriter } from "./batchWriter";
import type { TelemetrySink } from "./sink";
import { postgresTelemetrySink, serialiseRequestLogRow, type RequestLogEntry } from "./streams";
import { connectClient } from "../db/pgClient";
import { ThreadedPool } from "../db/threadedPool";

// The PostgreSQL sink behind the TelemetrySink interface (the seam a ClickHouse sink would plug
// into, docs/SCALE-OUT.md): the writer drives it, replays add nothing twice, refused rows are told
// apart. Over a ThreadedPool, as telemetry() runs it: PostgreSQL's SQLSTATE crosses from the thread.

describe("postgresTelemetrySink", () => {
  const url = env().DATABASE_URL!;
  const sink: TelemetrySink = postgresTelemetrySink(new ThreadedPool({ connectionString: url, max: 2 }));
  const runId = `sink-${Date.now().toString(36)}-`;
  const row = (i: number): RequestLogEntry => serialiseRequestLogRow({
    requestId: `${runId}${i}`, ts: new Date(), surface: "search", userKey: null, sessionKey: null, context: {}, experimentKey: null, experimentPhase: null,
    variantKey: null, exposed: false, modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 3, topK: 3, served: [], timings: {}, latencyMs: 1, defaultedFeatures: 0,
  });
  const count = async () => {
    const client = await connectClient({ connectionString: url });
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM rerank_requests WHERE request_id LIKE $1", [`${runId}%`]);
    await client.end();
    return Number(rows[0]!.n);
  };
  afterAll(() => sink.close());

  it("is what the batch writer writes through, and a replayed batch adds nothing", async () => {
    const writer = new BatchWriter(sink.requests, { name: "sink-test", isRowError: sink.isRowError });
    const rows = Array.from({ length: 25 }, (_, i) => row(i));
    for (const r of rows) writer.enqueue(r);
    await writer.flush();
    expect(await count()).toBe(25);
    await sink.requests.write(rows.slice(0, 10));
    expect(await count()).toBe(25);
    expect(writer.stats()).toMatchObject({ written: 25, dropped: 0 });
    await writer.close();
  });

  it("tells a refused row (a PostgreSQL data exception) from an outage", async () => {
    const refused = await sink.requests.write([JSON.stringify({ requestId: `${runId}bad`, ts: "not a time" })]).catch((e: unknown) => e);
    expect(sink.isRowError(refused)).toBe(true);
    expect(sink.isRowError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(sink.name).toBe("postgresql");
  });
});
