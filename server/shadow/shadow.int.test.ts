import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { ensurePartitions, partitionName, utcDay } from "../db/partitions";
import { connectClient } from "../db/pgClient";
import { readServedList } from "../domain/ranking/servedList";
import { seedDemo } from "../db/seed";
import { DEMO_MODELS, demoFeatureSpec, demoModelBytes } from "../demo/models";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { rankBiasedOverlap } from "../domain/ranking/agreement";
import { rerank } from "../rerank/pipeline";
import { inShadowSample, shadowIdle } from "../rerank/shadow";
import { surfaceConfigs } from "../surfaces/configCache";
import { metrics } from "../telemetry/metrics";
import { serialiseRequestLogRow, telemetry, type ShadowRow } from "../telemetry/streams";
import { partitionsRead, rawQueriesOf } from "../testing/partitionReads";
import { shadowComparison } from "./service";
import { createTestSurface, failingModelOnnx } from "../testing/models";
import { callerAs } from "../testing/callers";
import { testActor } from "../testing/actors";
import { configureStage2 } from "../surfaces/stage2";
import { circuitOpenPrefix } from "../rerank/breakers";
import { percentOfShare } from "../domain/percent";

// Shadow traffic on real PostgreSQL and real onnxruntime sessions: sampled requests are scored
// again by the candidate after the response, with the same features and constraints, and stored
// with their comparison; a failing candidate never touches the response.

const spec = demoFeatureSpec();
const caller = () => callerAs(["ml_engineer"], "ml@rerank.local");
let candidates: Array<{ id: string; retrievalScore: number }>;
let flaggedIds: string[];

async function send(surface: string, ids: string[], topK = 10) {
  const responses = [];
  for (const requestId of ids) responses.push(await rerank({ surface, requestId, topK, userKey: `u-${requestId}`, candidates }));
  await shadowIdle();
  await telemetry().shadow.flush();
  return responses;
}

type StoredRecord = {
    request_id: string; primary_version_id: string | null; shadow_version_id: string; primary_ranking: unknown; shadow_ranking: unknown;
    overlap_at_10: number | null; rbo: number | null; kendall_tau: number | null; spearman_rho: number | null; shadow_latency_ms: number | null; error: string | null;
    moves: Array<{ id: string; primaryRank: number; shadowRank: number; move: number; primaryScore: number; shadowScore: number; features: Record<string, number | null>; defaulted: string[] }> | null;
};

/** The stored rows, their rankings read back as { id, score } (they are kept as compact tuples). */
const recordsOf = async (surface: string) =>
  (await getDb().$queryRaw<StoredRecord[]>`
    SELECT request_id, primary_version_id, shadow_version_id, primary_ranking, shadow_ranking, overlap_at_10, rbo, kendall_tau, spearman_rho, shadow_latency_ms, moves, error
    FROM shadow_records WHERE surface = ${surface} ORDER BY request_id`)
    .map((r) => ({ ...r, primary_ranking: asRanking(r.primary_ranking), shadow_ranking: asRanking(r.shadow_ranking) }));
const asRanking = (stored: unknown) => readServedList(stored).map(({ id, score }) => ({ id, score }));

async function configure(surface: string, alias: string | null, sampleRate: number) {
  await caller().shadow.configure({ surface, alias, sampleRate, reason: "test" });
  await surfaceConfigs().refresh();
}

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  const catalog = await db.catalogItem.findMany({ select: { id: true, safetyFlags: true }, orderBy: { id: "asc" }, take: 80 });
  candidates = catalog.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / catalog.length }));
  flaggedIds = catalog.filter((c) => c.safetyFlags.includes("recalled") || c.safetyFlags.includes("adult")).map((c) => c.id);
  const constraints = { blockedFlags: ["recalled", "adult"] };
  // The serving model's weights in a file of its own (a registry refuses the same bytes twice).
  const sameScoresOtherBytes = linearRankerOnnx([...DEMO_MODELS.linear.weights], DEMO_MODELS.linear.bias, { metadata: { model: "copy-of-v2" } });
  await createTestSurface(db, { key: "t-shadow", bytes: demoModelBytes("linear"), featureSpec: spec, shadowBytes: demoModelBytes("candidate"), constraints });
  await createTestSurface(db, { key: "t-shadow-same", bytes: demoModelBytes("linear"), featureSpec: spec, shadowBytes: sameScoresOtherBytes, constraints });
  await createTestSurface(db, { key: "t-shadow-fails", bytes: demoModelBytes("linear"), featureSpec: spec, shadowBytes: failingModelOnnx(spec.length), constraints });
}, 120_000);

afterEach(() => setEnv("DEBUG_MASKED_FIELDS", undefined));

describe("shadow traffic", () => {
  it("stores every sampled request with the served list, the candidate's constrained list and their agreement", async () => {
    expect(flaggedIds.length).toBeGreaterThan(0);
    await configure("t-shadow", "shadow", 1);
    const ids = Array.from({ length: 12 }, (_, i) => `shadow-all-${i}`);
    const responses = await send("t-shadow", ids);
    const records = await recordsOf("t-shadow");
    expect(records.map((r) => r.request_id)).toEqual([...ids].sort());

    const db = getDb();
    const model = await db.model.findUniqueOrThrow({ where: { name: "t-shadow-model" }, include: { aliases: true } });
    const versionOf = (alias: string) => model.aliases.find((a) => a.name === alias)!.versionId;
    for (const record of records) {
      const response = responses.find((r) => r.requestId === record.request_id)!;
      expect(response.fallback.used).toBe(false);
      expect(record.primary_version_id).toBe(versionOf("production"));
      expect(record.shadow_version_id).toBe(versionOf("shadow"));
      expect(record.primary_ranking.map((i) => i.id)).toEqual(response.items.map((i) => i.id));
      expect(record.shadow_ranking).toHaveLength(10);
      // The candidate's list went through the same constraints: blocked items never appear.
      expect(record.shadow_ranking.some((i) => flaggedIds.includes(i.id))).toBe(false);
      expect(record.overlap_at_10).toBeGreaterThanOrEqual(0);
      expect(record.overlap_at_10).toBeLessThanOrEqual(1);
      expect(record.kendall_tau).toBeGreaterThan(-1);
      expect(record.rbo).toBeCloseTo(rankBiasedOverlap(record.primary_ranking.map((i) => i.id), record.shadow_ranking.map((i) => i.id)), 12);
      expect(record.shadow_latency_ms).toBeGreaterThan(0);
      expect(record.error).toBeNull();
      // The largest moves among the items either side showed, with every feature both models saw.
      const shown = new Set([...record.primary_ranking, ...record.shadow_ranking].map((i) => i.id));
      expect(record.moves!.length).toBe(5);
      for (const m of record.moves!) {
        expect(shown.has(m.id)).toBe(true);
        expect(m.move).toBe(m.primaryRank - m.shadowRank);
        expect(Object.keys(m.features).sort()).toEqual(spec.map((f) => f.name).sort());
        expect(m.features.retrieval_score).toBeCloseTo(candidates.find((c) => c.id === m.id)!.retrievalScore, 6);
      }
      for (let i = 1; i < record.moves!.length; i++) expect(Math.abs(record.moves![i - 1]!.move)).toBeGreaterThanOrEqual(Math.abs(record.moves![i]!.move));
    }
    // The candidate weighs rating and margin differently: its orderings are related but not equal.
    expect(records.some((r) => r.overlap_at_10! < 1 || r.kendall_tau! < 1)).toBe(true);
    expect(records.every((r) => r.kendall_tau! > 0.3)).toBe(true);
  });

  it("finds perfect agreement when the shadow scores exactly like the serving model", async () => {
    await configure("t-shadow-same", "shadow", 1);
    await send("t-shadow-same", ["same-1", "same-2", "same-3"]);
    const records = await recordsOf("t-shadow-same");
    expect(records).toHaveLength(3);
    for (const r of records) {
      expect([r.overlap_at_10, r.rbo, r.kendall_tau, r.spearman_rho]).toEqual([1, 1, 1, 1]);
      expect(r.moves!.every((m) => m.move === 0)).toBe(true);
      expect(r.shadow_ranking.map((i) => i.id)).toEqual(r.primary_ranking.map((i) => i.id));
    }
  });

  it("on a cascade, compares the candidate with stage 1 (the serving model it stands for), not with what stage 2 made of its list (break test: an identical candidate read overlap@10 0.55)", async () => {
    const db = getDb();
    await createTestSurface(db, { key: "t-shadow-s2", bytes: demoModelBytes("candidate"), featureSpec: spec });
    const copy = linearRankerOnnx([...DEMO_MODELS.linear.weights], DEMO_MODELS.linear.bias, { metadata: { model: "copy-of-v2-for-a-cascade" } });
    await createTestSurface(db, { key: "t-shadow-cascade", bytes: demoModelBytes("linear"), featureSpec: spec, shadowBytes: copy, constraints: { blockedFlags: ["recalled", "adult"] } });
    await configureStage2(db, { surface: "t-shadow-cascade", stage2: { model: "t-shadow-s2-model", alias: "production", rerankCount: 20, budgetMs: 5000 } }, testActor("shadow-test"));
    await configure("t-shadow-cascade", "shadow", 1);
    const responses = await send("t-shadow-cascade", ["cascade-1", "cascade-2", "cascade-3"]);
    const records = await recordsOf("t-shadow-cascade");
    expect(records).toHaveLength(3);
    for (const r of records) {
      expect([r.overlap_at_10, r.rbo, r.kendall_tau, r.spearman_rho]).toEqual([1, 1, 1, 1]);
      expect(r.shadow_ranking.map((i) => i.id)).toEqual(r.primary_ranking.map((i) => i.id));
    }
    // Stage 2 did reorder what was served: the served lists are not stage 1's.
    expect(records.map((r) => r.primary_ranking.map((i) => i.id))).not.toEqual(responses.map((r) => r.items.map((i) => i.id)));
  });

  it("mirrors exactly the requests in the deterministic sample", async () => {
    await configure("t-shadow", "shadow", 0.3);
    const ids = Array.from({ length: 60 }, (_, i) => `shadow-sample-${i}`);
    const expected = ids.filter((id) => inShadowSample(id, 0.3));
    expect(expected.length).toBeGreaterThan(5);
    expect(expected.length).toBeLessThan(35);
    await send("t-shadow", ids);
    const stored = (await recordsOf("t-shadow")).map((r) => r.request_id).filter((id) => id.startsWith("shadow-sample-"));
    expect(stored).toEqual([...expected].sort());
  });

  it("records a failing candidate's error on its rows and serves every response from the production model", async () => {
    await configure("t-shadow-fails", "shadow", 1);
    const errorsBefore = (await metrics.shadowRequests.get()).values.find((v) => v.labels.surface === "t-shadow-fails" && v.labels.outcome === "shadow_error")?.value ?? 0;
    const responses = await send("t-shadow-fails", ["fails-1", "fails-2", "fails-3", "fails-4"]);
    expect(responses.every((r) => !r.fallback.used && r.modelVersion?.alias === "production")).toBe(true);
    const records = await recordsOf("t-shadow-fails");
    expect(records).toHaveLength(4);
    for (const r of records) {
      expect(r.error).toBeTruthy();
      expect(r.shadow_ranking).toEqual([]);
      expect(r.overlap_at_10).toBeNull();
      expect([r.rbo, r.moves]).toEqual([null, null]);
    }
    const errorsAfter = (await metrics.shadowRequests.get()).values.find((v) => v.labels.surface === "t-shadow-fails" && v.labels.outcome === "shadow_error")!.value;
    expect(errorsAfter - errorsBefore).toBe(4);

    const overview = await caller().shadow.overview({ surface: "t-shadow-fails", hours: 1 });
    expect(overview.selected).toMatchObject({ recordsInWindow: 4 });
    expect(overview.selected!.summary).toMatchObject({ records: 4, compared: 0, errors: 4 });
  });

  it("summarises the window and lists the strongest disagreements first", async () => {
    const overview = await caller().shadow.overview({ surface: "t-shadow", hours: 1 });
    const records = await recordsOf("t-shadow");
    expect(overview.surface).toMatchObject({ shadowAlias: "shadow", sampleRate: 0.3, servingAlias: "production" });
    expect(overview.selected!.label).toBe("t-shadow-model v3");
    expect(overview.selected!.summary.compared).toBe(records.length);
    const mean = records.reduce((s, r) => s + r.overlap_at_10!, 0) / records.length;
    expect(overview.selected!.summary.overlapAt10.mean).toBeCloseTo(mean, 9);
    expect(overview.selected!.summary.overlapAt10.histogram.reduce((s, b) => s + b.count, 0)).toBe(records.length);

    const { disagreements: worst, recentErrors } = await caller().shadow.disagreements({ surface: "t-shadow", versionId: overview.selected!.versionId, hours: 1, limit: 5 });
    expect(worst).toHaveLength(5);
    expect(recentErrors).toEqual([]);
    const lowest = Math.min(...records.map((r) => r.overlap_at_10!));
    expect(worst[0]!.overlapAt10).toBe(lowest);
    for (let i = 1; i < worst.length; i++) {
      expect(worst[i]!.overlapAt10!).toBeGreaterThanOrEqual(worst[i - 1]!.overlapAt10!);
      // Within one overlap, the lower RBO (the lists differ nearer the top) comes first.
      if (worst[i]!.overlapAt10 === worst[i - 1]!.overlapAt10) expect(worst[i]!.rbo!).toBeGreaterThanOrEqual(worst[i - 1]!.rbo!);
    }
    expect(worst[0]!.primary).toHaveLength(10);
  });

  it("lists the comparisons even when candidate errors outnumber the list, and the newest errors apart (break test: 8 errors filled a list of 8)", async () => {
    const overview = await caller().shadow.overview({ surface: "t-shadow", hours: 1 });
    const versionId = overview.selected!.versionId;
    const before = await caller().shadow.disagreements({ surface: "t-shadow", versionId, hours: 1, limit: 5 });
    // Twelve error rows for the same candidate, newer than every comparison: a candidate past its budget on most requests.
    const db = getDb();
    const now = Date.now();
    for (let i = 0; i < 12; i++) {
      await db.$executeRaw`
        INSERT INTO shadow_records (id, request_id, ts, surface, primary_version_id, shadow_version_id, primary_ranking, shadow_ranking, error)
        SELECT ${`crowd-${i}:${versionId}`}, ${`crowd-${i}`}, ${new Date(now + i)}, surface, primary_version_id, shadow_version_id, primary_ranking, '[]'::json, ${`candidate run over the 30 ms budget (${i})`}
        FROM shadow_records WHERE surface = 't-shadow' AND shadow_version_id = ${versionId} LIMIT 1`;
    }
    // Newer still, refusals of the circuit those failures opened: they say less than the failures.
    for (let i = 0; i < 3; i++) {
      await db.$executeRaw`
        INSERT INTO shadow_records (id, request_id, ts, surface, primary_version_id, shadow_version_id, primary_ranking, shadow_ranking, error)
        SELECT ${`crowd-open-${i}:${versionId}`}, ${`crowd-open-${i}`}, ${new Date(now + 100 + i)}, surface, primary_version_id, shadow_version_id, primary_ranking, '[]'::json,
          ${`${circuitOpenPrefix("t-shadow-model", "t-shadow#shadow")} for every caller`}
        FROM shadow_records WHERE surface = 't-shadow' AND shadow_version_id = ${versionId} LIMIT 1`;
    }
    try {
      const after = await caller().shadow.disagreements({ surface: "t-shadow", versionId, hours: 1, limit: 5 });
      expect(after.disagreements).toEqual(before.disagreements);
      expect(after.disagreements.every((d) => d.error === null)).toBe(true);
      // The newest errors, newest first, at most three; refusals of the open circuit after the failures.
      expect(after.recentErrors.map((e) => [e.requestId, e.error])).toEqual([11, 10, 9].map((i) => [`crowd-${i}`, `candidate run over the 30 ms budget (${i})`]));
      expect(after.recentErrors[0]!.primary.length).toBeGreaterThan(0);
      expect(after.recentErrors[0]!.shadow).toEqual([]);
      // A list of one holds one of each.
      const one = await caller().shadow.disagreements({ surface: "t-shadow", versionId, hours: 1, limit: 1 });
      expect([one.disagreements.length, one.recentErrors.length]).toEqual([1, 1]);
      // Refusals alone are still listed, newest first.
      await db.$executeRaw`DELETE FROM shadow_records WHERE request_id LIKE 'crowd-%' AND request_id NOT LIKE 'crowd-open-%'`;
      const refused = await caller().shadow.disagreements({ surface: "t-shadow", versionId, hours: 1, limit: 5 });
      expect(refused.recentErrors.map((e) => e.requestId)).toEqual(["crowd-open-2", "crowd-open-1", "crowd-open-0"]);
    } finally {
      await db.$executeRaw`DELETE FROM shadow_records WHERE request_id LIKE 'crowd-%'`;
    }
    // A candidate whose every run failed lists no comparison, and its errors.
    const fails = await caller().shadow.overview({ surface: "t-shadow-fails", hours: 1 });
    const failed = await caller().shadow.disagreements({ surface: "t-shadow-fails", versionId: fails.selected!.versionId, hours: 1, limit: 8 });
    expect(failed.disagreements).toEqual([]);
    expect(failed.recentErrors).toHaveLength(3);
    expect(failed.recentErrors.every((e) => e.error !== null)).toBe(true);
  });

  it("opens one disagreement side by side, with the features behind its largest moves (masked where configured)", async () => {
    const overview = await caller().shadow.overview({ surface: "t-shadow", hours: 1 });
    expect(overview.selected!.summary.rbo.mean).toBeGreaterThan(0);
    expect(overview.selected!.version).toBe(3);
    const { disagreements: [worst] } = await caller().shadow.disagreements({ surface: "t-shadow", versionId: overview.selected!.versionId, hours: 1, limit: 1 });
    const row = (await recordsOf("t-shadow")).find((r) => r.request_id === worst!.requestId)!;
    const comparison = await caller().shadow.comparison({ requestId: worst!.requestId, versionId: overview.selected!.versionId });
    expect(comparison).toMatchObject({
      requestId: worst!.requestId, surface: "t-shadow", overlapAt10: row.overlap_at_10, rbo: row.rbo, kendallTau: row.kendall_tau,
      serving: { label: "t-shadow-model v1" }, candidate: { label: "t-shadow-model v3", modelName: "t-shadow-model", version: 3 }, servingNow: 1,
    });
    expect(comparison.primary).toEqual(row.primary_ranking);
    expect(comparison.shadow).toEqual(row.shadow_ranking);
    // Stored compact: one [id, score] tuple per item.
    const [stored] = await getDb().$queryRaw<Array<{ primary_ranking: unknown }>>`SELECT primary_ranking FROM shadow_records WHERE request_id = ${worst!.requestId}`;
    expect(stored!.primary_ranking).toEqual(row.primary_ranking.map((i) => [i.id, i.score]));
    expect(comparison.moves).toEqual(row.moves);
    // Features come back in the feature spec's order (JSONB sorts keys its own way).
    for (const m of comparison.moves!) expect(Object.keys(m.features)).toEqual(spec.map((f) => f.name));

    // A feature named in DEBUG_MASKED_FIELDS shows as a keyed hash, never its value.
    setEnv("DEBUG_MASKED_FIELDS", "userKey,rating");
    const masked = await caller().shadow.comparison({ requestId: worst!.requestId, versionId: overview.selected!.versionId });
    for (const m of masked.moves!) {
      expect(m.features.rating).toMatch(/^#[0-9a-f]{12}$/);
      expect(m.features.popularity).toBe(row.moves!.find((r) => r.id === m.id)!.features.popularity);
    }

    await expect(caller().shadow.comparison({ requestId: "never-sent", versionId: overview.selected!.versionId })).rejects.toThrow(/never-sent/);
    await expect(callerAs(["viewer"], "viewer@rerank.local").shadow.comparison({ requestId: worst!.requestId, versionId: overview.selected!.versionId })).rejects.toThrow();
  });

  it("reads rows written before the compact rankings (objects, jsonb) the same", async () => {
    const overview = await caller().shadow.overview({ surface: "t-shadow", hours: 1 });
    const versionId = overview.selected!.versionId;
    const disagreements = await caller().shadow.disagreements({ surface: "t-shadow", versionId, hours: 1, limit: 5 });
    const comparison = await caller().shadow.comparison({ requestId: disagreements.disagreements[0]!.requestId, versionId });
    // Every row of the surface rewritten as the writer wrote it before: { id, score } objects.
    const rewritten = await getDb().$executeRaw`
      UPDATE shadow_records SET
        primary_ranking = (SELECT coalesce(json_agg(json_build_object('id', e ->> 0, 'score', (e ->> 1)::float8) ORDER BY i), '[]'::json) FROM json_array_elements(primary_ranking) WITH ORDINALITY AS t(e, i)),
        shadow_ranking = (SELECT coalesce(json_agg(json_build_object('id', e ->> 0, 'score', (e ->> 1)::float8) ORDER BY i), '[]'::json) FROM json_array_elements(shadow_ranking) WITH ORDINALITY AS t(e, i))
      WHERE surface = 't-shadow' AND json_typeof(primary_ranking -> 0) = 'array'`;
    expect(rewritten).toBeGreaterThan(10);
    expect(await caller().shadow.overview({ surface: "t-shadow", hours: 1 })).toEqual(overview);
    expect(await caller().shadow.disagreements({ surface: "t-shadow", versionId, hours: 1, limit: 5 })).toEqual(disagreements);
    expect(await caller().shadow.comparison({ requestId: disagreements.disagreements[0]!.requestId, versionId })).toEqual(comparison);
    expect(comparison.primary.length).toBeGreaterThan(0);
  });

  it("refuses a shadow alias that serves the surface or does not exist, naming the field, and keeps the stored config", async () => {
    // Mirroring more than half the traffic needs a reason on the server too (break test: none was asked); half or less does not.
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 0.6 })).rejects.toThrow(/^reason: say why \(mirroring more than half/);
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 0.6, reason: "\u202egnilpmas" })).rejects.toThrow(/^reason: must not contain bidirectional control characters/);
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: "production", sampleRate: 1, reason: "compare" })).rejects.toThrow(
      'alias: "production" is the alias that serves "t-shadow": a shadow compares another version',
    );
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: "nightly", sampleRate: 1, reason: "compare" })).rejects.toThrow(
      'alias: t-shadow-model has no alias "nightly" (it has: production, shadow)',
    );
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 1.5 })).rejects.toThrow(/sampleRate/);
    await expect(caller().shadow.configure({ surface: "nowhere", alias: null, sampleRate: 0 })).rejects.toThrow('surface "nowhere" does not exist');
    const surface = await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } });
    expect([surface.shadowAlias, surface.shadowSampleRate]).toEqual(["shadow", 0.3]);
    const audit = await getDb().auditLog.findMany({ where: { action: "surface.shadow", entityId: surface.id }, orderBy: { ts: "asc" } });
    expect(audit.map((a) => a.after)).toEqual([{ alias: "shadow", sampleRate: 1 }, { alias: "shadow", sampleRate: 0.3 }]);
    expect(audit[0]).toMatchObject({ actor: "ml@rerank.local", before: { alias: null, sampleRate: 0 } });
  });

  it("a press that changes nothing writes nothing, also five at once (break test: each was audited and bumped the surface's config)", async () => {
    const surface = await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } });
    const entries = () => getDb().auditLog.count({ where: { action: "surface.shadow", entityId: surface.id } });
    const before = await entries();
    const press = () => caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 0.45, reason: "same again" });
    await Promise.all(Array.from({ length: 5 }, press));
    expect(await entries()).toBe(before + (surface.shadowAlias === "shadow" && surface.shadowSampleRate === 0.45 ? 0 : 1));
    const version = (await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } })).configVersion;
    expect(await press()).toMatchObject({ shadowAlias: "shadow", shadowSampleRate: 0.45, configVersion: version });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } })).configVersion).toBe(version);
    await configure("t-shadow", surface.shadowAlias, surface.shadowSampleRate);
  });

  it("a save pinned to the mirroring its page showed is refused once another landed, writing nothing (break test: a stale form's 5 % overwrote a newer 60 %)", async () => {
    const stored = await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } });
    const shown = { alias: stored.shadowAlias, sampleRate: stored.shadowSampleRate };
    // Bob's page and Alice's both show `shown`; Bob saves 60 % with a reason.
    await caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 0.6, reason: "wider sample", expectBefore: shown });
    const entries = await getDb().auditLog.count({ where: { action: "surface.shadow", entityId: stored.id } });
    // Alice's stale form saves 5 %: refused, naming both.
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 0.05, expectBefore: shown }))
      .rejects.toMatchObject({ code: "CONFLICT", message: `shadow of t-shadow changed since it was shown (it showed shadow at ${percentOfShare(shown.sampleRate)}%, it is now shadow at 60%): not applied over it; look at it again and decide` });
    await expect(caller().shadow.configure({ surface: "t-shadow", alias: null, sampleRate: 0, expectBefore: shown })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await getDb().auditLog.count({ where: { action: "surface.shadow", entityId: stored.id } })).toBe(entries);
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } })).shadowSampleRate).toBe(0.6);
    // Pinned to what is stored now, it applies; without a pin (scripts), as before.
    await caller().shadow.configure({ surface: "t-shadow", alias: "shadow", sampleRate: 0.05, expectBefore: { alias: "shadow", sampleRate: 0.6 } });
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } })).shadowSampleRate).toBe(0.05);
    await configure("t-shadow", shown.alias, shown.sampleRate);
    expect((await getDb().surface.findUniqueOrThrow({ where: { key: "t-shadow" } })).shadowSampleRate).toBe(shown.sampleRate);
  });

  it("stops mirroring when the alias is cleared or the kill switch is on", async () => {
    await configure("t-shadow", null, 1);
    await send("t-shadow", ["after-clear-1", "after-clear-2"]);
    await configure("t-shadow", "shadow", 1);
    await getDb().surface.update({ where: { key: "t-shadow" }, data: { killSwitch: true } });
    await surfaceConfigs().refresh();
    await send("t-shadow", ["killed-1", "killed-2"]);
    await getDb().surface.update({ where: { key: "t-shadow" }, data: { killSwitch: false } });
    await surfaceConfigs().refresh();
    const ids = (await recordsOf("t-shadow")).map((r) => r.request_id);
    expect(ids.filter((id) => id.startsWith("after-clear-") || id.startsWith("killed-"))).toEqual([]);
  });
});

describe("one comparison opened by its request id", () => {
  const DAY = 86_400_000;
  let versionId: string;
  const logged = (requestId: string, ts: Date, caller: string | null) => serialiseRequestLogRow({
    requestId, ts, surface: "t-shadow", userKey: null, sessionKey: null, context: {}, experimentKey: null, experimentPhase: null, variantKey: null, exposed: false,
    modelVersionId: null, fallbackUsed: false, fallbackReason: null, candidateCount: 1, topK: 1, served: [{ id: "item-1", score: 1 }], timings: {}, latencyMs: 1, defaultedFeatures: 0, caller,
  });
  const mirrored = (requestId: string, ts: Date, caller: string | null, error: string): ShadowRow => ({
    requestId, ts, surface: "t-shadow", primaryVersionId: null, shadowVersionId: versionId, primaryRanking: [{ id: "item-1", score: 1 }], shadowRanking: [],
    overlapAt10: null, rbo: null, kendallTau: null, spearmanRho: null, primaryLatencyMs: null, shadowLatencyMs: null, moves: null, error, caller,
  });

  beforeAll(async () => {
    const client = await connectClient({ connectionString: databaseUrl() });
    try { await ensurePartitions(client, { daysBack: 6 }); } finally { await client.end(); }
    versionId = (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-shadow-model" }, version: 3 } })).id;
  });

  it("reads the one day partition of the ts a link names, and without one the days the log keeps (break test: `ts IS NULL OR ts = …` probed every partition)", async () => {
    const ts = new Date(Date.now() - 3 * DAY);
    telemetry().shadow.enqueue(mirrored("cmp-days-1", ts, null, "linked"));
    await telemetry().shadow.flush();
    // Planned with the values (the driver's unnamed statements) and generic (a statement prepared once): the old form pruned only the first.
    const readBy = async (input: { ts?: Date; owner?: string }) => {
      const queries = await rawQueriesOf(getDb(), () => shadowComparison(getDb(), { requestId: "cmp-days-1", versionId, ...input }).catch(() => null));
      const lookup = queries.find((q) => q.sql.includes("FROM shadow_records"))!;
      return Promise.all((["custom", "generic"] as const).map((plan) => partitionsRead(getDb(), lookup, "shadow_records", { plan })));
    };
    expect((await shadowComparison(getDb(), { requestId: "cmp-days-1", versionId, ts, owner: "" })).error).toBe("linked");
    const linked = [partitionName("shadow_records", utcDay(ts))];
    expect(await readBy({ ts, owner: "" })).toEqual([linked, linked]);
    setEnv("RETENTION_DAYS", "2");
    try {
      const today = utcDay(new Date()).getTime();
      const kept = [-2, -1, 0, 1].map((d) => partitionName("shadow_records", new Date(today + d * DAY)));
      expect(await readBy({})).toEqual([kept, kept]);
      // Three days back is past the two days kept: found only by the link that names it.
      await expect(shadowComparison(getDb(), { requestId: "cmp-days-1", versionId })).rejects.toThrow(/cmp-days-1/);
    } finally {
      setEnv("RETENTION_DAYS", undefined);
    }
  });

  it("lets a row of unknown owner ('') stand in for a caller's only when its request is that caller's alone at that ts (break test: another, shared request's comparison opened as the caller's)", async () => {
    const ts = new Date(Date.now() - 60_000);
    const A = "api_key:cmp-owner-a";
    // Two requests with one id in one millisecond: A's and a shared one (a null caller: owner ''); only the shared one was mirrored.
    telemetry().requests.enqueue(logged("cmp-shared-1", ts, A));
    telemetry().requests.enqueue(logged("cmp-shared-1", ts, null));
    telemetry().shadow.enqueue(mirrored("cmp-shared-1", ts, null, "the shared request's"));
    // A request of A's alone at its ts, whose comparison an earlier version spilled without its owner.
    telemetry().requests.enqueue(logged("cmp-alone-1", ts, A));
    telemetry().shadow.enqueue(mirrored("cmp-alone-1", ts, null, "A's, spilled"));
    await telemetry().requests.flush();
    await telemetry().shadow.flush();
    await expect(shadowComparison(getDb(), { requestId: "cmp-shared-1", versionId, ts, owner: A })).rejects.toThrow(/cmp-shared-1/);
    expect(await shadowComparison(getDb(), { requestId: "cmp-shared-1", versionId, ts, owner: "" })).toMatchObject({ owner: "", error: "the shared request's" });
    expect(await shadowComparison(getDb(), { requestId: "cmp-alone-1", versionId, ts, owner: A })).toMatchObject({ owner: "", error: "A's, spilled" });
    // A's own row, once there, comes first.
    telemetry().shadow.enqueue(mirrored("cmp-shared-1", ts, A, "A's own"));
    await telemetry().shadow.flush();
    expect(await shadowComparison(getDb(), { requestId: "cmp-shared-1", versionId, ts, owner: A })).toMatchObject({ owner: A, error: "A's own" });
  });
});
