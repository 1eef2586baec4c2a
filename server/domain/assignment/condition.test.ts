import { describe, expect, it } from "vitest";
import { evalCondition, getPath, paddedVersion } from "./condition";
import { loadGrowthBookCases } from "./fixtures/cases";

const cases = loadGrowthBookCases();

describe("evalCondition (GrowthBook conformance)", () => {
  it.each(cases.evalCondition.map(([name, condition, attributes, expected, savedGroups]) => ({ name, condition, attributes, expected, savedGroups })))(
    "$name",
    ({ condition, attributes, expected, savedGroups }) => {
      expect(evalCondition(attributes, condition, savedGroups)).toBe(expected);
    },
  );
});

describe("evalCondition details", () => {
  it("treats an $and/$or entry that is not an object as an empty condition", () => {
    expect(evalCondition({}, { $and: [1] })).toBe(true);
    expect(evalCondition({}, { $or: [1] })).toBe(true);
  });

  it("skips falsy elements in $elemMatch, as the SDKs do", () => {
    expect(evalCondition({ n: [0] }, { n: { $elemMatch: { $eq: 0 } } })).toBe(false);
    expect(evalCondition({ n: [1] }, { n: { $elemMatch: { $eq: 1 } } })).toBe(true);
  });

  it("stays correct when the same regex is reused and after an invalid one", () => {
    expect(evalCondition({ a: "xyz" }, { a: { $regex: "y" } })).toBe(true);
    expect(evalCondition({ a: "xyz" }, { a: { $regex: "[" } })).toBe(false);
    expect(evalCondition({ a: "abc" }, { a: { $regex: "y" } })).toBe(false);
    expect(evalCondition({ a: "a/b" }, { a: { $regex: "a/b" } })).toBe(true);
  });

  it("does not read saved groups from the prototype chain", () => {
    expect(evalCondition({ id: 1 }, { id: { $inGroup: "constructor" } }, {})).toBe(false);
  });
});

describe("getPath", () => {
  it("walks dot-paths, including empty steps and array properties", () => {
    expect(getPath({ a: { b: { c: 1 } } }, "a.b.c")).toBe(1);
    expect(getPath({ a: { "": 2 } }, "a.")).toBe(2);
    expect(getPath({ tags: ["x", "y"] }, "tags.length")).toBe(2);
    expect(getPath({ a: null }, "a.b")).toBeNull();
    expect(getPath({ a: 5 }, "a.b")).toBeNull();
    expect(getPath({}, "missing")).toBeNull();
  });
});

describe("paddedVersion", () => {
  it("orders releases above their pre-releases and pads numbers", () => {
    expect(paddedVersion("v1.2.3+build")).toBe("    1-    2-    3-~");
    expect(paddedVersion("1.0.0-rc.1") < paddedVersion("1.0.0")).toBe(true);
    expect(paddedVersion("0.9.0") < paddedVersion("0.10.0")).toBe(true);
    expect(paddedVersion(undefined)).toBe("    0");
  });
});
