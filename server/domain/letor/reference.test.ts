import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { evaluateRanking } from "../ranking/metrics";
import { LETOR_SAMPLE, loadLetorSample } from "./reference";

describe("loadLetorSample", () => {
  it("parses train and test at the same width, naming the files read", () => {
    const files: Record<string, string> = {
      "models/data/letor/rank.train": "1 2:0.5\n0 1:0.25\n",
      "models/data/letor/rank.train.query": "2\n",
      "models/data/letor/rank.test": "3 7:1\n",
      "models/data/letor/rank.test.query": "1\n",
    };
    const sample = loadLetorSample((path) => files[path] ?? "");
    expect(sample.train.numFeatures).toBe(LETOR_SAMPLE.numFeatures);
    expect(sample.test.numFeatures).toBe(LETOR_SAMPLE.numFeatures);
    expect(sample.files.test).toEqual(["models/data/letor/rank.test", "models/data/letor/rank.test.query"]);
    expect(sample.test.features[6]).toBe(1);
  });

  it("matches the committed sample's README: sizes and edge cases", () => {
    const { train, test } = loadLetorSample((path) => readFileSync(path, "utf8"));
    expect([train.rows, train.groups.length, test.rows, test.groups.length]).toEqual([3005, 201, 768, 50]);
    expect(Math.max(...train.labels, ...test.labels)).toBe(4);
    const noRelevant = (d: typeof train) => evaluateRanking(new Float64Array(d.rows), d.labels, d.groups).queriesWithoutRelevant;
    expect([noRelevant(train), train.groups.filter((g) => g === 1).length]).toEqual([3, 1]);
    expect([noRelevant(test), test.groups.filter((g) => g === 1).length]).toEqual([0, 0]);
  });
});
