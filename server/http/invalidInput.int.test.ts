import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { keyHeaders } from "../testing/callers";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";

// Refused bodies through the real front door: a body wrong everywhere gets a small 400 that names
// the first fields and counts the rest, checked no further than its first 20 issues (break test:
// 915 documents of 120 wrong fields answered 49.7 MB after 4.4 s of CPU, blocking every other
// caller); a document field named "__proto__" is a 400 naming it, not a 500.

let frontDoor: TestFrontDoor;
let headers: Record<string, string>;
beforeAll(async () => {
  await seedDemo(getDb());
  frontDoor = await startTestFrontDoor();
  headers = await keyHeaders("serving");
});
afterAll(() => frontDoor?.close());

const MAX_ANSWER_BYTES = 64 * 1024;

const manyWrongFields = (n: number, value: unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, value]));
const textBody = { model: "product-qa", query: "q", documents: Array.from({ length: 915 }, () => manyWrongFields(120, [])) };
const rerankBody = { surface: "search", topK: 5, candidates: Array.from({ length: 307 }, (_, c) => ({ id: `sku-${c}`, features: manyWrongFields(256, "x") })) };
const eventsBody = { events: Array.from({ length: 1000 }, (_, i) => ({ eventId: `e${i}`, requestId: "", type: "seen", itemId: "" })) };

async function refused(response: Response) {
  const text = await response.text();
  expect(response.status, text.slice(0, 300)).toBe(400);
  expect(text.length).toBeLessThan(MAX_ANSWER_BYTES);
  return JSON.parse(text) as { message?: string; error: { code: string; message: string; fields: Array<{ path: string; message: string }> } };
}

describe("a body wrong everywhere gets a small 400 naming the first fields and counting the rest", () => {
  it("POST /v2/rerank and /v1/rerank: 915 documents of 120 nested values (999 KB)", async () => {
    expect(JSON.stringify(textBody).length).toBeGreaterThan(900_000);
    for (const path of ["/v2/rerank", "/v1/rerank"]) {
      const answer = await refused(await frontDoor.post(path, textBody, { headers }));
      expect(answer.message).toBe(answer.error.message);
      expect(answer.error.message).toMatch(/^documents\[0\]\.f0: must be a string, number, boolean or null/);
      expect(answer.error.message).toContain("and 15 more issues");
      expect(answer.error.message).toContain("documents[0]: 100 more fields not checked (checking stops after 20 issues)");
      expect(answer.error.message).toContain("documents: 914 more items from [1] on not checked (checking stops after 20 issues)");
      expect(answer.error.fields).toHaveLength(22);
      expect(answer.error.fields[0]).toEqual({ path: "documents[0].f0", message: expect.stringMatching(/^must be a string/) });
    }
  });

  it("POST /api/v1/rerank and tRPC rerank.rank: 307 candidates of 256 string features (839 KB)", async () => {
    const answer = await refused(await frontDoor.post("/api/v1/rerank", rerankBody, { headers }));
    expect(answer.error.message).toMatch(/^candidates\[0\]\.features\.f0: /);
    expect(answer.error.message).toContain("and 251 more issues");
    expect(answer.error.message).toContain("candidates: 306 more items from [1] on not checked");
    expect(answer.error.fields).toHaveLength(21);
    const trpc = await frontDoor.post("/api/trpc/rerank.rank", { json: rerankBody }, { headers });
    const text = await trpc.text();
    expect(trpc.status).toBe(400);
    expect(text.length).toBeLessThan(MAX_ANSWER_BYTES);
    const error = (JSON.parse(text) as { error: { json: { message: string; data: { fields: unknown[] } } } }).error.json;
    expect(error.message).toMatch(/^candidates\[0\]\.features\.f0: .*and 251 more issues/);
    expect(error.data.fields).toHaveLength(21);
  });

  it("more inline features than allowed are refused before any is checked", async () => {
    const body = { surface: "search", topK: 1, candidates: [{ id: "sku-1", features: manyWrongFields(20_000, "x") }] };
    const answer = await refused(await frontDoor.post("/api/v1/rerank", body, { headers }));
    expect(answer.error.message).toBe("candidates[0].features: at most 256 inline features");
  });

  it("POST /api/v1/events: 1,000 wrong events", async () => {
    const answer = await refused(await frontDoor.post("/api/v1/events", eventsBody, { headers }));
    expect(answer.error.message).toMatch(/^events\[0\]\.requestId: must not be empty; events\[0\]\.type: /);
    expect(answer.error.message).toContain("events: 993 more items from [7] on not checked");
  });
});

describe("messages say what is allowed", () => {
  it("a nested attribute value, an empty attribute key", async () => {
    const nested = await refused(await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, context: { attributes: { x: { a: 1 } } }, candidates: [{ id: "a" }] }, { headers }));
    expect(nested.error.message).toBe("context.attributes.x: must be a string, number or boolean");
    const empty = await refused(await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, context: { attributes: { "": "a" } }, candidates: [{ id: "a" }] }, { headers }));
    expect(empty.error.message).toBe('context.attributes: key "": must not be empty');
    expect(empty.error.fields).toEqual([{ path: "context.attributes", message: 'key "": must not be empty' }]);
  });
});

describe('a document field named "__proto__"', () => {
  it("is a 400 naming it when its value is not a field's (not a 500)", async () => {
    for (const value of ['{"text":"b"}', '["b"]', "{}", '"\\u0000"']) {
      for (const path of ["/v2/rerank", "/v1/rerank"]) {
        const raw = `{"model":"product-qa","query":"q","documents":[{"text":"a","__proto__":${value}}]}`;
        const answer = await refused(await frontDoor.post(path, null, { raw, headers }));
        expect(answer.error.fields[0]?.path, raw).toBe("documents[0].__proto__");
      }
    }
  });
});
