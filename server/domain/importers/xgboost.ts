import type { TreeEnsemble } from "../trees/ensemble";
import { buildTree, checkCount, DEFAULT_IMPORT_LIMITS, ModelImportError, type ImportLimits, type NativeNode } from "./treeShape";

// XGBoost's JSON model (Booster.save_model("model.json"), schema 1.0 as written by XGBoost 1.x–3.x).
// Per tree, parallel arrays indexed by node: left_children (-1 at a leaf), right_children,
// split_indices, split_conditions, default_left (booleans in older files, 0/1 in newer ones).
//
// - Leaf values: at a leaf, split_conditions holds the leaf's output, already scaled by the
//   learning rate (RegTree keeps split condition and leaf value in one field). base_weights is a
//   training statistic: in XGBoost 1.7 it is the leaf value before the learning rate (leaf / eta),
//   in some 3.x files it happens to equal the leaf value. It is never used as the output here; a
//   file without split_conditions is refused rather than guessed at.
// - Precision: XGBoost keeps features, thresholds and leaf values as float32, sends a row left when
//   x < threshold (NaN: default_left), and adds the leaves to the base margin in float32, tree by
//   tree. `evaluateXgboost` does the same, so it reproduces predict(output_margin=True).
// - Base score: learner_model_param.base_score is stored in output space ("5E-1", or "[5E-1]" from
//   2.x on) and turned into the margin by the objective's link: logit for logistic objectives, log
//   for count/gamma/tweedie/survival, identity otherwise. Ranking objectives (rank:ndcg,
//   rank:pairwise, rank:map) have the identity link, so the margin is base_score + Σ leaves with
//   base_score as written (0.5 by default in 1.x; later versions may fit it). It shifts every
//   document of a query equally and so never changes an ordering, but it is kept so imported
//   scores equal XGBoost's own.
// - Early stopping: XGBoost keeps every tree it grew and records the best round in
//   learner.attributes.best_iteration (0-based; 1.x also writes best_ntree_limit =
//   (best_iteration + 1) × num_parallel_tree). The scikit-learn estimators' predict() (XGBRanker,
//   XGBRegressor, XGBClassifier) use it by default: iteration_range = (0, best_iteration + 1);
//   Booster.predict() uses every tree unless given that iteration_range. A file that records a
//   best_iteration is served as the estimators predict: the trees of rounds 0..best_iteration, i.e.
//   (best_iteration + 1) × num_parallel_tree × output groups trees (iteration_indptr, written from
//   2.x on, gives the boundaries directly). XGBoost 1.4–1.7 also write best_iteration = the last
//   round when training did not stop early, which selects every tree. The import notes say which
//   trees serve.

export interface XgboostTree {
  left: number[];
  right: number[];
  feature: number[];
  /** split_conditions as float32: the threshold at a split, the leaf value at a leaf. */
  condition: number[];
  defaultLeft: boolean[];
}

export interface XgboostModel {
  /** XGBoost version that wrote the file, e.g. "1.7.4" ("" when absent). */
  version: string;
  objective: string;
  /** base_score as written (output space), as float32. */
  baseScore: number;
  /** base_score through the objective's link: what the trees are added to. */
  baseMargin: number;
  numFeatures: number;
  featureNames: string[];
  /** The trees that serve (rounds 0..best_iteration when the file records one). */
  trees: XgboostTree[];
  /** Trees in the file. */
  treesInFile: number;
  /** learner.attributes.best_iteration (0-based), or null when absent. */
  bestIteration: number | null;
  /** What was done beyond a plain conversion, in words, for the version's import notes. */
  notes: string[];
}

export interface ImportedXgboost {
  ensemble: TreeEnsemble;
  featureNames: string[];
  objective: string;
  numFeatures: number;
  native: XgboostModel;
  notes: string[];
}

const IDENTITY_LINK = new Set([
  "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:pseudohubererror", "reg:absoluteerror", "reg:quantileerror",
  "binary:hinge", "rank:pairwise", "rank:ndcg", "rank:map",
]);
// binary:logitraw outputs the margin but inherits the logistic link for base_score.
const LOGIT_LINK = new Set(["binary:logistic", "reg:logistic", "binary:logitraw"]);
const LOG_LINK = new Set(["count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft"]);

/** Parses and converts an XGBoost JSON model (already parsed with JSON.parse or `readXgboostText`). */
export function parseXgboostJson(json: unknown, limits: ImportLimits = DEFAULT_IMPORT_LIMITS): ImportedXgboost {
  const native = readXgboost(json, limits);
  return { ensemble: xgboostToEnsemble(native), featureNames: native.featureNames, objective: native.objective, numFeatures: native.numFeatures, native, notes: native.notes };
}

const NON_FINITE_MARK = "\u0000xgboost-non-finite:";

/**
 * JSON.parse for XGBoost's files, which may contain the bare tokens NaN, Infinity and -Infinity
 * (e.g. split_conditions of categorical splits); they are read as those numbers.
 */
export function readXgboostText(text: string): unknown {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g, (match, bare: string | undefined) => (bare ? JSON.stringify(NON_FINITE_MARK + bare) : match));
  try {
    return JSON.parse(marked);
  } catch (error) {
    throw new ModelImportError(`not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads XGBoost's arrays as written; every declared count is checked against `limits` before use. */
export function readXgboost(json: unknown, limits: ImportLimits = DEFAULT_IMPORT_LIMITS): XgboostModel {
  const learner = object(object(json, "the model")["learner"], "learner");
  const booster = object(learner["gradient_booster"], "learner.gradient_booster");
  const boosterName = booster["name"];
  if (boosterName !== undefined && boosterName !== "gbtree") {
    throw new ModelImportError(`learner.gradient_booster.name is "${String(boosterName)}": only "gbtree" models can be imported${boosterName === "dart" ? " (dart weights its trees; re-save as gbtree)" : ""}`);
  }
  const model = object(booster["model"], "learner.gradient_booster.model");
  const param = object(learner["learner_model_param"], "learner.learner_model_param");

  const numClass = integerString(param["num_class"] ?? "0", "learner.learner_model_param.num_class");
  if (numClass > 1) throw new ModelImportError(`learner.learner_model_param.num_class is ${numClass}: multi-class models give one score per class; a ranker needs one score`);
  const numTarget = integerString(param["num_target"] ?? "1", "learner.learner_model_param.num_target");
  if (numTarget > 1) throw new ModelImportError(`learner.learner_model_param.num_target is ${numTarget}: only single-output models can be imported`);
  const numFeatures = integerString(param["num_feature"], "learner.learner_model_param.num_feature");
  if (numFeatures < 1) throw new ModelImportError("learner.learner_model_param.num_feature must be at least 1");
  checkCount(numFeatures, "maxFeatures", limits, () => `learner.learner_model_param.num_feature declares ${numFeatures} features`);

  const objectiveField = learner["objective"];
  const objective = typeof objectiveField === "object" && objectiveField !== null ? (objectiveField as Record<string, unknown>)["name"] : undefined;
  if (typeof objective !== "string") throw new ModelImportError("learner.objective.name is missing");
  if (objective.startsWith("multi:")) throw new ModelImportError(`objective "${objective}" is multi-class: one score per class; a ranker needs one score`);
  const baseScore = Math.fround(parseBaseScore(param["base_score"]));
  const baseMargin = marginOf(baseScore, objective);

  const names = learner["feature_names"];
  let featureNames = Array.from({ length: numFeatures }, (_, i) => `f${i}`);
  if (Array.isArray(names) && names.length > 0) {
    if (names.length !== numFeatures || !names.every((n) => typeof n === "string")) {
      throw new ModelImportError(`learner.feature_names has ${names.length} entries, expected ${numFeatures} names`);
    }
    featureNames = names as string[];
  }

  const treesField = model["trees"];
  if (!Array.isArray(treesField)) throw new ModelImportError("learner.gradient_booster.model.trees is missing");
  if (treesField.length === 0) throw new ModelImportError("learner.gradient_booster.model.trees is empty: the model has no trees");
  checkCount(treesField.length, "maxTrees", limits, () => `learner.gradient_booster.model.trees has ${treesField.length} trees`);
  let nodes = 0;
  for (const tree of treesField) {
    const left = typeof tree === "object" && tree !== null ? (tree as Record<string, unknown>)["left_children"] : undefined;
    nodes += Array.isArray(left) ? left.length : 0;
  }
  checkCount(nodes, "maxNodes", limits, () => `learner.gradient_booster.model.trees have ${nodes} nodes in all`);
  const treeInfo = model["tree_info"];
  if (Array.isArray(treeInfo)) {
    const group = treeInfo.findIndex((g) => g !== 0);
    if (group >= 0) throw new ModelImportError(`learner.gradient_booster.model.tree_info[${group}] is ${String(treeInfo[group])}: trees for more than one output group`);
  }
  const served = servedTreeCount(learner, model, treesField.length);
  const trees = treesField.slice(0, served.count).map((tree, t) => readTree(tree, `learner.gradient_booster.model.trees[${t}]`, numFeatures));

  const versionField = json !== null && typeof json === "object" ? (json as Record<string, unknown>)["version"] : undefined;
  const version = Array.isArray(versionField) ? versionField.join(".") : "";
  return { version, objective, baseScore, baseMargin, numFeatures, featureNames, trees, treesInFile: treesField.length, bestIteration: served.bestIteration, notes: served.notes };
}

/**
 * How many leading trees serve: those of rounds 0..best_iteration when the file records a
 * best_iteration (what XGBoost's scikit-learn predict() uses by default), else all of them.
 */
function servedTreeCount(learner: Record<string, unknown>, model: Record<string, unknown>, treesInFile: number): { count: number; bestIteration: number | null; notes: string[] } {
  const attributes = learner["attributes"];
  const attr = (key: string) => (typeof attributes === "object" && attributes !== null ? (attributes as Record<string, unknown>)[key] : undefined);
  const modelParam = model["gbtree_model_param"];
  const parallel = typeof modelParam === "object" && modelParam !== null ? (modelParam as Record<string, unknown>)["num_parallel_tree"] : undefined;
  const numParallelTree = parallel === undefined ? 1 : integerString(parallel, "learner.gradient_booster.model.gbtree_model_param.num_parallel_tree");
  if (numParallelTree < 1) throw new ModelImportError("learner.gradient_booster.model.gbtree_model_param.num_parallel_tree must be at least 1");
  const best = attr("best_iteration");
  const ntreeLimit = attr("best_ntree_limit");
  if (best === undefined && ntreeLimit === undefined) return { count: treesInFile, bestIteration: null, notes: [] };
  // Files older than 1.4 may carry only best_ntree_limit = (best_iteration + 1) × num_parallel_tree.
  const bestIteration =
    best !== undefined
      ? integerString(best, "learner.attributes.best_iteration")
      : Math.ceil(integerString(ntreeLimit, "learner.attributes.best_ntree_limit") / numParallelTree) - 1;
  if (bestIteration < 0) throw new ModelImportError("learner.attributes.best_ntree_limit is 0: no tree would serve");

  let count: number;
  const indptr = model["iteration_indptr"];
  if (Array.isArray(indptr) && indptr.length > 0) {
    // iteration_indptr[i]..iteration_indptr[i + 1] are the trees of round i.
    if (bestIteration + 1 >= indptr.length) {
      throw new ModelImportError(`learner.attributes.best_iteration is ${bestIteration} but iteration_indptr records ${indptr.length - 1} rounds`);
    }
    count = integerString(indptr[bestIteration + 1], `learner.gradient_booster.model.iteration_indptr[${bestIteration + 1}]`);
  } else {
    // Single-output models only reach here (more groups are refused above), so a round is num_parallel_tree trees.
    count = (bestIteration + 1) * numParallelTree;
  }
  if (count > treesInFile) {
    throw new ModelImportError(`learner.attributes.best_iteration is ${bestIteration}: rounds 0..${bestIteration} need ${count} trees but the file has ${treesInFile}`);
  }
  const rounds = `${bestIteration + 1} round${bestIteration === 0 ? "" : "s"}`;
  const notes =
    count === treesInFile
      ? [`best_iteration ${bestIteration} is the last round: all ${treesInFile} trees serve`]
      : [
          `early stopping: best_iteration ${bestIteration}, so the first ${count} of the ${treesInFile} trees serve (${rounds}` +
            `${numParallelTree > 1 ? ` × ${numParallelTree} parallel trees` : ""}), as XGBoost's scikit-learn predict() does by default ` +
            `and Booster.predict(iteration_range=(0, ${bestIteration + 1})) does; Booster.predict() without iteration_range would use all ${treesInFile}`,
        ];
  return { count, bestIteration, notes };
}

function readTree(value: unknown, path: string, numFeatures: number): XgboostTree {
  const tree = object(value, path);
  const treeParam = tree["tree_param"];
  if (typeof treeParam === "object" && treeParam !== null) {
    const leafVector = (treeParam as Record<string, unknown>)["size_leaf_vector"];
    if (leafVector !== undefined && integerString(leafVector, `${path}.tree_param.size_leaf_vector`) > 1) {
      throw new ModelImportError(`${path}.tree_param.size_leaf_vector is ${String(leafVector)}: vector leaves (multi_strategy=multi_output_tree) are not supported`);
    }
  }
  const left = numbers(tree["left_children"], `${path}.left_children`);
  const n = left.length;
  if (n === 0) throw new ModelImportError(`${path}.left_children is empty`);
  const right = numbers(tree["right_children"], `${path}.right_children`, n);
  const feature = numbers(tree["split_indices"], `${path}.split_indices`, n);
  if (tree["split_conditions"] === undefined) {
    throw new ModelImportError(`${path}.split_conditions is missing: it carries the thresholds and the leaf values (base_weights are not the leaf outputs)`);
  }
  const condition = numbers(tree["split_conditions"], `${path}.split_conditions`, n).map(Math.fround);
  const defaults = array(tree["default_left"], `${path}.default_left`, n);
  const defaultLeft = defaults.map((d, i) => {
    if (d === true || d === 1) return true;
    if (d === false || d === 0) return false;
    throw new ModelImportError(`${path}.default_left[${i}] is ${JSON.stringify(d)}: expected true/false or 1/0`);
  });
  const splitType = tree["split_type"] === undefined ? undefined : numbers(tree["split_type"], `${path}.split_type`, n);
  const categoryNodes = tree["categories_nodes"];

  for (let i = 0; i < n; i++) {
    const isLeaf = left[i] === -1;
    if (isLeaf) {
      if (!Number.isFinite(condition[i]!)) throw new ModelImportError(`${path}.split_conditions[${i}] (a leaf value) is not a finite number`);
      continue;
    }
    if (splitType !== undefined && splitType[i] !== 0) {
      throw new ModelImportError(`${path}.split_type[${i}] is ${splitType[i]}: categorical splits are not supported — encode the feature as numbers and retrain`);
    }
    if (!Number.isInteger(feature[i]!) || feature[i]! < 0 || feature[i]! >= numFeatures) {
      throw new ModelImportError(`${path}.split_indices[${i}] is ${feature[i]}, outside 0..${numFeatures - 1}`);
    }
    if (Number.isNaN(condition[i]!)) throw new ModelImportError(`${path}.split_conditions[${i}] is NaN at a split`);
    for (const [key, child] of [["left_children", left[i]!], ["right_children", right[i]!]] as const) {
      if (!Number.isInteger(child) || child < 0 || child >= n) throw new ModelImportError(`${path}.${key}[${i}] is ${child}, outside 0..${n - 1}`);
    }
  }
  if (Array.isArray(categoryNodes) && categoryNodes.length > 0) {
    throw new ModelImportError(`${path}.categories_nodes is not empty: categorical splits are not supported`);
  }
  return { left, right, feature, condition, defaultLeft };
}

/**
 * The margin XGBoost computes for one row (predict with output_margin=True, over the served trees),
 * in float32 like XGBoost. `terms`, when given, receives the base margin and each tree's leaf.
 */
export function evaluateXgboost(model: XgboostModel, row: ArrayLike<number>, terms?: number[]): number {
  if (row.length < model.numFeatures) throw new RangeError(`the row has ${row.length} features, the model needs ${model.numFeatures}`);
  let sum = model.baseMargin;
  terms?.push(model.baseMargin);
  for (const tree of model.trees) {
    let node = 0;
    let steps = 0;
    while (tree.left[node] !== -1) {
      if (++steps > tree.left.length) throw new RangeError("a tree loops");
      const x = Math.fround(row[tree.feature[node]!]!);
      const goLeft = Number.isNaN(x) ? tree.defaultLeft[node]! : x < tree.condition[node]!;
      node = goLeft ? tree.left[node]! : tree.right[node]!;
    }
    sum = Math.fround(sum + tree.condition[node]!);
    terms?.push(tree.condition[node]!);
  }
  return sum;
}

/** The same trees in the neutral shape ("x < threshold" goes left, NaN follows default_left). */
export function xgboostToEnsemble(model: XgboostModel): TreeEnsemble {
  const trees = model.trees.map((tree, t) => {
    const nodeAt = (i: number): NativeNode =>
      tree.left[i] === -1
        ? { isLeaf: true, value: tree.condition[i]! }
        : { isLeaf: false, feature: tree.feature[i]!, threshold: tree.condition[i]!, left: tree.left[i]!, right: tree.right[i]!, missingGoesLeft: tree.defaultLeft[i]! };
    return buildTree(0, tree.left.length, nodeAt, `learner.gradient_booster.model.trees[${t}]`);
  });
  // XGBoost starts each row at the base margin and adds the trees in float32, in order. Folding the
  // base margin into the first tree's leaves (a float32 sum, as XGBoost's first addition) lets an
  // evaluator that adds trees in order from zero round exactly as XGBoost does.
  const first = trees[0];
  if (first) for (const node of first.nodes) if (node.isLeaf) node.value = Math.fround(model.baseMargin + node.value);
  return { trees, baseScore: first ? 0 : model.baseMargin, numFeatures: model.numFeatures, comparison: "<" };
}

/** base_score: "5E-1" (1.x) or "[5E-1]" (2.x and later, one entry per target). */
function parseBaseScore(value: unknown): number {
  const where = "learner.learner_model_param.base_score";
  if (typeof value === "number") return value;
  if (typeof value !== "string") throw new ModelImportError(`${where} is missing`);
  let text = value.trim();
  if (text.startsWith("[") && text.endsWith("]")) {
    const entries = text.slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (entries.length !== 1) throw new ModelImportError(`${where} is ${value}: one base score per output is only supported for one output`);
    text = entries[0]!;
  }
  const parsed = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(parsed)) throw new ModelImportError(`${where} is "${value}": not a number`);
  return parsed;
}

function marginOf(baseScore: number, objective: string): number {
  if (IDENTITY_LINK.has(objective)) return baseScore;
  if (LOGIT_LINK.has(objective)) {
    if (!(baseScore > 0 && baseScore < 1)) throw new ModelImportError(`base_score ${baseScore} must lie in (0, 1) for ${objective}`);
    return Math.fround(-Math.log(1 / baseScore - 1));
  }
  if (LOG_LINK.has(objective)) {
    if (!(baseScore > 0)) throw new ModelImportError(`base_score ${baseScore} must be positive for ${objective}`);
    return Math.fround(Math.log(baseScore));
  }
  throw new ModelImportError(`objective "${objective}" is not known: cannot tell how base_score enters the margin`);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ModelImportError(`${path} is missing or not an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string, length?: number): unknown[] {
  if (!Array.isArray(value)) throw new ModelImportError(`${path} is missing or not an array`);
  if (length !== undefined && value.length !== length) throw new ModelImportError(`${path} has ${value.length} entries, expected ${length} (one per node)`);
  return value;
}

function numbers(value: unknown, path: string, length?: number): number[] {
  return array(value, path, length).map((v, i) => {
    if (typeof v === "number") return v;
    if (typeof v === "string" && v.startsWith(NON_FINITE_MARK)) {
      const token = v.slice(NON_FINITE_MARK.length);
      return token === "NaN" ? Number.NaN : token === "Infinity" ? Infinity : -Infinity;
    }
    throw new ModelImportError(`${path}[${i}] is ${JSON.stringify(v)}: expected a number`);
  });
}

/** XGBoost writes integer parameters as strings ("300"). */
function integerString(value: unknown, path: string): number {
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !/^\d+$/.test(text.trim())) throw new ModelImportError(`${path} is ${JSON.stringify(value)}: expected a whole number`);
  return Number(text.trim());
}
