import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GET as downloadHttp } from "../../app/api/v1/models/[name]/versions/[version]/artifact/route";
import { env, setEnv } from "../config";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { ConflictError } from "../errors";
import { createModel } from "./models";
import { setAlias } from "./versions";
import { callerAs, keyHeaders } from "../testing/callers";
import { testActor } from "../testing/actors";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { reversedRowsOnnx, sqrtOfGapOnnx } from "../testing/models";

// The registry through its real entry points: the multipart upload endpoint and tRPC.

// The upload goes through the console's front door on a real port, as callers send it.
let frontDoor: TestFrontDoor;
beforeAll(async () => {
  frontDoor = await startTestFrontDoor();
});
afterAll(() => frontDoor?.close());

const spec = demoFeatureSpec();
const MODEL = `reg-${Date.now().toString(36)}`;

async function upload(name: string, file: Blob | null, fields: Record<string, string>) {
  const form = new FormData();
  if (file) form.set("file", file, "model.onnx");
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return fetch(`${frontDoor.url}/api/v1/models/${name}/versions`, { method: "POST", body: form, headers: await keyHeaders("automation", ["ml_engineer"]) });
}

beforeAll(async () => {
  await createModel(getDb(), { name: MODEL, owner: "ml@rerank.local", description: "registry test" }, testActor());
});

describe("uploading versions", () => {
  it("stores a valid model and refuses, with a reason, a mismatched signature, a non-ONNX file, an empty and an oversized file", async () => {
    const ok = await upload(MODEL, new Blob([Buffer.from(demoModelBytes("linear"))]), { featureSpec: JSON.stringify(spec), metrics: JSON.stringify({ "ndcg@10": 0.71 }) });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ model: MODEL, version: 1 });

    const mismatch = await upload(MODEL, new Blob([Buffer.from(linearRankerOnnx([1, 2, 3], 0))]), { featureSpec: JSON.stringify(spec) });
    expect(mismatch.status).toBe(400);
    expect((await mismatch.json()).error.message).toBe('featureSpec: the model does not match its feature spec: input "features" takes 3 features but the feature spec declares 7');

    const notOnnx = await upload(MODEL, new Blob(["this is a README, not a model"]), { featureSpec: JSON.stringify(spec) });
    expect(notOnnx.status).toBe(400);
    expect((await notOnnx.json()).error.message).toMatch(/^file: not a loadable ONNX model/);

    // A feature spec's fault is named once, at its whole path (#11 break test: "featureSpec: featureSpec[0].source: …").
    const noSource = await upload(MODEL, new Blob([Buffer.from(demoModelBytes("linear"))]), { featureSpec: JSON.stringify([{ name: "a", default: 0 }, { name: "b", default: 0 }]) });
    expect(noSource.status).toBe(400);
    expect((await noSource.json()).error.message).toBe(
      'featureSpec[0].source: Invalid option: expected one of "candidate"|"item"|"user"; featureSpec[1].source: Invalid option: expected one of "candidate"|"item"|"user"',
    );

    const empty = await upload(MODEL, new Blob([]), { featureSpec: JSON.stringify(spec) });
    expect(empty.status).toBe(400);
    expect((await empty.json()).error.message).toBe("file: the file is empty");

    const previous = process.env.MODEL_MAX_BYTES;
    setEnv("MODEL_MAX_BYTES", "200");
    expect(env().MODEL_MAX_BYTES).toBe(200);
    try {
      const big = await upload(MODEL, new Blob([Buffer.from(demoModelBytes("linear"))]), { featureSpec: JSON.stringify(spec) });
      expect(big.status).toBe(400);
      expect((await big.json()).error.message).toMatch(/^file: .* exceeds the .* limit \(MODEL_MAX_BYTES\)/);
    } finally {
      setEnv("MODEL_MAX_BYTES", previous);
    }

    const badSpec = await upload(MODEL, new Blob([Buffer.from(demoModelBytes("linear"))]), { featureSpec: "[{\"name\": 1}]" });
    expect(badSpec.status).toBe(400);
    expect((await badSpec.json()).error.message).toMatch(/^featureSpec\[0\]\.name: Invalid input: expected string, received number; /);

    const model = await callerAs(["admin"]).models.get({ name: MODEL });
    expect(model.versions.map((v) => v.version)).toEqual([1]);
    expect(model.versions[0]!.metrics).toEqual({ "ndcg@10": 0.71 });
    const audit = await getDb().auditLog.count({ where: { action: "model.version.create", entityId: model.versions[0]!.id } });
    expect(audit).toBe(1);
  });

  it("refuses a form with a misspelt, repeated or extra part, a coerced value or a key the registry writes, naming it, and stores nothing (break test: parent_version and a second metrics were dropped without a word)", async () => {
    const versions = async () => getDb().modelVersion.count({ where: { model: { name: MODEL } } });
    const before = await versions();
    const model = () => new Blob([Buffer.from(demoModelBytes("linear"))]);
    const send = (build: (form: FormData) => void) => {
      const form = new FormData();
      build(form);
      return keyHeaders("automation", ["ml_engineer"]).then((headers) => fetch(`${frontDoor.url}/api/v1/models/${MODEL}/versions`, { method: "POST", body: form, headers }));
    };
    const cases: Array<[(form: FormData) => void, string]> = [
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("parent_version", "1")), "parent_version: unknown field (the form takes file, format, featureSpec, metadata, metrics, parentVersion)"],
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("__proto__", "{}")), "__proto__: unknown field (the form takes file, format, featureSpec, metadata, metrics, parentVersion)"],
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.append("metrics", '{"a":1}'), f.append("metrics", '{"b":2}')), "metrics: sent twice: send each field once"],
      [(f) => (f.append("file", model(), "a.onnx"), f.append("file", model(), "b.onnx"), f.set("featureSpec", JSON.stringify(spec))), "file: sent twice: attach one file"],
      [(f) => (f.set("file", model(), "m.onnx"), f.set("model", model(), "n.onnx"), f.set("featureSpec", JSON.stringify(spec))), 'model: a file part must be named "file"'],
      // Re-break: a field is read as sent, not coerced ("0x1" was version 1, an empty format onnx).
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("parentVersion", "0x1")), 'parentVersion: "0x1" is not a version number (1, 2, …); leave the field out for none'],
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("parentVersion", "")), 'parentVersion: "" is not a version number (1, 2, …); leave the field out for none'],
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("format", "")), "format: empty: leave the field out for onnx, or name a format"],
      // Keys the registry writes itself (re-break: {"uploadWarnings":"boom"} was stored, and the version's page answered 500 for good).
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("metadata", '{"uploadWarnings":"boom"}')), "metadata.uploadWarnings: set by the registry itself, not by the uploader"],
      [(f) => (f.set("file", model(), "m.onnx"), f.set("featureSpec", JSON.stringify(spec)), f.set("metadata", '{"notes":"ok","conversionMaxAbsDiff":0}')), "metadata.conversionMaxAbsDiff: set by the registry itself, not by the uploader"],
    ];
    for (const [build, message] of cases) {
      const answer = await send(build);
      expect([answer.status, (await answer.json()).error.message]).toEqual([400, message]);
    }
    expect(await versions()).toBe(before);
  });

  it("refuses the same artifact twice and records lineage and a downloadable artifact", async () => {
    const again = await upload(MODEL, new Blob([Buffer.from(demoModelBytes("linear"))]), { featureSpec: JSON.stringify(spec) });
    expect(again.status).toBe(409);
    expect((await again.json()).error.message).toMatch(/is already .* v1/);
    const child = await upload(MODEL, new Blob([Buffer.from(demoModelBytes("popularity"))]), { featureSpec: JSON.stringify(spec), parentVersion: "1", metadata: JSON.stringify({ notes: "child" }) });
    expect(child.status).toBe(201);
    const card = await callerAs(["admin"]).models.version({ name: MODEL, version: 2 });
    expect(card.lineage.map((l) => l.version)).toEqual([1]);
    expect(card.metadata).toMatchObject({ notes: "child" });
    const download = await downloadHttp(new Request("http://test", { headers: await keyHeaders("automation", ["viewer"]) }), { params: Promise.resolve({ name: MODEL, version: "2" }) });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(Buffer.from(demoModelBytes("popularity")))).toBe(true);
  });

  it("stores a version whose spec names a stored feature nobody carries, and says so in its answer and metadata (break test: a misspelt name was served as its default without a word)", async () => {
    const typo = spec.findIndex((f) => f.source === "item");
    const misspelt = spec.map((f, i) => (i === typo ? { ...f, name: `${f.name}_7d` } : f));
    const answer = await upload(MODEL, new Blob([Buffer.from(linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0.25))]), { featureSpec: JSON.stringify(misspelt) });
    expect(answer.status).toBe(201);
    const body = await answer.json();
    expect(body.warnings).toEqual([expect.stringMatching(new RegExp(`^featureSpec\\[${typo}\\]: no item in the feature store carries "${spec[typo]!.name}_7d" \\([\\d,]+ sampled\\): it is served as its default \\(${spec[typo]!.default}\\) until they do$`))]);
    const stored = await getDb().modelVersion.findUniqueOrThrow({ where: { id: body.id } });
    expect((stored.metadata as { uploadWarnings?: string[] }).uploadWarnings).toEqual(body.warnings);
    // The names the store carries raise nothing.
    const clean = await upload(MODEL, new Blob([Buffer.from(linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8], 0.25))]), { featureSpec: JSON.stringify(spec) });
    expect((await clean.json()).warnings).toEqual([]);
  });

  it("refuses a model whose scores depend on the row's position in the batch, and one that is NaN on real rows of the feature store (break test: both were stored, 201)", async () => {
    const versions = async () => getDb().modelVersion.count({ where: { model: { name: MODEL } } });
    const before = await versions();
    // Scores out in reverse batch order: ranked the worst first in production.
    const reversed = await upload(MODEL, new Blob([Buffer.from(reversedRowsOnnx(spec.length))]), { featureSpec: JSON.stringify(spec) });
    expect(reversed.status).toBe(400);
    expect((await reversed.json()).error.message).toMatch(/^file: the model's scores depend on the row's position in the batch: sample row \d+ scored \S+ at position \d+ of \d+ and \S+ at position \d+ of \d+; /);
    // sqrt(0.21 − margin): finite at the default (0.2) and the mean (0.201), NaN for the items whose margin is above 0.21 (about half the catalog).
    const margin = spec.findIndex((f) => f.name === "margin");
    const nanOnRealRows = await upload(MODEL, new Blob([Buffer.from(sqrtOfGapOnnx(spec.length, margin, 0.21))]), { featureSpec: JSON.stringify(spec) });
    expect(nanOnRealRows.status).toBe(400);
    const message = (await nanOnRealRows.json()).error.message as string;
    expect(message).toMatch(/^file: the model scored \d+ of 64 rows sampled from the feature store non-finite \(NaN\), so every request with such an item would fall back: item "[^"]+" with retrieval_score=0, popularity=[\d.]+, .*, margin=0\.(2[1-9]|[3-9])/);
    // The item named carries that margin in the store.
    const itemId = /item "([^"]+)"/.exec(message)![1]!;
    const stored = await getDb().itemFeature.findUniqueOrThrow({ where: { itemId } });
    expect((stored.values as Record<string, number>).margin).toBeGreaterThan(0.21);
    expect(await versions()).toBe(before);
  });

  it("refuses a contradictory feature spec naming the field, and warns of a candidate feature nothing fills where that is knowable (break test: stored, 201, without a word)", async () => {
    const file = () => new Blob([Buffer.from(linearRankerOnnx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9], 0.25))]);
    const popularity = spec.findIndex((f) => f.name === "popularity");
    const cases: Array<[FeatureSpec, string]> = [
      [spec.map((f, i) => (i === popularity ? { ...f, distribution: { mean: 3, std: 1, min: 5, max: 1 } } : f)), `featureSpec[${popularity}].distribution.min: 5 is above max (1)`],
      [spec.map((f, i) => (i === popularity ? { ...f, name: "   " } : f)), `featureSpec[${popularity}].name: is blank: name the feature`],
      [spec.map((f) => (f.name === "retrieval_score" ? { ...f, freshnessSeconds: 60 } : f)), "featureSpec[0].freshnessSeconds: a candidate feature comes with each request and is never stale: freshnessSeconds applies to item and user features"],
    ];
    for (const [bad, message] of cases) {
      const answer = await upload(MODEL, file(), { featureSpec: JSON.stringify(bad) });
      expect([answer.status, (await answer.json()).error.message]).toEqual([400, message]);
    }
    const misspelt = spec.map((f) => (f.name === "retrieval_score" ? { ...f, name: "retrievalScore" } : f));
    const answer = await upload(MODEL, file(), { featureSpec: JSON.stringify(misspelt) });
    expect(answer.status).toBe(201);
    expect((await answer.json()).warnings).toEqual(['featureSpec[0]: a candidate\'s retrievalScore fills "retrieval_score", not "retrievalScore": it is served as its default (0) unless each candidate sends an inline feature "retrievalScore"']);
  });

  it("names a duplicate model", async () => {
    await expect(createModel(getDb(), { name: MODEL, owner: "x", description: "" }, testActor())).rejects.toThrow(ConflictError);
  });
});

describe("aliases", () => {
  it("move atomically under concurrent movers, every move audited in order", async () => {
    const db = getDb();
    const model = await db.model.findUniqueOrThrow({ where: { name: MODEL }, include: { versions: true } });
    const [v1, v2] = [model.versions.find((v) => v.version === 1)!, model.versions.find((v) => v.version === 2)!];
    const moves = Array.from({ length: 12 }, (_, i) => setAlias(db, { versionId: i % 2 ? v1.id : v2.id, alias: "canary", actor: testActor(`mover-${i}`) }));
    await Promise.all(moves);
    const alias = await db.modelAlias.findUniqueOrThrow({ where: { modelId_name: { modelId: model.id, name: "canary" } } });
    const audit = await db.auditLog.findMany({ where: { action: "model.alias.set", entityId: model.id }, orderBy: { id: "asc" } });
    expect(audit).toHaveLength(12);
    // A chain: each move's "before" is the previous move's "after", and the last "after" is the state.
    for (let i = 1; i < audit.length; i++) expect((audit[i]!.before as { versionId: string }).versionId).toBe((audit[i - 1]!.after as { versionId: string }).versionId);
    expect((audit.at(-1)!.after as { versionId: string }).versionId).toBe(alias.versionId);
    expect(audit[0]!.before).toBeNull();
  });

  it("names a bad alias", async () => {
    const caller = callerAs(["admin"]);
    await expect(caller.models.setAlias({ versionId: "x", alias: "Prod!", reason: "bad alias" })).rejects.toThrow(/^alias: /);
    // An alias move says why on the server too, not only in the confirm dialog (break test: an empty reason moved production).
    for (const reason of ["", "  ", "\u200b\u200b\u200b"]) await expect(caller.models.setAlias({ versionId: "x", alias: "production", reason })).rejects.toThrow(/^reason: say why/);
  });
});
