import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "../config";
import { getDb } from "../db/client";
import { ThreadedPool, type Queryable } from "../db/threadedPool";
import { servedListJson } from "../domain/ranking/servedList";
import { BatchWriter } from "./batchWriter";
import {
  isDataException, requestLogSink, reviveRequestLogEntry, reviveShadowEntry, scoringSampleSink, serialiseRequestLogRow, serialiseShadowRow, shadowSink,
  type RequestLogEntry, type RequestLogRow, type ShadowEntry, type ShadowRow,
} from "./streams";

// The telemetry writers' COPY path against real PostgreSQL (issue 12): hostile text comes back as it
// went in, a replayed batch adds no row and no rollup count twice, and spill files written before the
// COPY path (rows as JSON text, or objects) replay beside new ones.

const url = env().DATABASE_URL!;

/** Text a caller controls, at its worst for COPY's text format (server/domain/copyText.ts). */
const HOSTILE = ["back\\slash", "tab\there", "new\nline", "cr\rhere", "\\N", "\\.", "non-BMP 😀𝄞", "\\\\N\t\\.\n\r\\", "'quote\" {}", '{"json":"\\\\"}', "", " "];

/** How serialiseRequestLogRow wrote a row before the COPY path (a JSON document): what old spill files hold. */
const oldRequestJson = (row: RequestLogRow) => `${JSON.stringify({ ...row, served: undefined }).slice(0, -1)},"served":${servedListJson(row.served)}}`;
const oldShadowJson = (row: ShadowRow) =>
  `${JSON.stringify({ ...row, primaryRanking: undefined, shadowRanking: undefined }).slice(0, -1)},"primaryRanking":${servedListJson(row.primaryRanking)},"shadowRanking":${servedListJson(row.shadowRanking)}}`;

function logRow(requestId: string, overrides: Partial<RequestLogRow> = {}): RequestLogRow {
  return {
    requestId, ts: new Date("2026-11-30T09:15:00.123Z"), surface: "search", userKey: "u", sessionKey: null, context: { query: "lamp" }, experimentKey: null,
    experimentPhase: null, variantKey: null, exposed: false, modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 3, topK: 2,
    served: [{ id: "a", score: 0.5, position: 1, reasons: [] }], timings: { total: 1.5 }, latencyMs: 1.5, defaultedFeatures: 0, featuresTimedOut: false, caller: null,
    ...overrides,
  };
}

function shadowRow(requestId: string, overrides: Partial<ShadowRow> = {}): ShadowRow {
  return {
    requestId, ts: new Date("2026-11-30T09:15:00.123Z"), surface: "search", primaryVersionId: null, shadowVersionId: "v-shadow",
    primaryRanking: [{ id: "a", score: 1 }], shadowRanking: [{ id: "b", score: 2 }], overlapAt10: 0.5, rbo: 0.25, kendallTau: null, spearmanRho: -1,
    primaryLatencyMs: 1, shadowLatencyMs: 2, moves: null, error: null, ...overrides,
  };
}

describe("telemetry COPY path", () => {
  const direct = new pg.Pool({ connectionString: url, max: 2 });
  const threaded = new ThreadedPool({ connectionString: url, max: 2 });
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "copy-path-int-"));
  });
  afterAll(async () => {
    await direct.end();
    await threaded.end();
    await rm(dir, { recursive: true, force: true });
  });

  const requestRows = async (prefix: string) =>
    (await direct.query(
      `SELECT request_id, ts, surface, user_key, session_key, context::text AS context, experiment_key, experiment_phase, variant_key, exposed, model_version_id,
         fallback_used, fallback_reason, candidate_count, top_k, served::text AS served, timings::text AS timings, latency_ms, defaulted_features, features_timed_out, caller
       FROM rerank_requests WHERE request_id LIKE $1 ORDER BY request_id`,
      [`${prefix}%`],
    )).rows;

  /** A row as the SELECT above gives it back. */
  const stored = (row: RequestLogRow) => ({
    request_id: row.requestId, ts: row.ts, surface: row.surface, user_key: row.userKey, session_key: row.sessionKey, context: JSON.stringify(row.context ?? {}),
    experiment_key: row.experimentKey, experiment_phase: row.experimentPhase, variant_key: row.variantKey, exposed: row.exposed, model_version_id: row.modelVersionId,
    fallback_used: row.fallbackUsed, fallback_reason: row.fallbackReason, candidate_count: row.candidateCount, top_k: row.topK, served: servedListJson(row.served),
    timings: JSON.stringify(row.timings ?? {}), latency_ms: row.latencyMs, defaulted_features: row.defaultedFeatures, features_timed_out: row.featuresTimedOut ?? false, caller: row.caller ?? null,
  });

  for (const [poolName, pool] of [["pg.Pool", direct], ["ThreadedPool", threaded]] as Array<[string, Queryable]>) {
    it(`hostile text in every text field comes back equal (through ${poolName})`, async () => {
      const prefix = `hostile-${poolName}-`;
      const rows = HOSTILE.map((h, i) =>
        logRow(`${prefix}${String(i).padStart(2, "0")}-${h}`, {
          surface: h, userKey: h, sessionKey: i % 2 ? h : null, fallbackReason: h, caller: h, modelVersionId: h, experimentKey: h, variantKey: h,
          context: { q: h, [h]: [h] }, timings: { [h]: 1 }, served: [{ id: h, score: 0.25, reasons: [h, "b"] }, { id: `${h}2`, score: -1 }],
        }),
      );
      await requestLogSink(pool).write(rows.map(serialiseRequestLogRow));
      const back = await requestRows(prefix);
      expect(back).toEqual([...rows].sort((a, b) => (a.requestId < b.requestId ? -1 : 1)).map(stored));
      // The json columns hold valid JSON with the text inside intact.
      expect(back.map((r) => JSON.parse(r.context as string).q)).toEqual([...rows].sort((a, b) => (a.requestId < b.requestId ? -1 : 1)).map((r) => (r.context as { q: string }).q));
    });
  }

  it("a lone UTF-16 surrogate half (refused earlier by server/validation.ts) arrives as U+FFFD, not as a refused batch", async () => {
    await requestLogSink(threaded).write([serialiseRequestLogRow(logRow("surrogate-1", { userKey: "a\uD800b", context: { k: "c\uDC00" } }))]);
    const [back] = await requestRows("surrogate-");
    expect(back).toMatchObject({ user_key: "a\uFFFDb", context: JSON.stringify({ k: "c\uDC00" }) });
  });

  it("a NUL is refused as a data exception (class 22); the writer drops that row alone and writes the rest", async () => {
    const errors: unknown[] = [];
    const writer = new BatchWriter<RequestLogEntry>(requestLogSink(threaded), { name: "rerank_requests", maxBatch: 50, isRowError: isDataException, onError: (e) => errors.push(e) });
    const rows = Array.from({ length: 20 }, (_, i) => logRow(`nul-${String(i).padStart(2, "0")}`));
    rows[7] = { ...rows[7]!, fallbackReason: "nul\u0000reason" };
    for (const r of rows) writer.enqueue(serialiseRequestLogRow(r));
    await writer.flush();
    expect((await requestRows("nul-")).length).toBe(19);
    expect(writer.stats()).toMatchObject({ dropped: 1, written: 19 });
    expect((errors[0] as Error).message).toMatch(/dropped a row the database refuses \(Error 22021: invalid byte sequence for encoding .*: 0x00\)/);
    await writer.close();
  });

  it("a replayed batch, whole or in part, adds no row and no rollup count twice; the rollups count exactly the rows inserted", async () => {
    const surface = await getDb().surface.findFirstOrThrow();
    const byUser = await getDb().experiment.create({ data: { key: "copy-exp-user", name: "copy", surfaceId: surface.id, owner: "t", seed: "s1", hashAttribute: "userKey" } });
    const bySession = await getDb().experiment.create({ data: { key: "copy-exp-session", name: "copy", surfaceId: surface.id, owner: "t", seed: "s2", hashAttribute: "sessionKey" } });
    const t = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 9, minutes));
    const inExp = (id: string, ts: Date, userKey: string | null, variantKey: string, latencyMs: number, extra: Partial<RequestLogRow> = {}) =>
      logRow(`rollup-${id}`, { ts, userKey, experimentKey: "copy-exp-user", experimentPhase: 1, variantKey, latencyMs, exposed: true, ...extra });
    const batch = [
      inExp("1", t(1), "u1", "control", 1),
      inExp("2", t(2), "u1", "control", 2),
      inExp("3", t(3), "u2", "treatment", 3, { fallbackUsed: true, fallbackReason: "breaker\topen" }),
      inExp("4", t(4), "u3", "control", 4),
      inExp("5", t(5), "u3", "treatment", 5),
      inExp("6", t(6), null, "control", 6, { sessionKey: "s-only" }),
      inExp("7", t(7), "u4", "treatment", 7, { experimentKey: "copy-exp-session", sessionKey: "s2" }),
      inExp("8", t(8), "u5", "control", 8, { experimentKey: null, experimentPhase: null }),
    ];
    const sink = requestLogSink(threaded);
    const stats = async () => ({
      units: (await direct.query(
        `SELECT e.key, u.phase, u.variant_key, u.unit_key, u.requests::float8 AS requests, u.multiple_exposure, u.first_seen_at, u.last_seen_at
         FROM experiment_unit_stats u JOIN experiments e ON e.id = u.experiment_id WHERE e.id IN ($1, $2) ORDER BY e.key, u.unit_key`, [byUser.id, bySession.id])).rows,
      hourly: (await direct.query(
        `SELECT e.key, h.phase, h.variant_key, h.hour, h.requests::float8 AS requests, h.fallbacks::float8 AS fallbacks, h.latency_ms_sum
         FROM experiment_hourly_stats h JOIN experiments e ON e.id = h.experiment_id WHERE e.id IN ($1, $2) ORDER BY e.key, h.hour, h.variant_key`, [byUser.id, bySession.id])).rows,
      rows: (await requestRows("rollup-")).length,
    });

    await sink.write(batch.map(serialiseRequestLogRow));
    const first = await stats();
    const unit = (key: string, unitKey: string, variant: string, requests: number, multiple: boolean, first: Date, last: Date) =>
      ({ key, phase: 1, variant_key: variant, unit_key: unitKey, requests, multiple_exposure: multiple, first_seen_at: first, last_seen_at: last });
    expect(first.units).toEqual([
      unit("copy-exp-session", "s2", "treatment", 1, false, t(7), t(7)),
      unit("copy-exp-user", "u1", "control", 2, false, t(1), t(2)),
      unit("copy-exp-user", "u2", "treatment", 1, false, t(3), t(3)),
      unit("copy-exp-user", "u3", "control", 2, true, t(4), t(5)),
    ]);
    const hour = new Date(Date.UTC(2026, 10, 30, 9));
    expect(first.hourly).toEqual([
      { key: "copy-exp-session", phase: 1, variant_key: "treatment", hour, requests: 1, fallbacks: 0, latency_ms_sum: 7 },
      { key: "copy-exp-user", phase: 1, variant_key: "control", hour, requests: 4, fallbacks: 0, latency_ms_sum: 13 },
      { key: "copy-exp-user", phase: 1, variant_key: "treatment", hour, requests: 2, fallbacks: 1, latency_ms_sum: 8 },
    ]);
    expect(first.rows).toBe(8);

    // The whole batch again (a replay from a spill file): nothing changes.
    await sink.write(batch.map(serialiseRequestLogRow));
    expect(await stats()).toEqual(first);

    // Part of it again with new rows (and a duplicate inside the batch): only the new rows count.
    const later = inExp("9", t(70), "u1", "treatment", 10);
    await sink.write([...batch.slice(0, 3), later, later].map(serialiseRequestLogRow));
    const after = await stats();
    expect(after.rows).toBe(9);
    expect(after.units.find((u) => u.unit_key === "u1")).toEqual(unit("copy-exp-user", "u1", "control", 3, true, t(1), t(70)));
    expect(after.units.filter((u) => u.unit_key !== "u1")).toEqual(first.units.filter((u) => u.unit_key !== "u1"));
    expect(after.hourly).toEqual([...first.hourly, { key: "copy-exp-user", phase: 1, variant_key: "treatment", hour: new Date(Date.UTC(2026, 10, 30, 10)), requests: 1, fallbacks: 0, latency_ms_sum: 10 }]);
  });

  it("spill files written before the COPY path (JSON text rows, objects) replay beside new COPY lines, and a replayed row adds nothing", async () => {
    const spillPath = path.join(dir, "rerank_requests.jsonl");
    const rows = HOSTILE.slice(0, 6).map((h, i) => logRow(`spill-${i}`, { userKey: h, context: { h } }));
    await requestLogSink(direct).write([serialiseRequestLogRow(rows[5]!)]); // already written: its line is a replay
    const lines = [
      JSON.stringify(oldRequestJson(rows[0]!)), // a serialised row of the JSON era: a JSON string holding JSON text
      JSON.stringify(oldRequestJson({ ...rows[1]!, featuresTimedOut: undefined, caller: undefined })), // … from before those columns
      JSON.stringify(rows[2]), // an object
      JSON.stringify(serialiseRequestLogRow(rows[3]!)), // a COPY line
      JSON.stringify(serialiseRequestLogRow(rows[4]!)),
      JSON.stringify(oldRequestJson(rows[5]!)),
    ];
    await writeFile(spillPath, `${lines.join("\n")}\n`);
    const writer = new BatchWriter<RequestLogEntry>(requestLogSink(threaded), { name: "rerank_requests", spillPath, revive: reviveRequestLogEntry, isRowError: isDataException, onError: () => {} });
    await writer.flush();
    expect(await requestRows("spill-")).toEqual(rows.map(stored));
    expect(writer.stats()).toMatchObject({ dropped: 0, spilledRows: 0 });
    expect(await stat(spillPath).then(() => true, () => false)).toBe(false);
    await writer.close();
  });

  it("break test: two callers' rows with the same request id and millisecond are both stored (COPY, staging replay, spill file); a replay of either adds nothing", async () => {
    // Keys A and B chose the same id for different requests, served in the same millisecond: the key
    // was (request_id, ts), so B's acknowledged row met A's and was dropped as if it were a replay.
    const ts = new Date("2026-11-30T09:20:00.456Z");
    const a = logRow("owners-1", { ts, caller: "api_key:a", served: [{ id: "from-a", score: 1 }] });
    const b = logRow("owners-1", { ts, caller: "api_key:b", served: [{ id: "from-b", score: 1 }] });
    const shared = logRow("owners-1", { ts, caller: null, served: [{ id: "shared", score: 1 }] });
    const owned = async () =>
      (await direct.query(`SELECT owner, caller, served::text AS served FROM rerank_requests WHERE request_id LIKE 'owners-%' ORDER BY request_id, owner`)).rows;
    const sink = requestLogSink(threaded);
    await sink.write([a, b].map(serialiseRequestLogRow)); // one COPY
    await sink.write([serialiseRequestLogRow(shared)]);
    const three = [
      { owner: "", caller: null, served: '[["shared",1]]' },
      { owner: "api_key:a", caller: "api_key:a", served: '[["from-a",1]]' },
      { owner: "api_key:b", caller: "api_key:b", served: '[["from-b",1]]' },
    ];
    expect(await owned()).toEqual(three);
    // A retried batch (the staging path): nothing twice, and a new row of the batch is kept.
    const c = logRow("owners-1", { ts, caller: "user:c", served: [{ id: "from-c", score: 1 }] });
    await sink.write([a, b, shared, c].map(serialiseRequestLogRow));
    const four = [...three, { owner: "user:c", caller: "user:c", served: '[["from-c",1]]' }];
    expect(await owned()).toEqual(four);
    // A spill file holding them again, in every format an earlier version wrote (a JSON row from
    // before the caller column is a shared one): nothing twice.
    const spillPath = path.join(dir, "owners.jsonl");
    const lines = [JSON.stringify(serialiseRequestLogRow(a)), JSON.stringify(oldRequestJson(b)), JSON.stringify(oldRequestJson({ ...shared, caller: undefined })), JSON.stringify(c)];
    await writeFile(spillPath, `${lines.join("\n")}\n`);
    const writer = new BatchWriter<RequestLogEntry>(sink, { name: "rerank_requests", spillPath, revive: reviveRequestLogEntry, isRowError: isDataException, onError: () => {} });
    await writer.flush();
    expect(writer.stats()).toMatchObject({ dropped: 0, spilledRows: 0 });
    await writer.close();
    expect(await owned()).toEqual(four);
  });

  it("an unreadable JSON row of an old spill file is a refused row, dropped alone", async () => {
    const errors: unknown[] = [];
    const writer = new BatchWriter<RequestLogEntry>(requestLogSink(direct), { name: "rerank_requests", isRowError: isDataException, onError: (e) => errors.push(e) });
    writer.enqueue(serialiseRequestLogRow(logRow("torn-1")));
    writer.enqueue('{"requestId":"torn-2","ts":');
    await writer.flush();
    expect((await requestRows("torn-")).map((r) => r.request_id)).toEqual(["torn-1"]);
    expect(writer.stats()).toMatchObject({ dropped: 1, written: 1 });
    expect(String((errors[0] as Error).message)).toMatch(/not a JSON object/);
    await writer.close();
  });

  it("shadow rows: hostile text round-trips, replays add nothing, old JSON spill rows replay", async () => {
    const read = async () =>
      (await direct.query(`SELECT id, request_id, surface, primary_version_id, shadow_version_id, primary_ranking::text AS p, shadow_ranking::text AS s, overlap_at_10,
        rbo, kendall_tau, spearman_rho, moves::text AS moves, error FROM shadow_records WHERE request_id LIKE 'shadow-%' ORDER BY id`)).rows;
    const rows = HOSTILE.map((h, i) => shadowRow(`shadow-${String(i).padStart(2, "0")}-${h}`, { surface: h, primaryVersionId: h, shadowVersionId: `v${h}`, error: h, primaryRanking: [{ id: h, score: 1 }],
      moves: i % 2 ? [{ id: h, primaryRank: 1, shadowRank: 2, move: 1, primaryScore: 1, shadowScore: 0.5, features: { [h]: 1, x: null }, defaulted: [h] }] : null }));
    const sink = shadowSink(threaded);
    await sink.write(rows.map(serialiseShadowRow));
    const expected = rows.map((r) => ({
      id: `${r.requestId}:${r.shadowVersionId}`, request_id: r.requestId, surface: r.surface, primary_version_id: r.primaryVersionId, shadow_version_id: r.shadowVersionId,
      p: servedListJson(r.primaryRanking), s: servedListJson(r.shadowRanking), overlap_at_10: 0.5, rbo: 0.25, kendall_tau: null, spearman_rho: -1,
      moves: r.moves === null ? null : JSON.stringify(r.moves), error: r.error,
    })).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await read()).toEqual(expected);
    await sink.write(rows.slice(0, 4).map(serialiseShadowRow));
    expect(await read()).toEqual(expected);

    const spillPath = path.join(dir, "shadow_records.jsonl");
    const old = shadowRow("shadow-old", { moves: [] });
    await writeFile(spillPath, `${[JSON.stringify(oldShadowJson(old)), JSON.stringify(shadowRow("shadow-obj")), JSON.stringify(serialiseShadowRow(rows[0]!))].join("\n")}\n`);
    const writer = new BatchWriter<ShadowEntry>(sink, { name: "shadow_records", spillPath, revive: reviveShadowEntry, isRowError: isDataException, onError: () => {} });
    await writer.flush();
    const all = await read();
    expect(all.length).toBe(rows.length + 2);
    expect(all.find((r) => r.request_id === "shadow-old")).toMatchObject({ id: "shadow-old:v-shadow", p: '[["a",1]]', s: '[["b",2]]', moves: "[]" });
    expect(all.find((r) => r.request_id === "shadow-obj")).toMatchObject({ id: "shadow-obj:v-shadow", moves: null });
    await writer.close();
  });

  it("an empty batch writes nothing and does not fail", async () => {
    await expect(requestLogSink(threaded).write([])).resolves.toBeUndefined();
    await expect(shadowSink(direct).write([])).resolves.toBeUndefined();
  });

  it("scoring samples: written through COPY, a replay adds nothing", async () => {
    const sink = scoringSampleSink(threaded);
    const sample = (i: number) => ({
      requestId: `sample-${i}`, ts: new Date("2026-11-30T09:00:00.000Z"), surface: "search\t1", modelVersionId: null, reason: "debug" as const,
      featureNames: ["f\\1"], rows: [{ id: "a\nb", position: 1, score: 0.5, values: [1, null], defaulted: ["f\\1"] }], timings: { total: 1 },
    });
    await sink.write([sample(1), sample(2)]);
    await sink.write([sample(2), sample(3)]);
    const { rows } = await direct.query(`SELECT request_id, surface, feature_names::text AS f, rows::text AS r FROM scoring_samples WHERE request_id LIKE 'sample-%' ORDER BY request_id`);
    expect(rows).toEqual([1, 2, 3].map((i) => ({ request_id: `sample-${i}`, surface: "search\t1", f: JSON.stringify(["f\\1"]), r: JSON.stringify(sample(i).rows) })));
  });
});
