import { CohereClient, CohereClientV2, CohereError } from "cohere-ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CROSS_ENCODER_DIR, DEMO_CROSS_ENCODER_NAME } from "../../demo/crossEncoder";
import { readCrossEncoderBundle } from "../../inference/crossEncoder/bundle";
import { CrossEncoder } from "../../inference/crossEncoder/model";
import { keyHeaders } from "../../testing/callers";
import { startTestFrontDoor, type TestFrontDoor } from "../../testing/frontDoor";
import { closeCrossEncoders } from "./models";

// POST /v2/rerank and /v1/rerank through the real front door (real key check, real worker pool,
// real demo cross-encoder), called with Cohere's official npm client pointed at the console.

let frontDoor: TestFrontDoor;
let token: string;
beforeAll(async () => {
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
    expect(body.meta.warnings[0]).toMatch(/^1 of 2 documents were truncated to fit the model's 32 tokens/);
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
    expect((await unknown.json()).message).toBe(`model: no text reranker is served under "nope"; served: "${DEMO_CROSS_ENCODER_NAME}"`);
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
});
