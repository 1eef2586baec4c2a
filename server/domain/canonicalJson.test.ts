import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonicalJson";

describe("canonicalJson", () => {
  it("gives one text for objects whose keys come in another order, at any depth (jsonb reorders them)", () => {
    expect(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson({ rerankCount: 5, alias: "p" })).toBe(canonicalJson({ alias: "p", rerankCount: 5 }));
  });
  it("keeps what tells values apart: array order, null against a missing member", () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({ a: null })).not.toBe(canonicalJson({}));
    expect(canonicalJson({ a: undefined })).toBe(canonicalJson({}));
  });
});
