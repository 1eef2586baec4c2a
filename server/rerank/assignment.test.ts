import { describe, expect, it } from "vitest";
import { requestAttributes } from "./assignment";
import { rerankRequestSchema, type RerankRequest } from "./schema";

// Targeting reads context.country, device, locale and returning, and the request's surface, under
// those names; context.attributes may carry the same names. Break test (2026-12): an attribute
// `country` was overwritten by an absent context.country, so a `country eq US` rule never matched it.

const request = (context: RerankRequest["context"]): RerankRequest => ({ surface: "search", topK: 5, candidates: [{ id: "a" }], context });

describe("requestAttributes", () => {
  it("honours context.attributes.country when context.country is absent", () => {
    expect(requestAttributes(request({ attributes: { country: "US", tier: "gold" } }))).toEqual({ country: "US", tier: "gold", surface: "search" });
  });

  it("reads the context's own field when it is given, and the request's surface always", () => {
    expect(requestAttributes(request({ country: "DE", returning: false, attributes: { device: "ios" } }))).toEqual({ country: "DE", returning: false, device: "ios", surface: "search" });
    // No key for a field that is neither given nor an attribute (an `exists` rule must not see it).
    expect(Object.keys(requestAttributes(request({})))).toEqual(["surface"]);
  });
});

describe("rerankRequestSchema: an attribute that contradicts its context field", () => {
  const issues = (body: unknown) => {
    const r = rerankRequestSchema.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("is refused naming context.attributes.<name>; the same value twice, or either alone, is accepted", () => {
    const base = { surface: "search", topK: 5, candidates: [{ id: "a" }] };
    expect(issues({ ...base, context: { country: "DE", attributes: { country: "US" } } })).toEqual([
      'context.attributes.country: "US" contradicts context.country ("DE"): targeting reads one country; send it once',
    ]);
    expect(issues({ ...base, context: { returning: true, attributes: { returning: false } } })).toEqual([
      "context.attributes.returning: false contradicts context.returning (true): targeting reads one returning; send it once",
    ]);
    expect(issues({ ...base, context: { attributes: { surface: "home" } } })).toEqual([
      'context.attributes.surface: "home" contradicts surface ("search"): targeting reads one surface; send it once',
    ]);
    expect(issues({ ...base, context: { country: "US", attributes: { country: "US", surface: "search" } } })).toEqual([]);
    expect(issues({ ...base, context: { attributes: { country: "US", device: "ios", locale: "en-US" } } })).toEqual([]);
  });
});
