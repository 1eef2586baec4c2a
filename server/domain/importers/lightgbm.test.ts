import { describe, expect, it } from "vitest";
import { createRng, type Rng } from "../random";
import { predictRow } from "../trees/ensemble";
import { CONSTANT_TREE_PALETTE, expectedScores, LETOR_FEATURES, letorTestRows, paletteRows, readFixture, SINGLE_TREE_PALETTE, withNans } from "./fixtures/rows";
import { evaluateLightGbm, parseLightGbm, readLightGbm } from "./lightgbm";
import { ModelImportError } from "./treeShape";

function maxDiff(rows: Float32Array, features: number, a: (row: Float32Array) => number, b: (row: Float32Array, i: number) => number): number {
  let max = 0;
  for (let i = 0; i < rows.length / features; i++) {
    const row = rows.subarray(i * features, (i + 1) * features);
    max = Math.max(max, Math.abs(a(row) - b(row, i)));
  }
  return max;
}

interface TreeSpec {
  numLeaves: number;
  splitFeature: number[];
  threshold: number[];
  decisionType: number[];
  leftChild: number[];
  rightChild: number[];
  leafValue: number[];
}

/** A model.txt in LightGBM's own layout, for hand-made and random trees. */
function modelText(numFeatures: number, trees: TreeSpec[], header: Record<string, string> = {}): string {
  const head = {
    version: "v4",
    num_class: "1",
    num_tree_per_iteration: "1",
    label_index: "0",
    max_feature_idx: String(numFeatures - 1),
    objective: "lambdarank",
    feature_names: Array.from({ length: numFeatures }, (_, i) => `f${i}`).join(" "),
    tree_sizes: trees.map(() => "100").join(" "),
    ...header,
  };
  const blocks = trees.map((t, k) =>
    [
      `Tree=${k}`,
      `num_leaves=${t.numLeaves}`,
      "num_cat=0",
      `split_feature=${t.splitFeature.join(" ")}`,
      `threshold=${t.threshold.map((x) => x.toPrecision(17)).join(" ")}`,
      `decision_type=${t.decisionType.join(" ")}`,
      `left_child=${t.leftChild.join(" ")}`,
      `right_child=${t.rightChild.join(" ")}`,
      `leaf_value=${t.leafValue.map((x) => x.toPrecision(17)).join(" ")}`,
      "is_linear=0",
      "shrinkage=0.1",
      "",
      "",
    ].join("\n"),
  );
  return ["tree", ...Object.entries(head).map(([k, v]) => `${k}=${v}`), "", ...blocks, "end of trees", "", "feature_importances:", "f0=1", ""].join("\n");
}

/** LightGBM's kZeroThreshold (1e-35f), as LightGBM writes it: 1.0000000180025095e-35. */
const KZERO = Math.fround(1e-35);

/** Random LightGBM trees: splits numbered in creation order, leaves as ~index, all three missing types. */
function randomTree(rng: Rng, numFeatures: number, zeroSafe: boolean): TreeSpec {
  const t: TreeSpec = { numLeaves: 0, splitFeature: [], threshold: [], decisionType: [], leftChild: [], rightChild: [], leafValue: [] };
  const grow = (depth: number): number => {
    if (depth === 0 || rng.next() < 0.25) {
      t.leafValue.push(rng.normal() * 0.3);
      return ~(t.leafValue.length - 1);
    }
    const index = t.splitFeature.length;
    const missing = rng.pick([0, 1, 2]);
    const defaultLeft = rng.next() < 0.5;
    let threshold = rng.pick([rng.normal(), 0, KZERO, -0.5, 0.3]);
    // Zero-as-missing splits are only importable when the threshold leaves the zero band whole.
    if (missing === 1 && zeroSafe) threshold = defaultLeft ? Math.max(threshold, KZERO) : Math.min(threshold, -1e-34);
    t.splitFeature.push(rng.int(0, numFeatures - 1));
    t.threshold.push(threshold);
    t.decisionType.push((missing << 2) | (defaultLeft ? 2 : 0));
    t.leftChild.push(0);
    t.rightChild.push(0);
    t.leftChild[index] = grow(depth - 1);
    t.rightChild[index] = grow(depth - 1);
    return index;
  };
  grow(rng.int(0, 5));
  t.numLeaves = t.leafValue.length;
  return t;
}

describe("parseLightGbm on the LETOR models trained by LightGBM 4.7.0", () => {
  const { data, rows } = letorTestRows();
  const expected = expectedScores("letor-expected.json").models;

  it("reads the header: 300 features, their names, the objective", () => {
    const model = parseLightGbm(readFixture("letor-lightgbm.txt"));
    expect(model.numFeatures).toBe(LETOR_FEATURES);
    expect(model.featureNames).toHaveLength(LETOR_FEATURES);
    expect(model.featureNames[0]).toBe("f1");
    expect(model.objective).toBe("lambdarank");
    expect(model.ensemble.trees).toHaveLength(80);
    expect(model.ensemble).toMatchObject({ comparison: "<=", baseScore: 0, numFeatures: LETOR_FEATURES });
  });

  for (const [name, rowsOf] of [
    ["letor-lightgbm.txt", () => data],
    ["letor-lightgbm-nan.txt", () => withNans(data, LETOR_FEATURES)],
  ] as const) {
    it(`${name}: the native walker reproduces LightGBM's own raw scores on all ${rows} test rows`, () => {
      const model = parseLightGbm(readFixture(name));
      const scores = expected[name]!.scores!;
      expect(scores).toHaveLength(rows);
      expect(maxDiff(rowsOf(), LETOR_FEATURES, (row) => evaluateLightGbm(model.native, row), (_, i) => scores[i]!)).toBeLessThanOrEqual(1e-12);
    });

    it(`${name}: the converted ensemble takes the same paths as the native walker`, () => {
      const model = parseLightGbm(readFixture(name));
      expect(maxDiff(rowsOf(), LETOR_FEATURES, (row) => predictRow(model.ensemble, row), (row) => evaluateLightGbm(model.native, row))).toBeLessThanOrEqual(1e-12);
    });
  }

  it("the NaN-trained model really has NaN missing types, both default directions", () => {
    const types = new Set(readLightGbm(readFixture("letor-lightgbm-nan.txt")).trees.flatMap((t) => t.decisionType));
    expect(types).toEqual(new Set([8, 10]));
  });
});

describe("parseLightGbm on models copied from public repositories", () => {
  const expected = expectedScores("public-expected.json").models;

  it("lleaves single_tree (v3, regression): scores match LightGBM 4.7.0", () => {
    const model = parseLightGbm(readFixture("lleaves-single-tree.model.txt"));
    expect(model.objective).toBe("regression");
    expect(model.featureNames).toEqual(Array.from({ length: 10 }, (_, i) => `Column_${i}`));
    const rows = paletteRows(SINGLE_TREE_PALETTE, 48, 10);
    const scores = expected["lleaves-single-tree.model.txt"]!.scores!;
    expect(maxDiff(rows, 10, (row) => evaluateLightGbm(model.native, row), (_, i) => scores[i]!)).toBeLessThanOrEqual(1e-12);
    expect(maxDiff(rows, 10, (row) => predictRow(model.ensemble, row), (_, i) => scores[i]!)).toBeLessThanOrEqual(1e-12);
  });

  it("treelite constant tree (binary, a num_leaves=1 tree with empty arrays): scores match LightGBM 4.7.0", () => {
    const model = parseLightGbm(readFixture("treelite-constant-tree.model.txt"));
    expect(model.objective).toBe("binary");
    expect(model.native.objectiveLine).toBe("binary sigmoid:1");
    expect(model.native.trees[1]!.numLeaves).toBe(1);
    expect(model.ensemble.trees[1]!.nodes).toEqual([expect.objectContaining({ isLeaf: true, value: 0 })]);
    const rows = paletteRows(CONSTANT_TREE_PALETTE, 48, 126);
    const scores = expected["treelite-constant-tree.model.txt"]!.scores!;
    expect(maxDiff(rows, 126, (row) => evaluateLightGbm(model.native, row), (_, i) => scores[i]!)).toBeLessThanOrEqual(1e-12);
    expect(maxDiff(rows, 126, (row) => predictRow(model.ensemble, row), (_, i) => scores[i]!)).toBeLessThanOrEqual(1e-12);
  });
});

describe("LightGBM missing values", () => {
  // One split on feature 0 at threshold t; leaves score 1 (left) and 2 (right).
  const stump = (decisionType: number, threshold: number) =>
    modelText(1, [{ numLeaves: 2, splitFeature: [0], threshold: [threshold], decisionType: [decisionType], leftChild: [-1], rightChild: [-2], leafValue: [1, 2] }]);
  const score = (text: string, x: number) => {
    const model = parseLightGbm(text);
    const native = evaluateLightGbm(model.native, [x]);
    expect(predictRow(model.ensemble, Float32Array.of(x))).toBe(native);
    return native;
  };

  it("missing type None: NaN is scored as 0", () => {
    expect(score(stump(0, 0.5), Number.NaN)).toBe(1);
    expect(score(stump(2, -0.5), Number.NaN)).toBe(2);
  });

  it("missing type NaN: NaN follows default_left, 0 is an ordinary value", () => {
    expect(score(stump(10, 0.5), Number.NaN)).toBe(1);
    expect(score(stump(8, -0.5), Number.NaN)).toBe(2);
    expect(score(stump(8, 0.5), Number.NaN)).toBe(2);
    expect(score(stump(8, 0.5), 0)).toBe(1);
  });

  it("missing type Zero: NaN and |x| ≤ 1e-35 follow the default side when the threshold leaves that band whole", () => {
    const left = stump(6, KZERO);
    for (const x of [Number.NaN, 0, 1e-36, -1e-36, Math.fround(1e-35)]) expect(score(left, x)).toBe(1);
    expect(score(left, 0.5)).toBe(2);
    const right = stump(4, -0.25);
    for (const x of [Number.NaN, 0, 1e-36]) expect(score(right, x)).toBe(2);
    expect(score(right, -0.5)).toBe(1);
  });

  it("refuses a zero-as-missing split whose threshold cuts the zero band", () => {
    expect(() => parseLightGbm(stump(4, 0.5))).toThrow(/zero_as_missing/);
  });

  it("random trees with all missing types: walker and ensemble agree on float32 rows with NaN, zeros and tiny values", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rng = createRng(seed);
      const features = rng.int(1, 6);
      const model = parseLightGbm(modelText(features, Array.from({ length: rng.int(1, 8) }, () => randomTree(rng, features, true))));
      const rows = new Float32Array(200 * features).map(() => rng.pick([Number.NaN, 0, 1e-36, -1e-36, KZERO, -KZERO, -0.5, 0.3, rng.normal()]));
      expect(maxDiff(rows, features, (row) => predictRow(model.ensemble, row), (row) => evaluateLightGbm(model.native, row))).toBe(0);
    }
  });
});

describe("parseLightGbm refuses what it cannot import, naming the place", () => {
  const good = readFixture("lleaves-single-tree.model.txt");
  const lineOf = (text: string, prefix: string) => text.split("\n").findIndex((l) => l.startsWith(prefix)) + 1;
  const expectError = (text: string, pattern: RegExp) => {
    expect(() => parseLightGbm(text)).toThrow(ModelImportError);
    expect(() => parseLightGbm(text)).toThrow(pattern);
  };

  it("a file that is not a LightGBM model", () => {
    expectError("{}", /line 1: .*"tree"/);
    expectError("", /starts with the line "tree"/);
  });

  it("a truncated file (no 'end of trees')", () => {
    expectError(good.slice(0, good.indexOf("end of trees")), /without "end of trees"/);
    expectError(good.slice(0, good.indexOf("leaf_value=")), /leaf_value is missing|without "end of trees"/);
  });

  it("a malformed number names its line and index", () => {
    const bad = good.replace("threshold=0.150954444988769 0.25662549523771233", "threshold=0.150954444988769 abc");
    expectError(bad, new RegExp(`line ${lineOf(good, "threshold=")}: threshold\\[1\\]: "abc" is not a number`));
  });

  it("arrays of the wrong length", () => {
    expectError(good.replace("decision_type=2 2 2 2 2 2 2 2 2 2", "decision_type=2 2 2"), /decision_type has 3 values, expected 10 \(num_leaves=11\)/);
  });

  it("children pointing outside the tree, and node tables that are not trees", () => {
    expectError(good.replace("left_child=7 3", "left_child=70 3"), /left_child\[0\]=70 points outside/);
    expectError(good.replace("left_child=7 3", "left_child=1 3"), /reached twice/);
  });

  it("a split on a feature past max_feature_idx", () => {
    expectError(good.replace("split_feature=4 0", "split_feature=12 0"), /split_feature\[0\]=12 is outside 0..9/);
  });

  it("categorical splits, by num_cat and by decision_type", () => {
    expectError(good.replace("num_cat=0", "num_cat=1"), new RegExp(`line ${lineOf(good, "num_cat=")}: .*categorical`));
    expectError(good.replace("decision_type=2 2", "decision_type=3 2"), /decision_type\[0\]=3 is a categorical split/);
  });

  it("multi-class, random-forest averaging and linear trees", () => {
    expectError(good.replace("num_class=1", "num_class=3"), /num_class=3: multi-class/);
    expectError(good.replace("num_tree_per_iteration=1", "num_tree_per_iteration=3"), /num_tree_per_iteration=3/);
    expectError(good.replace("objective=regression", "objective=regression\naverage_output"), /average_output/);
    expectError(good.replace("is_linear=0", "is_linear=1"), /linear tree/);
  });

  it("header problems: no max_feature_idx, names that do not match it, tree_sizes that do not match the trees", () => {
    expectError(good.replace("max_feature_idx=9\n", ""), /max_feature_idx is missing/);
    expectError(good.replace("feature_names=Column_0 ", "feature_names="), /feature_names lists 9 names/);
    expectError(good.replace("tree_sizes=1025", "tree_sizes=1025 900"), /tree_sizes lists 2 trees but the file has 1/);
  });

  it("a model without trees", () => {
    expectError(good.slice(0, good.indexOf("Tree=0")) + "end of trees\n", /no trees/);
  });
});

describe("parseLightGbm bounds every declared count before allocating (issue 11: uploads can't hurt serving)", () => {
  const good = readFixture("lleaves-single-tree.model.txt");
  const limits = { maxFeatures: 4096, maxTrees: 20_000, maxNodes: 4_000_000 };

  it("the 32-byte upload declaring 4,294,967,295 features is refused naming its line and the setting", () => {
    const hostile = "tree\nmax_feature_idx=4294967294\n";
    expect(() => parseLightGbm(hostile, limits)).toThrow("line 2: max_feature_idx=4294967294 declares 4294967295 features; the limit is 4096 (MODEL_MAX_FEATURES)");
  });

  it("a count of 5e9 is refused as a bad value, not a crash", () => {
    expect(() => parseLightGbm("tree\nmax_feature_idx=5000000000\n", limits)).toThrow(/line 2: .*declares 5000000001 features; the limit is 4096/);
    expect(() => parseLightGbm("tree\nmax_feature_idx=5e9\n", limits)).toThrow(/line 2: max_feature_idx: "5e9" is not an integer/);
    expect(() => parseLightGbm(good.replace("num_leaves=11", "num_leaves=5000000000"), limits)).toThrow(/num_leaves=5000000000 brings the nodes of Tree=0\.\.0 to 9999999999; the limit is 4000000 \(MODEL_MAX_NODES\)/);
  });

  it("trees and nodes over the limits name the line", () => {
    const twoTrees = readFixture("treelite-constant-tree.model.txt");
    expect(() => parseLightGbm(twoTrees, { ...limits, maxTrees: 1 })).toThrow(/line \d+: Tree=1 is tree number 2; the limit is 1 \(MODEL_MAX_TREES\)/);
    expect(() => parseLightGbm(good, { ...limits, maxNodes: 20 })).toThrow(/num_leaves=11 brings the nodes of Tree=0\.\.0 to 21; the limit is 20/);
    expect(parseLightGbm(good, { ...limits, maxNodes: 21 }).numFeatures).toBe(10);
  });
});

describe("a leaf of 300.123456789 (issue 14 point 5)", () => {
  it("is read in double precision, as LightGBM sums it", () => {
    const model = parseLightGbm(readFixture("large-leaf-lightgbm.model.txt"));
    expect(model.native.trees[0]!.leafValue[0]).toBe(300.123456789);
    // price 0.1 <= 0.5 → node 1; stock 1 <= 2.25 → leaf 0; rating 3 <= 7.5 → leaf 0 of tree 1.
    expect(evaluateLightGbm(model.native, [0.1, 1, 3])).toBe(300.123456789 + 0.0001220703125);
  });
});
