import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { predictRow } from "../trees/ensemble";
import { expectedScores, LETOR_FEATURES, letorTestRows, paletteRows, readFixture, withNans, XGBOOST_RUBY_PALETTE } from "./fixtures/rows";
import { ModelImportError } from "./treeShape";
import { evaluateXgboost, parseXgboostJson, readXgboost, readXgboostText } from "./xgboost";

function maxDiff(rows: Float32Array, features: number, a: (row: Float32Array) => number, b: (row: Float32Array, i: number) => number): number {
  let max = 0;
  for (let i = 0; i < rows.length / features; i++) {
    const row = rows.subarray(i * features, (i + 1) * features);
    max = Math.max(max, Math.abs(a(row) - b(row, i)));
  }
  return max;
}

/**
 * A small model in XGBoost's JSON layout: tree 0 splits feature 0 at 0.5 (NaN left), leaves 0.25
 * and -0.5; tree 1 splits feature 1 at 2 (NaN right), leaves 0.125 and 1.
 */
function tinyModel() {
  const tree = (id: number, feature: number, threshold: number, defaultLeft: boolean, left: number, right: number) => ({
    base_weights: [0, left * 10, right * 10],
    categories: [],
    categories_nodes: [],
    categories_segments: [],
    categories_sizes: [],
    default_left: [defaultLeft, false, false],
    id,
    left_children: [1, -1, -1],
    loss_changes: [1, 0, 0],
    parents: [2147483647, 0, 0],
    right_children: [2, -1, -1],
    split_conditions: [threshold, left, right],
    split_indices: [feature, 0, 0],
    split_type: [0, 0, 0],
    sum_hessian: [2, 1, 1],
    tree_param: { num_deleted: "0", num_feature: "2", num_nodes: "3", size_leaf_vector: "0" },
  });
  return {
    learner: {
      attributes: {},
      feature_names: ["price", "clicks"],
      feature_types: ["float", "float"],
      gradient_booster: {
        model: { gbtree_model_param: { num_parallel_tree: "1", num_trees: "2" }, tree_info: [0, 0], trees: [tree(0, 0, 0.5, true, 0.25, -0.5), tree(1, 1, 2, false, 0.125, 1)] },
        name: "gbtree",
      },
      learner_model_param: { base_score: "5E-1", num_class: "0", num_feature: "2", num_target: "1" },
      objective: { name: "rank:pairwise" },
    },
    version: [1, 7, 4],
  };
}

type Tiny = ReturnType<typeof tinyModel>;
function tinyWith(change: (m: Tiny) => void): Tiny {
  const m = tinyModel();
  change(m);
  return m;
}

function expectError(json: unknown, pattern: RegExp | string) {
  expect(() => parseXgboostJson(json)).toThrow(ModelImportError);
  expect(() => parseXgboostJson(json)).toThrow(pattern);
}

describe("parseXgboostJson on the LETOR models trained by XGBoost 1.7.4", () => {
  const { data, rows } = letorTestRows();
  const expected = expectedScores("letor-expected.json").models;

  it("reads the learner: rank:ndcg, base_score 0.5 used as-is, 300 named features", () => {
    const model = parseXgboostJson(readXgboostText(readFixture("letor-xgboost.json")));
    expect(model.objective).toBe("rank:ndcg");
    expect(model.numFeatures).toBe(LETOR_FEATURES);
    expect(model.featureNames[299]).toBe("f300");
    expect(model.native).toMatchObject({ version: "1.7.4", baseScore: 0.5, baseMargin: 0.5 });
    // The base margin is folded into the first tree's leaves, so an in-order float32 sum rounds as XGBoost's.
    expect(model.ensemble).toMatchObject({ comparison: "<", baseScore: 0, numFeatures: LETOR_FEATURES });
    expect(model.ensemble.trees).toHaveLength(60);
    const firstLeaf = model.native.trees[0]!.left.indexOf(-1);
    const folded = model.ensemble.trees[0]!.nodes.filter((n) => n.isLeaf).map((n) => n.value);
    expect(folded).toContain(Math.fround(0.5 + model.native.trees[0]!.condition[firstLeaf]!));
  });

  for (const [name, rowsOf] of [
    ["letor-xgboost.json", () => data],
    ["letor-xgboost-nan.json", () => withNans(data, LETOR_FEATURES)],
  ] as const) {
    it(`${name}: the native walker reproduces XGBoost's own margins bit for bit on all ${rows} test rows`, () => {
      const model = parseXgboostJson(JSON.parse(readFixture(name)));
      const scores = expected[name]!.scores!;
      expect(scores).toHaveLength(rows);
      expect(maxDiff(rowsOf(), LETOR_FEATURES, (row) => evaluateXgboost(model.native, row), (_, i) => scores[i]!)).toBe(0);
    });

    it(`${name}: the converted ensemble matches (double sums vs XGBoost's float32 sums)`, () => {
      const model = parseXgboostJson(JSON.parse(readFixture(name)));
      expect(maxDiff(rowsOf(), LETOR_FEATURES, (row) => predictRow(model.ensemble, row), (row) => evaluateXgboost(model.native, row))).toBeLessThanOrEqual(2e-6);
    });
  }

  it("takes leaf values from split_conditions: base_weights in 1.7 files are the leaves before the learning rate", () => {
    const json = JSON.parse(readFixture("letor-xgboost.json"));
    const tree = json.learner.gradient_booster.model.trees[0];
    const leaf = (tree.left_children as number[]).indexOf(-1);
    expect(tree.split_conditions[leaf] / tree.base_weights[leaf]).toBeCloseTo(0.1, 6);
  });
});

describe("parseXgboostJson on models copied from public repositories", () => {
  it("xgboost-ruby (XGBoost 3.1 layout): bracketed base_score, 0/1 default_left; leaves match XGBoost 1.7.4", () => {
    const model = parseXgboostJson(readXgboostText(readFixture("xgboost-ruby.model.json")));
    expect(model.native.version).toBe("3.1.0");
    expect(model.native.baseScore).toBe(Math.fround(0.99333334));
    expect(model.featureNames).toEqual(["x0", "x1", "x2", "x3"]);
    expect(model.ensemble.trees).toHaveLength(10);
    // XGBoost 1.7.4 cannot read the bracketed base_score, so its recorded numbers are the leaf sums.
    const sums = expectedScores("public-expected.json").models["xgboost-ruby.model.json"]!.sumOfLeaves!;
    const rows = paletteRows(XGBOOST_RUBY_PALETTE, 48, 4);
    const leavesOnly = { ...model.native, baseMargin: 0 };
    expect(maxDiff(rows, 4, (row) => evaluateXgboost(leavesOnly, row), (_, i) => sums[i]!)).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(rows, 4, (row) => predictRow(model.ensemble, row), (row) => evaluateXgboost(model.native, row))).toBeLessThanOrEqual(1e-6);
  });

  it("treelite toy categorical (XGBoost 1.4, bare NaN tokens): read, then refused as categorical", () => {
    const json = readXgboostText(readFixture("treelite-xgb-toy-categorical.model.json"));
    expect(() => JSON.parse(readFixture("treelite-xgb-toy-categorical.model.json"))).toThrow();
    expectError(json, /trees\[0\]\.split_type\[0\] is 1: categorical splits are not supported/);
  });
});

describe("XGBoost semantics", () => {
  it("x < threshold goes left, x == threshold right, NaN follows default_left", () => {
    const model = parseXgboostJson(tinyModel());
    const score = (a: number, b: number) => {
      const native = evaluateXgboost(model.native, [a, b]);
      expect(predictRow(model.ensemble, Float32Array.of(a, b))).toBeCloseTo(native, 6);
      return native;
    };
    expect(score(0.4, 1)).toBe(0.5 + 0.25 + 0.125);
    expect(score(0.5, 2)).toBe(0.5 - 0.5 + 1);
    expect(score(Number.NaN, Number.NaN)).toBe(0.5 + 0.25 + 1);
  });

  it("compares in float32: an input just above a float32 threshold in double still goes left if it rounds onto it", () => {
    const model = parseXgboostJson(tinyWith((m) => (m.learner.gradient_booster.model.trees[0]!.split_conditions[0] = 0.1)));
    // 0.1 is stored as float32 0.100000001…; the double 0.1000000005 rounds to that float32 too.
    expect(evaluateXgboost(model.native, [0.1000000005, 0])).toBe(evaluateXgboost(model.native, [Math.fround(0.1), 0]));
    expect(evaluateXgboost(model.native, [0.1, 0])).toBe(0.5 - 0.5 + 0.125);
  });

  it("reads base_score in both forms and applies the objective's link", () => {
    const margin = (baseScore: string, objective: string) => readXgboost(tinyWith((m) => ((m.learner.learner_model_param.base_score = baseScore), (m.learner.objective.name = objective)))).baseMargin;
    expect(margin("5E-1", "rank:ndcg")).toBe(0.5);
    expect(margin("[2.5E-1]", "rank:map")).toBe(0.25);
    expect(margin("[8E-1]", "binary:logistic")).toBeCloseTo(Math.log(4), 6);
    expect(margin("2E0", "count:poisson")).toBeCloseTo(Math.log(2), 6);
    expect(margin("1.5E0", "reg:squarederror")).toBe(1.5);
  });

  it("accepts default_left as booleans or 0/1", () => {
    const ints = parseXgboostJson(tinyWith((m) => ((m.learner.gradient_booster.model.trees[0]!.default_left as unknown[]) = [1, 0, 0])));
    expect(evaluateXgboost(ints.native, [Number.NaN, 0])).toBe(0.5 + 0.25 + 0.125);
  });

  it("drops unreachable (pruned) nodes and renumbers depth-first", () => {
    const model = parseXgboostJson(
      tinyWith((m) => {
        const t = m.learner.gradient_booster.model.trees[1]!;
        // A fourth node that nothing points to, as left behind by pruning.
        t.left_children.push(-1);
        t.right_children.push(-1);
        t.split_indices.push(0);
        t.split_conditions.push(99);
        t.default_left.push(false);
        t.base_weights.push(0);
        t.split_type.push(0);
      }),
    );
    expect(model.ensemble.trees[1]!.nodes).toHaveLength(3);
  });

  it("random rows: walker and ensemble agree on the tiny model", () => {
    const model = parseXgboostJson(tinyModel());
    const rng = createRng(5);
    const rows = new Float32Array(400).map(() => rng.pick([Number.NaN, 0.5, 2, Math.fround(0.5) + 1e-7, rng.normal() * 3]));
    expect(maxDiff(rows, 2, (row) => predictRow(model.ensemble, row), (row) => evaluateXgboost(model.native, row))).toBeLessThanOrEqual(1e-7);
  });
});

describe("parseXgboostJson refuses what it cannot import, naming the field", () => {
  it("not an XGBoost model", () => {
    expectError({}, /learner is missing/);
    expect(() => readXgboostText("{not json")).toThrow(ModelImportError);
  });

  it("multi-class, multi-target, vector leaves, several output groups", () => {
    expectError(tinyWith((m) => (m.learner.learner_model_param.num_class = "3")), /num_class is 3: multi-class/);
    expectError(tinyWith((m) => (m.learner.objective.name = "multi:softprob")), /multi-class/);
    expectError(tinyWith((m) => (m.learner.learner_model_param.num_target = "2")), /num_target is 2/);
    expectError(tinyWith((m) => (m.learner.gradient_booster.model.trees[0]!.tree_param.size_leaf_vector = "3")), /size_leaf_vector is 3/);
    expectError(tinyWith((m) => (m.learner.gradient_booster.model.tree_info = [0, 1])), /tree_info\[1\] is 1/);
    expectError(tinyWith((m) => (m.learner.learner_model_param.base_score = "[5E-1,5E-1]")), /base_score/);
  });

  it("other boosters and unknown objectives", () => {
    expectError(tinyWith((m) => (m.learner.gradient_booster.name = "dart")), /"dart".*gbtree/);
    expectError(tinyWith((m) => (m.learner.gradient_booster.name = "gblinear")), /only "gbtree"/);
    expectError(tinyWith((m) => (m.learner.objective.name = "reg:mystery")), /not known/);
  });

  it("categorical splits", () => {
    expectError(tinyWith((m) => (m.learner.gradient_booster.model.trees[1]!.split_type[0] = 1)), /trees\[1\]\.split_type\[0\] is 1/);
  });

  it("damaged arrays name the path", () => {
    expectError(tinyWith((m) => m.learner.gradient_booster.model.trees[0]!.right_children.pop()), /trees\[0\]\.right_children has 2 entries, expected 3/);
    expectError(tinyWith((m) => (m.learner.gradient_booster.model.trees[0]!.split_indices[0] = 7)), /trees\[0\]\.split_indices\[0\] is 7, outside 0..1/);
    expectError(tinyWith((m) => (m.learner.gradient_booster.model.trees[0]!.left_children[0] = 9)), /trees\[0\]\.left_children\[0\] is 9/);
    expectError(tinyWith((m) => ((m.learner.gradient_booster.model.trees[0]!.split_conditions as unknown[])[1] = "x")), /split_conditions\[1\] is "x"/);
    expectError(tinyWith((m) => ((m.learner.gradient_booster.model.trees[0]!.default_left as unknown[])[0] = "yes")), /default_left\[0\]/);
    expectError(tinyWith((m) => (m.learner.learner_model_param.num_feature = "two")), /num_feature/);
    expectError(tinyWith((m) => (m.learner.gradient_booster.model.trees = [])), /no trees/);
  });

  it("a file without split_conditions is refused rather than read from base_weights", () => {
    expectError(tinyWith((m) => delete (m.learner.gradient_booster.model.trees[0] as Partial<Tiny["learner"]["gradient_booster"]["model"]["trees"][0]>).split_conditions), /split_conditions is missing.*base_weights/);
  });
});

describe("early stopping: best_iteration selects the trees that serve (issue 14 point 5)", () => {
  const withAttributes = (attributes: Record<string, string>, change: (m: Tiny) => void = () => {}) =>
    tinyWith((m) => {
      (m.learner.attributes as Record<string, string>) = attributes;
      change(m);
    });

  it("best_iteration 0 serves the first round only, and says so", () => {
    const model = parseXgboostJson(withAttributes({ best_iteration: "0", best_ntree_limit: "1" }));
    expect(model.native.trees).toHaveLength(1);
    expect(model.native).toMatchObject({ treesInFile: 2, bestIteration: 0 });
    expect(model.notes[0]).toMatch(/best_iteration 0, so the first 1 of the 2 trees serve/);
    // 0.5 base + tree 0 only (x0 = 0 < 0.5 → 0.25).
    expect(evaluateXgboost(model.native, [0, 5])).toBe(0.75);
  });

  it("best_iteration at the last round (what XGBoost 1.4–1.7 write without early stopping) serves every tree", () => {
    const model = parseXgboostJson(withAttributes({ best_iteration: "1", best_ntree_limit: "2" }));
    expect(model.native.trees).toHaveLength(2);
    expect(model.notes).toEqual(["best_iteration 1 is the last round: all 2 trees serve"]);
  });

  it("reads best_ntree_limit alone (files before 1.4), num_parallel_tree and iteration_indptr", () => {
    expect(parseXgboostJson(withAttributes({ best_ntree_limit: "1" })).native.trees).toHaveLength(1);
    const parallel = withAttributes({ best_iteration: "0" }, (m) => (m.learner.gradient_booster.model.gbtree_model_param.num_parallel_tree = "2"));
    expect(parseXgboostJson(parallel).native.trees).toHaveLength(2);
    const indptr = withAttributes({ best_iteration: "0" }, (m) => Object.assign(m.learner.gradient_booster.model, { iteration_indptr: [0, 1, 2] }));
    expect(parseXgboostJson(indptr).native.trees).toHaveLength(1);
  });

  it("a best_iteration past the trees in the file is refused", () => {
    expectError(withAttributes({ best_iteration: "5" }), /best_iteration is 5: rounds 0..5 need 6 trees but the file has 2/);
    expectError(withAttributes({ best_iteration: "-1" }), /best_iteration is "-1": expected a whole number/);
  });
});

describe("parseXgboostJson bounds every declared count before allocating (issue 11)", () => {
  it("a file declaring 4,294,967,294 features, or 5e9, is refused naming the field", () => {
    expectError(tinyWith((m) => (m.learner.learner_model_param.num_feature = "4294967294")), "learner.learner_model_param.num_feature declares 4294967294 features; the limit is 4096 (MODEL_MAX_FEATURES)");
    expectError(tinyWith((m) => (m.learner.learner_model_param.num_feature = "5000000000")), /num_feature declares 5000000000 features/);
    expectError(tinyWith((m) => (m.learner.learner_model_param.num_feature = "5e9")), /num_feature is "5e9": expected a whole number/);
  });

  it("trees and nodes over the limits", () => {
    const limits = { maxFeatures: 4096, maxTrees: 1, maxNodes: 100 };
    expect(() => parseXgboostJson(tinyModel(), limits)).toThrow("learner.gradient_booster.model.trees has 2 trees; the limit is 1 (MODEL_MAX_TREES)");
    expect(() => parseXgboostJson(tinyModel(), { ...limits, maxTrees: 2, maxNodes: 5 })).toThrow("learner.gradient_booster.model.trees have 6 nodes in all; the limit is 5 (MODEL_MAX_NODES)");
  });
});
