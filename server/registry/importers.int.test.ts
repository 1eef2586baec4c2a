import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { getDb } from "../db/client";
import { expectedScores, letorTestRows, LETOR_FEATURES, readFixture } from "../domain/importers/fixtures/rows";
import { openSession } from "../inference/sessions";
import { keyHeaders } from "../testing/callers";
import { createModel } from "./models";
import { testActor } from "../testing/actors";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";

// A LightGBM text model and an XGBoost JSON model, trained on the LETOR sample by the libraries
// themselves, go through the upload endpoint (converted to ONNX and checked on sample rows), are
// stored, and then score every rank.test row as the libraries did (≤ 1e-5).

// The upload goes through the console's front door on a real port, as callers send it.
let frontDoor: TestFrontDoor;
beforeAll(async () => {
  frontDoor = await startTestFrontDoor();
});
afterAll(() => frontDoor?.close());

const spec = Array.from({ length: LETOR_FEATURES }, (_, i) => ({ name: `f${i + 1}`, source: "candidate", type: "float", default: 0 }));

async function uploadAndScore(name: string, fixture: string, format: "lightgbm" | "xgboost") {
  await createModel(getDb(), { name, owner: "ml@rerank.local", description: `imported ${format}` }, testActor());
  const form = new FormData();
  form.set("file", new Blob([readFixture(fixture)]), fixture);
  form.set("format", format);
  form.set("featureSpec", JSON.stringify(spec));
  const response = await fetch(`${frontDoor.url}/api/v1/models/${name}/versions`, { method: "POST", body: form, headers: await keyHeaders("automation", ["ml_engineer"]) });
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(201);
  const version = await getDb().modelVersion.findUniqueOrThrow({ where: { id: body.id }, include: { artifact: true } });
  expect(version.source).toBe(format);
  const session = await openSession(new Uint8Array(version.artifact!.bytes));
  const { data, rows } = letorTestRows();
  const output = await session.run({ [version.inputName]: new ort.Tensor("float32", data, [rows, LETOR_FEATURES]) });
  await session.release();
  const got = output[version.outputName]!.data as Float32Array;
  const want = expectedScores("letor-expected.json").models[fixture]!;
  const expected = want.scores ?? want.sumOfLeaves!;
  expect(expected).toHaveLength(rows);
  return Math.max(...expected.map((e, i) => Math.abs(e - got[i]!)));
}

describe("importing tree models", () => {
  beforeAll(() => expect(letorTestRows().rows).toBe(768));

  it("a LightGBM model scores the LETOR test rows as LightGBM does", async () => {
    expect(await uploadAndScore(`lgb-${Date.now().toString(36)}`, "letor-lightgbm.txt", "lightgbm")).toBeLessThanOrEqual(1e-5);
  });

  it("an XGBoost model scores the LETOR test rows as XGBoost does", async () => {
    expect(await uploadAndScore(`xgb-${Date.now().toString(36)}`, "letor-xgboost.json", "xgboost")).toBeLessThanOrEqual(1e-5);
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
