import { describe, expect, it } from "vitest";
import { evalCondition, getPath, paddedVersion, type SavedGroup, type SavedGroups } from "./condition";
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
  it("reads malformed sub-conditions as the SDK's Object.entries() does", () => {
    expect(evalCondition({}, { $and: [1] })).toBe(true); // a number is an empty condition
    expect(evalCondition({}, { $not: 1 })).toBe(false);
    expect(evalCondition({ a: [[]] }, { a: { $elemMatch: 0 } })).toBe(true);
    expect(evalCondition({ 0: "x" }, { $or: ["x"] })).toBe(true); // a string is its characters by index
    expect(evalCondition({}, { $and: [null] })).toBe(false); // the SDK throws here
  });

  it("tests falsy elements in $elemMatch but skips null ones", () => {
    expect(evalCondition({ n: [0] }, { n: { $elemMatch: { $eq: 0 } } })).toBe(true);
    expect(evalCondition({ n: [null] }, { n: { $elemMatch: { $eq: null } } })).toBe(false);
  });

  it("never throws: an attribute that cannot be coerced fails the condition", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    expect(evalCondition({ a: bare }, { a: "x" })).toBe(false);
    expect(evalCondition({ a: bare }, { a: { $gt: 1 } })).toBe(false);
    // …except under $regex, where the SDK itself catches, so $not still flips it.
    expect(evalCondition({ a: bare }, { $not: { a: { $regex: "x" } } })).toBe(true);
  });

  it("matches targeting regexes in linear time: ^(a+)+$ on 40 a's and a b answers at once (issue #11)", () => {
    // A backtracking engine takes seconds at 31 characters and doubles with each one more: at 40 this
    // test would run for hours. RE2 answers in microseconds.
    const hostile = `${"a".repeat(40)}b`;
    expect(evalCondition({ country: hostile }, { country: { $regex: "^(a+)+$" } })).toBe(false);
    expect(evalCondition({ country: "a".repeat(40) }, { country: { $regex: "^(a+)+$" } })).toBe(true);
    expect(evalCondition({ country: hostile.toUpperCase() }, { country: { $regexi: "^(a+)+b$" } })).toBe(true);
    // RE2 has no lookaround or backreferences: such a pattern is invalid and matches nobody.
    expect(evalCondition({ country: "aa" }, { country: { $regex: "(a)\\1" } })).toBe(false);
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

describe("saved groups", () => {
  const groups: SavedGroups = {
    legacy: ["u1", "u2"],
    staff: { type: "list", attributeKey: "email", values: ["a@x.io"] },
    german: { type: "condition", condition: { country: "DE" } },
    loop: { type: "condition", condition: { $savedGroup: { id: "loop" } } },
    broken: { type: "list", values: "u1" } as unknown as SavedGroup,
  };

  it("reads bare and typed lists with $inGroup / $notInGroup", () => {
    expect(evalCondition({ id: "u1" }, { id: { $inGroup: "legacy" } }, groups)).toBe(true);
    expect(evalCondition({ email: "a@x.io" }, { email: { $inGroup: "staff" } }, groups)).toBe(true);
    expect(evalCondition({ id: "u3" }, { id: { $notInGroup: "legacy" } }, groups)).toBe(true);
    expect(evalCondition({ id: "u3" }, { id: { $notInGroup: "unknown" } }, groups)).toBe(true);
  });

  it("fails both $inGroup and $notInGroup on a malformed or condition group", () => {
    for (const id of ["broken", "german"]) {
      expect(evalCondition({ id: "u1" }, { id: { $inGroup: id } }, groups)).toBe(false);
      expect(evalCondition({ id: "u1" }, { id: { $notInGroup: id } }, groups)).toBe(false);
    }
  });

  it("resolves $savedGroup references to lists and conditions, and stops self-reference", () => {
    expect(evalCondition({ email: "a@x.io" }, { $savedGroup: { id: "staff" } }, groups)).toBe(true);
    expect(evalCondition({ login: "a@x.io" }, { $savedGroup: { id: "staff", attributeKey: "login" } }, groups)).toBe(true);
    expect(evalCondition({ country: "DE" }, { $savedGroup: { id: "german" } }, groups)).toBe(true);
    expect(evalCondition({ country: "FR" }, { $savedGroup: { id: "german" } }, groups)).toBe(false);
    expect(evalCondition({}, { $savedGroup: { id: "loop" } }, groups)).toBe(false);
    expect(evalCondition({ id: "u1" }, { $savedGroup: { id: "legacy" } }, groups)).toBe(false); // a bare list has no attribute
    expect(evalCondition({}, { $savedGroup: { id: "unknown" } }, groups)).toBe(false);
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
