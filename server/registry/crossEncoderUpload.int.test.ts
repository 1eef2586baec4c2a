import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { DEMO_CROSS_ENCODER_DIR } from "../demo/crossEncoder";
import { readCrossEncoderBundle } from "../inference/crossEncoder/bundle";
import { CrossEncoder } from "../inference/crossEncoder/model";
import { closeCrossEncoders } from "../inference/crossEncoder/pool";
import { openModel, scoreTexts } from "../inference/sessions";
import { testActor } from "../testing/actors";
import { tgzOf, zipOf, type ArchiveFile } from "../testing/archives";
import { keyHeaders } from "../testing/callers";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { createModel } from "./models";

// Cross-encoder bundles through the model upload endpoint on a real port: a .tgz of the demo
// bundle is stored as a version of format "cross-encoder" and opens into the worker pool; the same
// files zipped are the same artifact (409); a mismatched tokenizer, a model with the wrong inputs,
// a missing file and archive bombs are refused with the reason, and nothing is stored.

let frontDoor: TestFrontDoor;
const uploadTmp = mkdtempSync(path.join(tmpdir(), "cross-encoder-upload-"));
beforeAll(async () => {
  setEnv("MODEL_UPLOAD_DIR", uploadTmp);
  frontDoor = await startTestFrontDoor();
});
afterAll(async () => {
  await frontDoor?.close();
  await closeCrossEncoders();
  setEnv("MODEL_UPLOAD_DIR", undefined);
  setEnv("MODEL_MAX_BYTES", undefined);
  rmSync(uploadTmp, { recursive: true, force: true });
});

const demoFile = (name: string) => new Uint8Array(readFileSync(path.join(DEMO_CROSS_ENCODER_DIR, name)));
const demoFiles = (folder = ""): ArchiveFile[] =>
  ["model.onnx", "tokenizer.json", "tokenizer_config.json", "reranker.json"].map((name) => ({ name: `${folder}${name}`, data: demoFile(name) }));
const replace = (files: ArchiveFile[], name: string, data: Uint8Array) => files.map((f) => (f.name.endsWith(name) ? { ...f, data } : f));
const utf8 = (s: string) => new TextEncoder().encode(s);

let modelCount = 0;
async function newModel(): Promise<string> {
  const name = `ce-${Date.now().toString(36)}-${modelCount++}`;
  await createModel(getDb(), { name, owner: "ml@rerank.local", description: "uploaded cross-encoder" }, testActor());
  return name;
}

async function upload(name: string, archive: Uint8Array, fileName: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.set("file", new Blob([new Uint8Array(archive)]), fileName);
  form.set("format", "cross-encoder");
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return fetch(`${frontDoor.url}/api/v1/models/${name}/versions`, { method: "POST", body: form, headers: await keyHeaders("automation", ["ml_engineer"]) });
}

async function refusal(archive: Uint8Array, fileName = "bundle.tgz", fields: Record<string, string> = {}): Promise<string> {
  const name = await newModel();
  const response = await upload(name, archive, fileName, fields);
  const body = await response.json();
  expect(response.status, JSON.stringify(body)).toBe(400);
  expect(await getDb().modelVersion.count({ where: { model: { name } } })).toBe(0);
  return body.error.message;
}

describe("uploading a cross-encoder bundle", () => {
  it("stores a .tgz as a cross-encoder version that openModel opens into the worker pool; the same files zipped are a duplicate", async () => {
    const name = await newModel();
    const response = await upload(name, tgzOf(demoFiles("my-reranker/")), "my-reranker.tgz");
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(201);
    const version = await getDb().modelVersion.findUniqueOrThrow({ where: { id: body.id } });
    expect(version).toMatchObject({ format: "cross-encoder", inputName: "input_ids", outputName: "logits", featureSpec: [] });
    expect((version.metadata as { crossEncoder: unknown }).crossEncoder).toEqual({
      kind: "cross-encoder", maxLength: 32, textFields: ["title", "category"], vocabSize: 248, output: "logits",
      inputs: ["input_ids", "attention_mask", "token_type_ids"], tokenizerTokens: 248,
    });

    const handle = await openModel({ versionId: version.id });
    expect(handle.kind).toBe("cross-encoder");
    if (handle.kind !== "cross-encoder") return;
    const docs = ["Compact Headphones electronics", "Classic Olive Oil grocery"];
    const pooled = await scoreTexts(handle, "earphones", docs);
    const local = await CrossEncoder.open(await readCrossEncoderBundle(DEMO_CROSS_ENCODER_DIR));
    const { scores } = await local.score(docs.map((document) => ({ query: "earphones", document })));
    await local.release();
    pooled.scores.forEach((s, i) => expect(s).toBeCloseTo(scores[i]!, 5));

    const zipped = await upload(name, zipOf(demoFiles()), "bundle.zip");
    expect(zipped.status).toBe(409);
    expect((await zipped.json()).error.message).toMatch(new RegExp(`^this artifact is already ${name} v1`));
  });

  it("refuses a mismatched tokenizer, naming it", async () => {
    const tokenizer = JSON.parse(new TextDecoder().decode(demoFile("tokenizer.json"))) as { model: { vocab: Record<string, number> } };
    tokenizer.model.vocab.extra = Object.keys(tokenizer.model.vocab).length;
    expect(await refusal(tgzOf(replace(demoFiles(), "tokenizer.json", utf8(JSON.stringify(tokenizer))))))
      .toBe("tokenizer: the tokenizer has 249 tokens but the model's embedding has 248 rows (config.vocabSize): a mismatched tokenizer");
  });

  it("refuses a tokenizer whose pattern a document could stall (exponential backtracking), naming the pattern; nothing stored", async () => {
    const tokenizer = JSON.parse(new TextDecoder().decode(demoFile("tokenizer.json"))) as { pre_tokenizer: unknown };
    tokenizer.pre_tokenizer = { type: "Sequence", pretokenizers: [tokenizer.pre_tokenizer, { type: "Split", pattern: { Regex: "(\\w+\\s?)*$" }, behavior: "Removed", invert: false }] };
    expect(await refusal(tgzOf(replace(demoFiles(), "tokenizer.json", utf8(JSON.stringify(tokenizer))))))
      .toMatch(/^tokenizer: tokenizer\.json's pattern \/.*\/ \(pre_tokenizer\.tokenizers\[1\]\.pattern\) is refused: it can take exponential time on some texts/);
  });

  it("refuses a model with the wrong inputs (a tabular ONNX), naming them", async () => {
    const tabular = new Uint8Array(readFileSync(path.resolve(DEMO_CROSS_ENCODER_DIR, "../../demo/search-linear-v2.onnx")));
    expect(await refusal(zipOf(replace(demoFiles(), "model.onnx", tabular)), "bundle.zip"))
      .toBe("model: the model's inputs are [features]; a cross-encoder takes input_ids, attention_mask and optionally token_type_ids (int64)");
  });

  it("refuses a bundle without reranker.json, a wrong config, a feature spec, and a file that is no archive", async () => {
    expect(await refusal(tgzOf(demoFiles().filter((f) => f.name !== "reranker.json"))))
      .toBe("file: the bundle has no reranker.json; a cross-encoder bundle holds model.onnx, tokenizer.json and reranker.json (tokenizer_config.json optional)");
    expect(await refusal(tgzOf(replace(demoFiles(), "reranker.json", utf8('{"kind": "cross-encoder", "maxLength": 2}'))))).toMatch(/^config\.maxLength: /);
    expect(await refusal(tgzOf(demoFiles()), "bundle.tgz", { featureSpec: '[{"name": "x", "source": "candidate", "default": 0}]' }))
      .toBe("featureSpec: a cross-encoder bundle takes no feature spec: it scores (query, document) text");
    expect(await refusal(demoFile("model.onnx"), "model.onnx")).toMatch(/^file: a cross-encoder bundle is a \.tar, \.tgz or \.zip archive/);
  });

  it("refuses archive bombs before inflating them: past MODEL_MAX_BYTES unpacked, entries that lie about their size, too many entries", async () => {
    setEnv("MODEL_MAX_BYTES", String(4 * 1048576));
    try {
      const zeros = new Uint8Array(16 * 1048576);
      // 16 MiB of zeros gzip to ~16 KiB.
      expect(await refusal(tgzOf([...demoFiles(), { name: "padding/model.onnx", data: zeros }]))).toBe("file: the archive unpacks to more than 4.0 MiB (MODEL_MAX_BYTES)");
      expect(await refusal(zipOf(replace(demoFiles(), "model.onnx", zeros)), "bundle.zip")).toBe("file: the archive unpacks to more than 4.0 MiB (MODEL_MAX_BYTES)");
      // An entry that declares 1 KiB and inflates to 16 MiB: yauzl stops at the declared size.
      const lying = zipOf([...demoFiles().filter((f) => f.name !== "model.onnx"), { name: "model.onnx", data: zeros, declaredSize: 1024 }]);
      expect(await refusal(lying, "bundle.zip")).toMatch(/^file: the zip archive is corrupt: .*too many bytes/);
      const many = zipOf([...demoFiles(), ...Array.from({ length: 70 }, (_, i) => ({ name: `junk/${i}.txt`, data: utf8("x") }))]);
      expect(await refusal(many, "bundle.zip")).toBe("file: the archive has 74 entries, more than 64; a bundle has at most four files");
    } finally {
      setEnv("MODEL_MAX_BYTES", undefined);
    }
  });
});
