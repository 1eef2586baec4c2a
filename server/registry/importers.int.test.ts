import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expectedScores, LARGE_LEAF_ROWS, letorTestRows, LETOR_FEATURES, readFixture } from "../domain/importers/fixtures/rows";
import { openSession } from "../inference/sessions";
import { keyHeaders } from "../testing/callers";
import { createModel } from "./models";
import { testActor } from "../testing/actors";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";

// A LightGBM text model and an XGBoost JSON model, trained on the LETOR sample by the libraries
// themselves, go through the upload endpoint (converted to ONNX and checked on sample rows), are
// stored, and then score every rank.test row as the libraries did (≤ 1e-5; the two models of issue
// 14 point 5 ≤ 1e-6 relative). Hostile files are refused with 400 naming the line or field, uploads
// beyond MODEL_UPLOAD_CONCURRENCY get 503, serving answers while an upload converts, and no
// temporary file is left behind.

// The upload goes through the console's front door on a real port, as callers send it. Uploads
// stream to MODEL_UPLOAD_DIR: a folder of this file's own, so what is left in it can be checked.
let frontDoor: TestFrontDoor;
const uploadTmp = mkdtempSync(path.join(tmpdir(), "importers-int-"));
beforeAll(async () => {
  setEnv("MODEL_UPLOAD_DIR", uploadTmp);
  frontDoor = await startTestFrontDoor();
});
afterAll(async () => {
  await frontDoor?.close();
  setEnv("MODEL_UPLOAD_DIR", undefined);
  rmSync(uploadTmp, { recursive: true, force: true });
});

/** A small XGBoost JSON declaring `numFeature` features. */
const xgboostDeclaring = (numFeature: string) =>
  JSON.stringify({ learner: { gradient_booster: { name: "gbtree", model: { trees: [] } }, learner_model_param: { num_feature: numFeature, base_score: "5E-1" }, objective: { name: "rank:ndcg" } } });

const spec = Array.from({ length: LETOR_FEATURES }, (_, i) => ({ name: `f${i + 1}`, source: "candidate", type: "float", default: 0 }));

let modelCount = 0;
async function newModel(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${modelCount++}`;
  await createModel(getDb(), { name, owner: "ml@rerank.local", description: `imported ${prefix}` }, testActor());
  return name;
}

async function upload(name: string, file: string, fileName: string, format: "lightgbm" | "xgboost" | "onnx", featureSpec: unknown = spec): Promise<Response> {
  const form = new FormData();
  form.set("file", new Blob([file]), fileName);
  form.set("format", format);
  form.set("featureSpec", JSON.stringify(featureSpec));
  return fetch(`${frontDoor.url}/api/v1/models/${name}/versions`, { method: "POST", body: form, headers: await keyHeaders("automation", ["ml_engineer"]) });
}

/** Uploads a fixture, then scores `data` with the stored ONNX. */
async function uploadAndRun(fixture: string, format: "lightgbm" | "xgboost", data: Float32Array, rows: number, featureSpec: Array<{ name: string }> = spec) {
  const name = await newModel(format);
  const response = await upload(name, readFixture(fixture), fixture, format, featureSpec);
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(201);
  const version = await getDb().modelVersion.findUniqueOrThrow({ where: { id: body.id }, include: { artifact: true } });
  expect(version.source).toBe(format);
  const session = await openSession(new Uint8Array(version.artifact!.bytes));
  const output = await session.run({ [version.inputName]: new ort.Tensor("float32", data, [rows, featureSpec.length]) });
  await session.release();
  return { got: output[version.outputName]!.data as Float32Array, metadata: version.metadata as Record<string, unknown>, featureSpec: version.featureSpec as Array<{ missing?: string }> };
}

async function uploadAndScore(fixture: string, format: "lightgbm" | "xgboost") {
  const { data, rows } = letorTestRows();
  const { got } = await uploadAndRun(fixture, format, data, rows);
  const want = expectedScores("letor-expected.json").models[fixture]!;
  const expected = want.scores ?? want.sumOfLeaves!;
  expect(expected).toHaveLength(rows);
  return Math.max(...expected.map((e, i) => Math.abs(e - got[i]!)));
}

describe("importing tree models", () => {
  beforeAll(() => expect(letorTestRows().rows).toBe(768));

  it("a LightGBM model scores the LETOR test rows as LightGBM does", async () => {
    expect(await uploadAndScore("letor-lightgbm.txt", "lightgbm")).toBeLessThanOrEqual(1e-5);
  });

  it("an XGBoost model scores the LETOR test rows as XGBoost does", async () => {
    expect(await uploadAndScore("letor-xgboost.json", "xgboost")).toBeLessThanOrEqual(1e-5);
  });

  it("the two models of issue 14 point 5 import exactly: ≤ 1e-6 relative to the libraries' own predictions", async () => {
    const { data, rows } = letorTestRows();
    const early = await uploadAndRun("letor-xgboost-early-stopping.json", "xgboost", data, rows);
    const want = expectedScores("letor-expected.json").models["letor-xgboost-early-stopping.json"]!.scores!;
    expect(Math.max(...want.map((e, i) => Math.abs(e - early.got[i]!) / Math.abs(e)))).toBeLessThanOrEqual(1e-6);
    expect((early.metadata.importNotes as string[]).join(" ")).toMatch(/best_iteration 1, so the first 2 of the 12 trees serve/);
    // The stored spec states the library's rule for absent features: missing (NaN), not 0.
    expect(new Set(early.featureSpec.map((f) => f.missing))).toEqual(new Set(["nan"]));

    const leafSpec = ["price", "stock", "rating"].map((name) => ({ name, source: "candidate", type: "float", default: 0 }));
    const large = await uploadAndRun("large-leaf-lightgbm.model.txt", "lightgbm", Float32Array.from(LARGE_LEAF_ROWS.flatMap((r) => r.row)), LARGE_LEAF_ROWS.length, leafSpec);
    LARGE_LEAF_ROWS.forEach(({ score }, i) => expect(Math.abs(large.got[i]! - score) / Math.abs(score)).toBeLessThanOrEqual(1e-6));
    expect(large.metadata.conversionMaxRelDiff).toBeLessThan(1e-7);
  });

  it("refuses the 32-byte hostile uploads at once with 400 naming the line or field, and a count of 5e9 with 400 (issue 11)", async () => {
    const name = await newModel("hostile");
    const cases: Array<[string, "lightgbm" | "xgboost", RegExp]> = [
      ["tree\nmax_feature_idx=4294967294\n", "lightgbm", /^file: not an importable lightgbm model: line 2: max_feature_idx=4294967294 declares 4294967295 features; the limit is 4096 \(MODEL_MAX_FEATURES\)$/],
      ["tree\nmax_feature_idx=5000000000\n", "lightgbm", /^file: not an importable lightgbm model: line 2: .*declares 5000000001 features/],
      [xgboostDeclaring("4294967294"), "xgboost", /^file: not an importable xgboost model: learner\.learner_model_param\.num_feature declares 4294967294 features; the limit is 4096 \(MODEL_MAX_FEATURES\)$/],
      [xgboostDeclaring("5e9"), "xgboost", /^file: not an importable xgboost model: learner\.learner_model_param\.num_feature is "5e9": expected a whole number$/],
    ];
    for (const [content, format, message] of cases) {
      const response = await upload(name, content, "model", format);
      expect(response.status, content).toBe(400);
      expect((await response.json()).error.message).toMatch(message);
    }
    expect(await getDb().modelVersion.count({ where: { model: { name } } })).toBe(0);
  });

  it("keeps serving while an upload converts, takes MODEL_UPLOAD_CONCURRENCY uploads at once (503 with Retry-After beyond), and leaves no temporary file", async () => {
    const name = await newModel("parallel");
    const big = readFixture("letor-lightgbm.txt");
    // Eight large uploads at once: two are taken, the rest are refused before their body is read.
    const uploads = Array.from({ length: 8 }, () => upload(name, big, "model.txt", "lightgbm"));
    let answeredWhileInFlight = 0;
    let settled = false;
    const all = Promise.all(uploads).finally(() => (settled = true));
    while (!settled) {
      const list = await fetch(`${frontDoor.url}/api/trpc/surfaces.list`, { headers: await keyHeaders("automation", ["viewer"]) });
      expect(list.status).toBe(200);
      if (!settled) answeredWhileInFlight++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const responses = await all;
    const statuses = responses.map((r) => r.status).sort();
    // The first upload stores the version; a second of the same bytes is a duplicate (409).
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(6);
    const others = await Promise.all(responses.filter((r) => r.status !== 503).map(async (r) => `${r.status} ${await r.clone().text()}`));
    expect(statuses.filter((s) => s !== 503).every((s) => s === 201 || s === 409), others.join("\n")).toBe(true);
    const refused = responses.find((r) => r.status === 503)!;
    expect(refused.headers.get("retry-after")).toBe("5");
    expect((await refused.json()).error.message).toMatch(/^file: 2 model uploads are in progress, the most this server takes at once \(MODEL_UPLOAD_CONCURRENCY\)/);
    expect(answeredWhileInFlight).toBeGreaterThan(0);
    expect(readdirSync(uploadTmp).filter((f) => f.startsWith("rerank-upload-"))).toEqual([]);
  });

  it("refuses a model that is not what its format says, naming the problem", async () => {
    const name = `bad-${Date.now().toString(36)}`;
    await createModel(getDb(), { name, owner: "ml@rerank.local", description: "" }, testActor());
    const form = new FormData();
    form.set("file", new Blob(['{"not": "xgboost"}']), "model.json");
    form.set("format", "xgboost");
    form.set("featureSpec", JSON.stringify(spec));
    const response = await fetch(`${frontDoor.url}/api/v1/models/${name}/versions`, { method: "POST", body: form, headers: await keyHeaders("automation", ["ml_engineer"]) });
    expect(response.status).toBe(400);
    expect((await response.json()).error.message).toMatch(/^file: not an importable xgboost model/);
    expect(await getDb().modelVersion.count({ where: { model: { name } } })).toBe(0);
  });
});
