import { describe, expect, it } from "vitest";
import { LetorParseError, parseLetor } from "./parse";

const sample = ["2 1:0.5 3:0.25", "0 2:1", "", "1 1:0.1 4:0.75 # a comment", ""].join("\n");

describe("parseLetor", () => {
  it("reads labels, sparse features (0-based, absent = 0) and query groups", () => {
    const data = parseLetor(sample, "2\n1\n");
    expect(data.rows).toBe(3);
    expect(data.numFeatures).toBe(4);
    expect(Array.from(data.labels)).toEqual([2, 0, 1]);
    expect(data.groups).toEqual([2, 1]);
    expect(Array.from(data.features)).toEqual([0.5, 0, 0.25, 0, 0, 1, 0, 0, Math.fround(0.1), 0, 0, 0.75]);
  });

  it("can be forced wider so train and test share one width", () => {
    const data = parseLetor(sample, "3", { numFeatures: 6 });
    expect(data.numFeatures).toBe(6);
    expect(data.features.length).toBe(18);
    expect(data.features[2 * 6 + 3]).toBe(0.75);
  });

  it("ignores a qid column", () => {
    expect(Array.from(parseLetor("1 qid:7 2:3", "1").features)).toEqual([0, 3]);
  });

  it("names the line of malformed input", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["1 1:0.5\nx 2:1", "2", /data line 2: label "x" is not a number/],
      ["1 1:0.5\n0 2", "2", /data line 2: "2" is not an index:value pair/],
      ["1 0:0.5", "1", /data line 1: feature index "0" is not a positive integer/],
      ["1 3:0.5 2:1", "1", /data line 1: feature index 2 follows 3/],
      ["1 1:abc", "1", /data line 1: value "abc" of feature 1/],
      ["1 1:0.5", "0", /query file line 1: "0" is not a positive document count/],
      ["1 1:0.5\n1 1:0.5", "1", /query file groups 1 documents but data has 2 rows/],
    ];
    for (const [text, query, message] of cases) {
      expect(() => parseLetor(text, query)).toThrow(LetorParseError);
      expect(() => parseLetor(text, query)).toThrow(message);
    }
    expect(() => parseLetor("1 5:1", "1", { numFeatures: 4, dataName: "rank.test" })).toThrow(/rank.test line 1: feature index 5 exceeds the 4 features expected/);
  });
});
