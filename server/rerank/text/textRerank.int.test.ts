import { CohereClient, CohereClientV2, CohereError } from "cohere-ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../auth/apiKeys";
import { getDb } from "../../db/client";
import { seedDemo } from "../../db/seed";
import { DEMO_CROSS_ENCODER_DIR, DEMO_CROSS_ENCODER_NAME, DEMO_TEXT_SURFACE } from "../../demo/crossEncoder";
import { readCrossEncoderBundle } from "../../inference/crossEncoder/bundle";
import { CrossEncoder } from "../../inference/crossEncoder/model";
import { closeCrossEncoders } from "../../inference/crossEncoder/pool";
import { telemetry } from "../../telemetry/streams";
import { keyHeaders } from "../../testing/callers";
import { forgetResolvedModels, notServedMessage } from "./models";
import { startInterleaving } from "../../testing/experiments";
import { startTestFrontDoor, type TestFrontDoor } from "../../testing/frontDoor";
import { readServedList } from "../../domain/ranking/servedList";

// POST /v2/rerank and /v1/rerank through the real front door (real key check, real worker pool,
// the demo cross-encoder as the seed stores it in the registry, the rerank pipeline), called with
// Cohere's official npm client pointed at the console.

let frontDoor: TestFrontDoor;
let token: string;
beforeAll(async () => {
  await seedDemo(getDb());
  frontDoor = await startTestFrontDoor();
  token = (await keyHeaders("serving")).authorization!.slice("Bearer ".length);
});
afterAll(async () => {
  await frontDoor?.close();
  await closeCrossEncoders();
});

const documents = ["Classic Olive Oil grocery", "Compact Headphones electronics", "Rugged Dash Cam automotive", "Pro Headphones electronics", "Soft Plush Bear toys"];

/** The demo model's own order for `query` over `docs`, scored in this thread. */
async function modelOrder(query: string, docs: string[]): Promise<number[]> {
  const model = await CrossEncoder.open(await readCrossEncoderBundle(DEMO_CROSS_ENCODER_DIR));
  const { scores } = await model.score(docs.map((document) => ({ query, document })));
  await model.release();
  return docs.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
}

describe("Cohere-compatible rerank", () => {
  it("the official cohere-ai v2 client gets the documents in the model's order", async () => {
    const client = new CohereClientV2({ token, environment: frontDoor.url });
    const response = await client.rerank({ model: DEMO_CROSS_ENCODER_NAME, query: "earphones", documents, topN: 3 });
    const expected = await modelOrder("earphones", documents);
    expect(response.results.map((r) => r.index)).toEqual(expected.slice(0, 3));
    expect(new Set(expected.slice(0, 2))).toEqual(new Set([1, 3])); // the two headphones lead
    const scores = response.results.map((r) => r.relevanceScore);
    expect(scores.every((s) => s > 0 && s < 1)).toBe(true);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(response.meta?.apiVersion?.version).toBe("2");
  });

  it("the v1 client ranks object documents on rank_fields and returns them", async () => {
    const client = new CohereClient({ token, environment: frontDoor.url });
    const objects = [{ title: "Classic Olive Oil", category: "grocery", sku: "sku-1" }, { title: "Soft Plush Bear", category: "toys", sku: "sku-2" }];
    const response = await client.rerank({ model: DEMO_CROSS_ENCODER_NAME, query: "teddy", documents: objects, rankFields: ["title", "category"], returnDocuments: true });
    expect(response.results.map((r) => r.index)).toEqual(await modelOrder("teddy", ["Classic Olive Oil grocery", "Soft Plush Bear toys"]));
    expect(response.results[0]!.document).toMatchObject(objects[response.results[0]!.index]!);
    expect(response.meta?.apiVersion?.version).toBe("1");
  });

  it("counts truncated documents in meta", async () => {
    const long = Array.from({ length: 300 }, () => "lamp").join(" ");
    const response = await frontDoor.post("/v2/rerank", { model: DEMO_CROSS_ENCODER_NAME, query: "lamp", documents: [long, "Bright Lamp home"], max_tokens_per_doc: 512 }, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.meta.truncated_documents).toBe(1);
    expect(body.meta.warnings[0]).toBe("1 of 2 documents were truncated to fit the model's tokens per pair or max_tokens_per_doc 512");
  });

  it("answers bad input with 400 naming the field, in Cohere's shape with the house's error beside it", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const missing = await frontDoor.post("/v2/rerank", { model: DEMO_CROSS_ENCODER_NAME, query: "x", documents: [] }, { headers });
    expect(missing.status).toBe(400);
    const body = await missing.json();
    expect(body.message).toMatch(/^documents: at least one document/);
    expect(body.error.fields[0].path).toBe("documents");
    const unknown = await frontDoor.post("/v2/rerank", { model: "nope", query: "x", documents: ["a"] }, { headers });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).message).toBe(`model: ${notServedMessage("nope")}`);
    const badTopN = await frontDoor.post("/v2/rerank", { model: DEMO_CROSS_ENCODER_NAME, query: "x", documents: ["a"], top_n: 0 }, { headers });
    expect((await badTopN.json()).error.fields[0].path).toBe("top_n");
  });

  it("refuses callers without a serving key, as /api/v1/rerank does", async () => {
    const client = new CohereClientV2({ token: "not-a-key", environment: frontDoor.url });
    const error = await client.rerank({ model: DEMO_CROSS_ENCODER_NAME, query: "x", documents: ["a"] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CohereError);
    expect((error as CohereError).statusCode).toBe(401);
    expect((await frontDoor.post("/v2/rerank", { model: DEMO_CROSS_ENCODER_NAME, query: "x", documents: ["a"] })).status).toBe(401);
  });

  it("serves the surface's pipeline: the model is named by surface, model name or name:alias, and the request is logged", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const bodies = [];
    for (const model of [DEMO_TEXT_SURFACE, DEMO_CROSS_ENCODER_NAME, `${DEMO_CROSS_ENCODER_NAME}:production`]) {
      const response = await frontDoor.post("/v2/rerank", { model, query: "earphones", documents }, { headers });
      expect(response.status).toBe(200);
      bodies.push(await response.json());
    }
    const expected = await modelOrder("earphones", documents);
    for (const body of bodies) {
      expect(body.results.map((r: { index: number }) => r.index)).toEqual(expected);
      expect(body.meta.model).toMatchObject({ surface: DEMO_TEXT_SURFACE, name: DEMO_CROSS_ENCODER_NAME, version: 1, alias: "production" });
      expect(body.meta.fallback).toEqual({ used: false, reason: null, served_by: "model" });
    }
    await telemetry().requests.flush();
    const row = await getDb().rerankRequest.findFirstOrThrow({ where: { requestId: bodies[0].id } });
    expect(row.surface).toBe(DEMO_TEXT_SURFACE);
    expect(row.candidateCount).toBe(documents.length);
    expect(row.fallbackUsed).toBe(false);
    const version = await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: DEMO_CROSS_ENCODER_NAME }, version: 1 } });
    expect(row.modelVersionId).toBe(version.id);
    expect(version.format).toBe("cross-encoder");
  });

  it("over the surface's budget, serves the documents in request order, marked, with no 5xx", async () => {
    const db = getDb();
    const demo = await db.model.findUniqueOrThrow({ where: { name: DEMO_CROSS_ENCODER_NAME } });
    // A surface of the same model whose budget no run can meet.
    await db.surface.create({ data: { key: "t-text-budget", name: "text budget", modelId: demo.id, modelAlias: "production", timeoutMs: 0 } });
    const response = await frontDoor.post("/v2/rerank", { model: "t-text-budget", query: "earphones", documents }, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.results.map((r: { index: number }) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(body.meta.fallback).toEqual({ used: true, reason: "timeout", served_by: "retrieval_order" });
    expect(body.meta.warnings).toContain("the model did not rank this request (timeout): served by request order");
    await telemetry().requests.flush();
    const row = await db.rerankRequest.findFirstOrThrow({ where: { requestId: body.id } });
    expect(row).toMatchObject({ surface: "t-text-budget", fallbackUsed: true, fallbackReason: "timeout" });
  });

  it("a serving key limited to another surface is told its model is not served, exactly as for a name that exists nowhere", async () => {
    const db = getDb();
    const owner = await db.user.upsert({ where: { email: "key-owner@rerank.test" }, create: { email: "key-owner@rerank.test", name: "Key owner", roles: ["admin"] }, update: {} });
    const { key } = await createApiKey(db, { name: "search only", kind: "serving", surfaces: ["search"] }, owner.id);
    const headers = { authorization: `Bearer ${key}` };
    const surfaceKeys = (await db.surface.findMany({ select: { key: true } })).map((row) => row.key);
    // The surface key, the model name and name:alias all exist, on a surface this key may not rank on.
    for (const model of [DEMO_TEXT_SURFACE, DEMO_CROSS_ENCODER_NAME, `${DEMO_CROSS_ENCODER_NAME}:production`, "t-text-no-such-model"]) {
      const response = await frontDoor.post("/v2/rerank", { model, query: "x", documents: ["a"] }, { headers });
      expect(response.status).toBe(400);
      const text = await response.text();
      expect(JSON.parse(text).message).toBe(`model: ${notServedMessage(model)}`);
      // Nothing beyond the name as sent: no surface key, no alias.
      const told = text.replaceAll(model, "");
      for (const leak of [...surfaceKeys, "production"]) expect(told).not.toContain(`${leak} `);
    }
    const error = await new CohereClientV2({ token: key, environment: frontDoor.url }).rerank({ model: DEMO_TEXT_SURFACE, query: "x", documents: ["a"] }).catch((e: unknown) => e);
    expect((error as CohereError).statusCode).toBe(400);
    // The same key ranks on its own surface.
    const allowed = await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, candidates: [{ id: "sku-00001" }] }, { headers });
    expect(allowed.status).toBe(200);
  });

  it("a model name serving several surfaces means the one the key may rank on; ambiguity names only the key's own surfaces", async () => {
    const db = getDb();
    const demo = await db.model.findUniqueOrThrow({ where: { name: DEMO_CROSS_ENCODER_NAME } });
    for (const surface of ["t-text-scope-a", "t-text-scope-b", "t-text-scope-c"]) {
      await db.surface.create({ data: { key: surface, name: surface, modelId: demo.id, modelAlias: "production", timeoutMs: 5000 } });
    }
    forgetResolvedModels();
    const owner = await db.user.upsert({ where: { email: "key-owner@rerank.test" }, create: { email: "key-owner@rerank.test", name: "Key owner", roles: ["admin"] }, update: {} });
    const one = await createApiKey(db, { name: "scope a", kind: "serving", surfaces: ["t-text-scope-a"] }, owner.id);
    const served = await frontDoor.post("/v2/rerank", { model: DEMO_CROSS_ENCODER_NAME, query: "earphones", documents }, { headers: { authorization: `Bearer ${one.key}` } });
    expect(served.status).toBe(200);
    expect((await served.json()).meta.model.surface).toBe("t-text-scope-a");
    const two = await createApiKey(db, { name: "scope b and c", kind: "serving", surfaces: ["t-text-scope-b", "t-text-scope-c"] }, owner.id);
    const ambiguous = await frontDoor.post("/v2/rerank", { model: DEMO_CROSS_ENCODER_NAME, query: "earphones", documents }, { headers: { authorization: `Bearer ${two.key}` } });
    expect(ambiguous.status).toBe(400);
    expect((await ambiguous.json()).message).toBe(`model: "${DEMO_CROSS_ENCODER_NAME}" serves 2 surfaces (t-text-scope-b under production, t-text-scope-c under production): name the surface`);
  });

  it("ranks /api/v1/rerank candidates that carry their text on a cross-encoder surface", async () => {
    const response = await frontDoor.post("/api/v1/rerank", {
      surface: DEMO_TEXT_SURFACE, topK: 5, context: { query: "earphones" },
      candidates: documents.map((text, i) => ({ id: `doc-${i}`, text })),
    }, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.items.map((item: { id: string }) => item.id)).toEqual((await modelOrder("earphones", documents)).map((i) => `doc-${i}`));
    expect(body.text).toEqual({ truncated: 0 });
  });

  it("is in an experiment like every rerank: a cross-encoder interleaved with a tabular model, each item credited, the log says so", async () => {
    const db = getDb();
    const demo = await db.model.findUniqueOrThrow({ where: { name: DEMO_CROSS_ENCODER_NAME } });
    const tabular = await db.modelVersion.findFirstOrThrow({ where: { model: { name: "search-ranker" }, version: 2 } });
    await db.surface.create({ data: { key: "t-text-il", name: "text interleaving", modelId: demo.id, modelAlias: "production", timeoutMs: 5000 } });
    await startInterleaving("text-il", "t-text-il", [{ key: "cross", name: "demo cross-encoder", modelAlias: "production" }, { key: "linear", name: "search-ranker v2", modelVersionId: tabular.id }]);
    // Object documents with distinct ids: the linear model reads the catalog's features of these items.
    const items = await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 6, orderBy: { id: "asc" }, select: { id: true, title: true, category: true } });
    const response = await frontDoor.post("/v2/rerank", { model: "t-text-il", query: items[3]!.title, documents: items, user_key: "u-text-il" }, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.meta.model).toMatchObject({ surface: "t-text-il", name: DEMO_CROSS_ENCODER_NAME, variant: "interleaved" });
    expect(body.meta.fallback.used).toBe(false);
    expect(new Set(body.results.map((r: { index: number }) => r.index))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    await telemetry().requests.flush();
    const row = await db.rerankRequest.findFirstOrThrow({ where: { requestId: body.id } });
    expect(row).toMatchObject({ experimentKey: "text-il", variantKey: "interleaved", exposed: true });
    const reasons = readServedList(row.served).flatMap((item) => item.reasons);
    expect(reasons.some((r) => r.includes("cross"))).toBe(true);
    expect(reasons.some((r) => r.includes("linear"))).toBe(true);
  });
});

// Break test of #16 (a fresh clone, `npm start`, the demo surfaces): each finding, answered right.
describe("Cohere-compatible rerank: break-test findings", () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => frontDoor.post(path, body, { headers });

  it("names the problem in a document (lone surrogate, NUL, nested value, wrong type) instead of 'Invalid input'", async () => {
    const cases: Array<[unknown, string]> = [
      ["ab\ud800c", 'documents[0]: must be well-formed Unicode (a lone surrogate \\ud800 at character 2)'],
      ["a\u0000b", "documents[0]: must not contain NUL (\\u0000) characters"],
      [{ title: { a: 1 } }, "documents[0].title: must be a string, number, boolean or null (nested objects and arrays are not ranked: send their text as a top-level field)"],
      [{ title: "x\udfff" }, "documents[0].title: must be well-formed Unicode (a lone surrogate \\udfff at character 1)"],
      [["a"], "documents[0]: must be a string or an object of fields"],
      [7, "documents[0]: must be a string or an object of fields"],
    ];
    for (const [doc, message] of cases) {
      const response = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "q", documents: [doc] });
      expect(response.status).toBe(400);
      const body = await response.json();
      expect(body.message).toBe(message);
      expect(body.error.fields[0].path).toBe(message.slice(0, message.indexOf(":")));
    }
  });

  it("refuses unknown fields (a misspelt topN is not silently ignored), accepts Cohere's null optionals and v2's priority", async () => {
    const typo = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "q", documents: ["a", "b"], topN: 1 });
    expect(typo.status).toBe(400);
    expect((await typo.json()).message).toBe('input: unknown field "topN"');
    const nulls = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "earphones", documents, top_n: null, max_tokens_per_doc: null, return_documents: null, rank_fields: null, priority: 0 });
    expect(nulls.status).toBe(200);
    expect((await nulls.json()).results.map((r: { index: number }) => r.index)).toEqual(await modelOrder("earphones", documents));
    // A top_n above the documents' count returns them all, whatever its size.
    const many = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "earphones", documents, top_n: 5000 });
    expect(many.status).toBe(200);
    expect((await many.json()).results).toHaveLength(documents.length);
  });

  it("an object document's id past the item-id limit does not become an item id (events could never name it): the items are the positions (session 21)", async () => {
    const response = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "earphones", documents: documents.map((text, i) => ({ id: `${"x".repeat(300)}-${i}`, text })) });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.results.map((r: { index: number }) => r.index)).toEqual(await modelOrder("earphones", documents));
    await telemetry().requests.flush();
    const row = await getDb().rerankRequest.findFirstOrThrow({ where: { requestId: body.id } });
    expect(readServedList(row.served).map((item) => item.id).sort()).toEqual(documents.map((_, i) => String(i)).sort());
  });

  it("ranks Cohere's { text } object documents on their text when the model's textFields are absent (not as empty text)", async () => {
    const response = await new CohereClient({ token, environment: frontDoor.url }).rerank({ model: DEMO_TEXT_SURFACE, query: "earphones", documents: documents.map((text) => ({ text })) });
    expect(response.results.map((r) => r.index)).toEqual(await modelOrder("earphones", documents));
    expect(new Set(response.results.map((r) => r.relevanceScore)).size).toBe(documents.length);
  });

  it("returns object documents with every field as sent, a field named __proto__ included (v1 and v2)", async () => {
    // Sent as raw JSON: JSON.parse makes "__proto__" an own field, as any client's serialiser writes it.
    const raw = '{"model":"' + DEMO_TEXT_SURFACE + '","query":"earphones","rank_fields":["title"],"return_documents":true,"documents":[{"title":"Compact Headphones","__proto__":"kept","n":1},{"title":"Olive Oil","constructor":"x"}]}';
    for (const path of ["/v2/rerank", "/v1/rerank"]) {
      const response = await frontDoor.post(path, null, { raw, headers: { authorization: `Bearer ${token}` } });
      const text = await response.text();
      expect(response.status, text).toBe(200);
      const body = JSON.parse(text) as { results: Array<{ index: number; document: unknown }> };
      const first = body.results.find((r) => r.index === 0)!.document as Record<string, unknown>;
      expect(Object.keys(first)).toEqual(["title", "__proto__", "n"]);
      expect(Object.getOwnPropertyDescriptor(first, "__proto__")?.value).toBe("kept");
      expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
      expect(body.results.find((r) => r.index === 1)!.document).toEqual({ title: "Olive Oil", constructor: "x" });
    }
  });

  it("refuses an object document that has none of rank_fields, naming it", async () => {
    const response = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "q", documents: [{ title: "Pro Headphones" }, { body: "x" }], rank_fields: ["title"] });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.message).toBe('documents[1]: has none of rank_fields "title" (its fields: "body")');
    expect(body.error.fields[0].path).toBe("documents[1]");
  });

  it("a request-order fallback scores every result 0.5 (σ(0)), not 1: no model said these are relevant", async () => {
    const db = getDb();
    const demo = await db.model.findUniqueOrThrow({ where: { name: DEMO_CROSS_ENCODER_NAME } });
    await db.surface.create({ data: { key: "t-text-unscored", name: "text unscored", modelId: demo.id, modelAlias: "production", timeoutMs: 0 } });
    const response = await post("/v2/rerank", { model: "t-text-unscored", query: "earphones", documents });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.meta.fallback).toEqual({ used: true, reason: "timeout", served_by: "retrieval_order" });
    expect(body.results).toEqual(documents.map((_, index) => ({ index, relevance_score: 0.5 })));
  });

  it("a cascade whose stage 2 cannot rescore serves stage 1's order, marked in meta.stage2 and a warning; a served stage 2 is reported too", async () => {
    const db = getDb();
    const ranker = await db.model.findUniqueOrThrow({ where: { name: "search-ranker" } });
    const skus = await db.catalogItem.findMany({ take: 8, orderBy: { id: "asc" }, select: { id: true, title: true, category: true } });
    await db.surface.create({ data: { key: "t-text-cascade-broken", name: "broken stage 2", modelId: ranker.id, modelAlias: "production", timeoutMs: 5000, stage2: { model: DEMO_CROSS_ENCODER_NAME, alias: "no-such-alias", rerankCount: 5, budgetMs: 5000 } } });
    await db.surface.create({ data: { key: "t-text-cascade", name: "stage 2", modelId: ranker.id, modelAlias: "production", timeoutMs: 5000, stage2: { model: DEMO_CROSS_ENCODER_NAME, alias: "production", rerankCount: 5, budgetMs: 5000 } } });
    const broken = await post("/v2/rerank", { model: "t-text-cascade-broken", query: "earphones", documents: skus });
    expect(broken.status).toBe(200);
    const brokenBody = await broken.json();
    expect(brokenBody.meta.fallback.used).toBe(false);
    expect(brokenBody.meta.stage2).toMatchObject({ status: "error", reason: "no_model", rerank_count: 5, reranked: 0 });
    expect(brokenBody.meta.warnings).toContain("stage 2 did not rescore (no_model): stage 1's order serves");
    const served = await post("/v2/rerank", { model: "t-text-cascade", query: "earphones", documents: skus });
    const servedBody = await served.json();
    expect(servedBody.meta.stage2).toMatchObject({ status: "served", reason: null, model: { name: DEMO_CROSS_ENCODER_NAME, version: 1, alias: "production" }, rerank_count: 5, reranked: 5 });
    expect(servedBody.meta.warnings).toBeUndefined();
    // Stage 1's top 5 are the same set in both answers; stage 2 reorders them by the cross-encoder.
    expect(new Set(servedBody.results.slice(0, 5).map((r: { index: number }) => r.index))).toEqual(new Set(brokenBody.results.slice(0, 5).map((r: { index: number }) => r.index)));
  });

  it("a catalog candidate without text is ranked on its catalog title and category (the model's textFields), not the category alone", async () => {
    // The Debug page's request on product-qa ranked every lamp -0.9356: the feature store's attributes had no title.
    const items = await getDb().catalogItem.findMany({ where: { category: "home", safetyFlags: { isEmpty: true } }, take: 8, orderBy: { id: "asc" }, select: { id: true, title: true, category: true } });
    const response = await post("/api/v1/rerank", { surface: DEMO_TEXT_SURFACE, topK: items.length, context: { query: "lamp" }, candidates: items.map((item) => ({ id: item.id })) });
    expect(response.status).toBe(200);
    const body = await response.json();
    const expected = await modelOrder("lamp", items.map((item) => `${item.title} ${item.category}`));
    expect(body.items.map((item: { id: string }) => item.id)).toEqual(expected.map((i) => items[i]!.id));
    expect(new Set(body.items.map((item: { score: number }) => item.score)).size).toBeGreaterThan(1);
  });

  it("over-long documents are cut at the tokens the model reads: nine 99,000-character documents are ranked within the budget, each truncation counted", async () => {
    // Tokenising every character took ~1 s in the worker: past product-qa's 200 ms budget, the request fell back to request order.
    const long = (i: number) => Array.from({ length: 16_000 }, (_, j) => `lamp${(i * 7 + j) % 50}`).join(" ").slice(0, 99_000);
    const docs = Array.from({ length: 9 }, (_, i) => long(i));
    const response = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "lamp", documents: docs });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.meta.fallback).toEqual({ used: false, reason: null, served_by: "model" });
    expect(body.meta.truncated_documents).toBe(9);
    expect(body.results.map((r: { index: number }) => r.index)).toEqual(await modelOrder("lamp", docs));
  });

  it("answers every error of /v2/rerank in Cohere's shape: 401, 415 and 405 carry `message` beside the house's error", async () => {
    const unauthorized = await post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "q", documents: ["a"] }, {});
    expect(unauthorized.status).toBe(401);
    const body = await unauthorized.json();
    expect(body).toEqual({ message: body.error.message, error: { code: "UNAUTHORIZED", message: expect.stringMatching(/^authorization: /) } });
    const plain = await fetch(`${frontDoor.url}/v1/rerank`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: "{}" });
    expect(plain.status).toBe(415);
    const plainBody = await plain.json();
    expect(plainBody.message).toBe(plainBody.error.message);
    const get = await fetch(`${frontDoor.url}/v2/rerank`, { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(405);
    expect((await get.json()).message).toBe("method: /v2/rerank takes POST, not GET");
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("refuses an object document with neither text nor a field the model reads, naming it (break test: {body} was ranked as empty text); its textFields and text pass", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const refused = await frontDoor.post("/v1/rerank", { model: DEMO_TEXT_SURFACE, query: "lamp", documents: [{ text: "lamp" }, { body: "lamp lamp" }] }, { headers });
    expect(refused.status).toBe(400);
    const body = await refused.json();
    expect(body.message).toBe(body.error.message);
    expect(body.error.fields).toEqual([{ path: "documents[1]", message: expect.stringMatching(/^has none of the fields the model reads \("text", "title", "category"; its fields: "body"\): send its text as "text", or name its fields in rank_fields$/) }]);
    const passes = await frontDoor.post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "lamp", documents: [{ text: "lamp" }, { title: "Bright Lamp", category: "home" }, "lamp"] }, { headers });
    expect(passes.status).toBe(200);
    const named = await frontDoor.post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "lamp", documents: [{ body: "lamp lamp" }], rank_fields: ["body"] }, { headers });
    expect(named.status).toBe(200);
  });

  it("on a cascade, a rescored document's relevance_score is the text model's, whatever else was sent; the rest score below every rescored one (break test: doc 17 read 0.3247 among 20, 0.9964 among 30)", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const docs = (n: number) => Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `doc ${i} headphones electronics` : `doc ${i} olive oil grocery`));
    const scoreOf = (body: { results: Array<{ index: number; relevance_score: number }> }, index: number) => body.results.find((r) => r.index === index)!.relevance_score;
    const twenty = await (await frontDoor.post("/v2/rerank", { model: "product-search", query: "headphones", documents: docs(20) }, { headers })).json();
    const thirty = await (await frontDoor.post("/v2/rerank", { model: "product-search", query: "headphones", documents: docs(30) }, { headers })).json();
    const alone = await (await frontDoor.post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "headphones", documents: docs(20) }, { headers })).json();
    expect([twenty.meta.stage2.status, thirty.meta.stage2.status]).toEqual(["served", "served"]);
    expect(scoreOf(thirty, 17)).toBeCloseTo(scoreOf(twenty, 17), 5);
    expect(scoreOf(twenty, 17)).toBeCloseTo(scoreOf(alone, 17), 5);
    const scores = thirty.results.map((r: { relevance_score: number }) => r.relevance_score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const rescored = thirty.results.slice(0, thirty.meta.stage2.reranked).map((r: { relevance_score: number }) => r.relevance_score);
    const rest = thirty.results.slice(thirty.meta.stage2.reranked).map((r: { relevance_score: number }) => r.relevance_score);
    expect(Math.max(...rest)).toBeLessThan(Math.min(...rescored));
  });

  it("a surface whose model reads catalog features, given documents none of which is a catalog item, scores them 0.5 with a warning (they read 0.926, 0.903… in request order)", async () => {
    const body = await (await frontDoor.post("/v2/rerank", { model: "search", query: "lamp", documents: ["lamp", "desk lamp", "olive oil"] }, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(body.results.map((r: { relevance_score: number }) => r.relevance_score)).toEqual([0.5, 0.5, 0.5]);
    expect(body.meta.warnings).toContainEqual(expect.stringMatching(/ranks catalog items by their features and none of these documents is one/));
  });

  it("bills a search unit per 100 documents, and names the documents the surface's constraints removed (break test: they vanished without a trace)", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const many = await frontDoor.post("/v2/rerank", { model: DEMO_TEXT_SURFACE, query: "lamp", documents: Array.from({ length: 250 }, (_, i) => `lamp ${i}`) }, { headers });
    const manyBody = await many.json();
    expect(manyBody.meta?.billed_units, JSON.stringify(manyBody).slice(0, 300)).toEqual({ search_units: 3 });
    const flagged = await getDb().catalogItem.findMany({ where: { safetyFlags: { hasSome: ["recalled", "adult"] } }, select: { id: true }, orderBy: { id: "asc" }, take: 2 });
    const clean = await getDb().catalogItem.findFirstOrThrow({ where: { safetyFlags: { isEmpty: true } }, select: { id: true } });
    const documents = [{ id: clean.id, text: "Ultra Yoga Mat" }, ...flagged.map((f) => ({ id: f.id, text: "lamp" }))];
    const answer = await (await frontDoor.post("/v2/rerank", { model: "product-search", query: "yoga mat", documents, top_n: 3 }, { headers })).json();
    expect(answer.results.map((r: { index: number }) => r.index)).toEqual([0]);
    expect(answer.meta.removed_documents.map((r: { index: number }) => r.index).sort()).toEqual([1, 2]);
    expect(answer.meta.warnings).toContainEqual(expect.stringMatching(/^2 of 3 documents were removed by the surface's constraints \(.+\): they are not in results$/));
  });
});
