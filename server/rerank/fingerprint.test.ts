import { describe, expect, it } from "vitest";
import { canonicalJson, requestFingerprint } from "./fingerprint";
import type { RerankRequest } from "./schema";

// A repeated requestId is a replay only for the same request (pipeline.ts answerOnce): the
// fingerprint must tell every difference that changes a response, and nothing else.

const base: RerankRequest = {
  surface: "search", requestId: "replay-2", topK: 2, userKey: "u1", sessionKey: "s1",
  context: { query: "lamp", attributes: { tier: "gold", age: 3 } },
  candidates: [{ id: "sku-00011", retrievalScore: 0.9, features: { price: 3, popularity: 0.5 } }, { id: "sku-00012" }],
};

describe("requestFingerprint", () => {
  it("is the same for the same request, whatever the order of its objects' keys, and ignores the requestId", () => {
    const reordered: RerankRequest = {
      candidates: [{ features: { popularity: 0.5, price: 3 }, retrievalScore: 0.9, id: "sku-00011" }, { id: "sku-00012" }],
      context: { attributes: { age: 3, tier: "gold" }, query: "lamp" }, sessionKey: "s1", userKey: "u1", topK: 2, requestId: "another-id", surface: "search",
    };
    expect(requestFingerprint(reordered)).toBe(requestFingerprint(base));
    const withoutUser: RerankRequest = { ...base };
    delete withoutUser.userKey;
    expect(requestFingerprint({ ...base, userKey: undefined })).toBe(requestFingerprint(withoutUser));
    expect(requestFingerprint(base)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("differs for every field that decides the response (break test: other candidates and topK were answered with the first response)", () => {
    const changes: Array<Partial<RerankRequest>> = [
      { surface: "product-search" }, { topK: 1 }, { userKey: "u2" }, { userKey: undefined }, { sessionKey: "s2" }, { context: { query: "lamps", attributes: { tier: "gold", age: 3 } } },
      { context: { query: "lamp", attributes: { tier: "gold", age: 4 } } },
      { candidates: [{ id: "sku-00501" }, { id: "sku-00502" }] },
      { candidates: [base.candidates[1]!, base.candidates[0]!] },
      { candidates: [{ ...base.candidates[0]!, retrievalScore: 0.8 }, base.candidates[1]!] },
      { candidates: [{ ...base.candidates[0]!, features: { price: 3, popularity: 0.6 } }, base.candidates[1]!] },
      { candidates: [{ ...base.candidates[0]!, text: "a lamp" }, base.candidates[1]!] },
    ];
    const prints = changes.map((change) => requestFingerprint({ ...base, ...change }));
    expect(new Set([requestFingerprint(base), ...prints]).size).toBe(changes.length + 1);
  });

  it("tells POST /v2/rerank's documents, rank_fields and max_tokens_per_doc apart", () => {
    const text = { documents: [{ title: "a lamp", body: "bright" }, "a chair"], rankFields: ["title"], maxTokensPerDoc: 64 };
    const same = requestFingerprint(base, { maxTokensPerDoc: 64, rankFields: ["title"], documents: [{ body: "bright", title: "a lamp" }, "a chair"] });
    expect(same).toBe(requestFingerprint(base, text));
    for (const other of [{ ...text, documents: ["a lamp", "a chair"] }, { ...text, rankFields: ["body"] }, { ...text, maxTokensPerDoc: 32 }, undefined]) {
      expect(requestFingerprint(base, other)).not.toBe(same);
    }
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every depth, keeps arrays' order, and keeps a field named __proto__ as a field", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3], a: null, u: undefined })).toBe('{"a":null,"b":[{"c":2,"d":1},3]}');
    const proto = JSON.parse('{"z": 1, "__proto__": {"y": 2, "x": 1}}') as unknown;
    expect(canonicalJson(proto)).toBe('{"__proto__":{"x":1,"y":2},"z":1}');
  });
});
