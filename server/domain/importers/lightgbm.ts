import type { TreeEnsemble } from "../trees/ensemble";
import { buildTree, checkCount, DEFAULT_IMPORT_LIMITS, ModelImportError, type ImportLimits, type NativeNode } from "./treeShape";

// LightGBM's text model (Booster.save_model / model.txt, format v2–v4): a `key=value` header, then
// one `Tree=k` block per tree, ending at `end of trees` (feature importances and parameters follow
// and are ignored). Per tree, internal nodes are 0..num_leaves-2 with parallel arrays, and a
// negative child c is leaf ~c. Leaf values already include the shrinkage (learning rate), and
// boost_from_average is folded into the first tree, so the model's raw score is the plain sum.
//
// Two readings are kept apart on purpose: `readLightGbm` keeps LightGBM's own arrays and
// `evaluateLightGbm` walks them the way LightGBM's Tree::NumericalDecision does, so the converted
// `TreeEnsemble` (and the ONNX written from it) can be checked against something independent.

export interface LightGbmTree {
  /** k in `Tree=k`. */
  index: number;
  numLeaves: number;
  splitFeature: number[];
  threshold: number[];
  decisionType: number[];
  leftChild: number[];
  rightChild: number[];
  leafValue: number[];
  shrinkage: number;
}

export interface LightGbmModel {
  version: string;
  /** The objective's name, e.g. "lambdarank" (parameters such as "sigmoid:1" are dropped). */
  objective: string;
  /** The full `objective=` value as written. */
  objectiveLine: string;
  numFeatures: number;
  featureNames: string[];
  trees: LightGbmTree[];
}

export interface ImportedLightGbm {
  ensemble: TreeEnsemble;
  featureNames: string[];
  objective: string;
  numFeatures: number;
  native: LightGbmModel;
}

/** decision_type bits (LightGBM include/LightGBM/tree.h). */
const CATEGORICAL_MASK = 1;
const DEFAULT_LEFT_MASK = 2;
const MissingType = { None: 0, Zero: 1, NaN: 2 } as const;
/** LightGBM's kZeroThreshold: a float 1e-35f, compared as a double. */
const ZERO_THRESHOLD = Math.fround(1e-35);

const missingTypeOf = (decisionType: number) => (decisionType >> 2) & 3;

/** Parses and converts a LightGBM text model. Throws ModelImportError naming the line at fault. */
export function parseLightGbm(text: string, limits: ImportLimits = DEFAULT_IMPORT_LIMITS): ImportedLightGbm {
  const native = readLightGbm(text, limits);
  return { ensemble: lightGbmToEnsemble(native), featureNames: native.featureNames, objective: native.objective, numFeatures: native.numFeatures, native };
}

interface Field {
  value: string;
  line: number;
}

/** Reads LightGBM's arrays as written; every declared count is checked against `limits` before use. */
export function readLightGbm(text: string, limits: ImportLimits = DEFAULT_IMPORT_LIMITS): LightGbmModel {
  const lines = text.split(/\r?\n/);
  let at = 0;
  while (at < lines.length && lines[at]!.trim() === "") at++;
  if (lines[at]?.trim() !== "tree") {
    throw new ModelImportError(`line ${at + 1}: a LightGBM text model starts with the line "tree" (got "${clip(lines[at] ?? "")}")`);
  }
  at++;

  const header = new Map<string, Field>();
  for (; at < lines.length && !lines[at]!.startsWith("Tree=") && lines[at]!.trim() !== "end of trees"; at++) {
    const line = lines[at]!.trim();
    if (line === "") continue;
    const eq = line.indexOf("=");
    // Flags such as `average_output` are written without a value.
    if (eq < 0) header.set(line, { value: "", line: at + 1 });
    else header.set(line.slice(0, eq), { value: line.slice(eq + 1), line: at + 1 });
  }

  const headerInt = (key: string): number | undefined => {
    const field = header.get(key);
    return field === undefined ? undefined : parseInteger(field.value, `line ${field.line}: ${key}`);
  };
  const maxFeatureIdx = headerInt("max_feature_idx");
  if (maxFeatureIdx === undefined) throw new ModelImportError("header: max_feature_idx is missing");
  if (maxFeatureIdx < 0) throw new ModelImportError(`line ${header.get("max_feature_idx")!.line}: max_feature_idx must be at least 0`);
  const numFeatures = maxFeatureIdx + 1;
  checkCount(numFeatures, "maxFeatures", limits, () => `line ${header.get("max_feature_idx")!.line}: max_feature_idx=${maxFeatureIdx} declares ${numFeatures} features`);
  const numClass = headerInt("num_class") ?? 1;
  if (numClass !== 1) throw new ModelImportError(`line ${header.get("num_class")!.line}: num_class=${numClass}: multi-class models give one score per class; a ranker needs one score`);
  const perIteration = headerInt("num_tree_per_iteration") ?? 1;
  if (perIteration !== 1) throw new ModelImportError(`line ${header.get("num_tree_per_iteration")!.line}: num_tree_per_iteration=${perIteration}: only single-output models can be imported`);
  if (header.has("average_output")) {
    throw new ModelImportError(`line ${header.get("average_output")!.line}: average_output (random forest mode) averages the trees instead of adding them; not supported`);
  }
  const objectiveLine = header.get("objective")?.value.trim() ?? "";
  const featureField = header.get("feature_names");
  const featureNames = featureField ? featureField.value.trim().split(/\s+/).filter((s) => s !== "") : Array.from({ length: numFeatures }, (_, i) => `Column_${i}`);
  if (featureNames.length !== numFeatures) {
    throw new ModelImportError(`line ${featureField!.line}: feature_names lists ${featureNames.length} names but max_feature_idx=${maxFeatureIdx} means ${numFeatures} features`);
  }

  const trees: LightGbmTree[] = [];
  const budget = { nodes: 0 };
  let ended = false;
  while (at < lines.length) {
    const line = lines[at]!.trim();
    if (line === "end of trees") {
      ended = true;
      break;
    }
    if (line === "") {
      at++;
      continue;
    }
    if (!line.startsWith("Tree=")) throw new ModelImportError(`line ${at + 1}: expected "Tree=<k>" or "end of trees", got "${clip(line)}"`);
    const blockLine = at + 1;
    checkCount(trees.length + 1, "maxTrees", limits, () => `line ${blockLine}: Tree=${line.slice(5)} is tree number ${trees.length + 1}`);
    const index = parseInteger(line.slice(5), `line ${blockLine}: Tree=`);
    const fields = new Map<string, Field>();
    for (at++; at < lines.length; at++) {
      const entry = lines[at]!.trim();
      if (entry.startsWith("Tree=") || entry === "end of trees") break;
      if (entry === "") continue;
      const eq = entry.indexOf("=");
      if (eq < 0) throw new ModelImportError(`line ${at + 1}: expected "key=value" inside Tree=${index}, got "${clip(entry)}"`);
      fields.set(entry.slice(0, eq), { value: entry.slice(eq + 1), line: at + 1 });
    }
    trees.push(readTree(index, blockLine, fields, numFeatures, limits, budget));
  }
  if (!ended) throw new ModelImportError(`line ${lines.length}: the model ends without "end of trees" (truncated file?)`);
  if (trees.length === 0) throw new ModelImportError(`line ${at + 1}: the model has no trees`);

  const sizes = header.get("tree_sizes");
  if (sizes) {
    const declared = sizes.value.trim().split(/\s+/).filter((s) => s !== "").length;
    if (declared !== trees.length) throw new ModelImportError(`line ${sizes.line}: tree_sizes lists ${declared} trees but the file has ${trees.length}`);
  }

  return {
    version: header.get("version")?.value.trim() ?? "",
    objective: objectiveLine.split(/\s+/)[0] ?? "",
    objectiveLine,
    numFeatures,
    featureNames,
    trees,
  };
}

function readTree(index: number, blockLine: number, fields: Map<string, Field>, numFeatures: number, limits: ImportLimits, budget: { nodes: number }): LightGbmTree {
  const where = `Tree=${index} (line ${blockLine})`;
  const field = (key: string): Field => {
    const found = fields.get(key);
    if (!found) throw new ModelImportError(`${where}: ${key} is missing`);
    return found;
  };
  const numLeavesField = field("num_leaves");
  const numLeaves = parseInteger(numLeavesField.value, `line ${numLeavesField.line}: num_leaves`);
  if (numLeaves < 1) throw new ModelImportError(`line ${numLeavesField.line}: num_leaves must be at least 1`);
  // Splits and leaves of every tree so far, checked before this tree's arrays are read.
  budget.nodes += 2 * numLeaves - 1;
  checkCount(budget.nodes, "maxNodes", limits, () => `line ${numLeavesField.line}: num_leaves=${numLeaves} brings the nodes of Tree=0..${index} to ${budget.nodes}`);
  const numCat = fields.get("num_cat");
  if (numCat && parseInteger(numCat.value, `line ${numCat.line}: num_cat`) > 0) {
    throw new ModelImportError(`line ${numCat.line}: Tree=${index} has categorical splits (num_cat=${numCat.value.trim()}); categorical features are not supported — encode them as numbers and retrain`);
  }
  const linear = fields.get("is_linear");
  if (linear && linear.value.trim() !== "0") throw new ModelImportError(`line ${linear.line}: Tree=${index} is a linear tree (is_linear=1); not supported`);

  const splits = numLeaves - 1;
  // Single-leaf trees may write the split arrays empty or leave them out.
  const array = (key: string, length: number, parse: (token: string, what: string) => number): number[] => {
    const found = fields.get(key);
    if (!found) {
      if (length === 0) return [];
      throw new ModelImportError(`${where}: ${key} is missing`);
    }
    const tokens = found.value.trim().split(/\s+/).filter((s) => s !== "");
    if (tokens.length !== length) throw new ModelImportError(`line ${found.line}: ${key} has ${tokens.length} values, expected ${length} (num_leaves=${numLeaves})`);
    return tokens.map((token, i) => parse(token, `line ${found.line}: ${key}[${i}]`));
  };
  const splitFeature = array("split_feature", splits, parseInteger);
  const threshold = array("threshold", splits, parseNumber);
  const decisionType = array("decision_type", splits, parseInteger);
  const leftChild = array("left_child", splits, parseInteger);
  const rightChild = array("right_child", splits, parseInteger);
  const leafValue = array("leaf_value", numLeaves, parseNumber);
  const shrinkageField = fields.get("shrinkage");
  const shrinkage = shrinkageField ? parseNumber(shrinkageField.value.trim(), `line ${shrinkageField.line}: shrinkage`) : 1;

  const lineOf = (key: string) => fields.get(key)!.line;
  for (let i = 0; i < splits; i++) {
    const feature = splitFeature[i]!;
    if (feature < 0 || feature >= numFeatures) throw new ModelImportError(`line ${lineOf("split_feature")}: split_feature[${i}]=${feature} is outside 0..${numFeatures - 1}`);
    const type = decisionType[i]!;
    if (type & CATEGORICAL_MASK) throw new ModelImportError(`line ${lineOf("decision_type")}: decision_type[${i}]=${type} is a categorical split; categorical features are not supported`);
    if (missingTypeOf(type) > MissingType.NaN) throw new ModelImportError(`line ${lineOf("decision_type")}: decision_type[${i}]=${type} has an unknown missing-value type`);
    if (Number.isNaN(threshold[i]!)) throw new ModelImportError(`line ${lineOf("threshold")}: threshold[${i}] is NaN`);
    for (const [key, child] of [["left_child", leftChild[i]!], ["right_child", rightChild[i]!]] as const) {
      const ok = child >= 0 ? child < splits : ~child < numLeaves;
      if (!ok) throw new ModelImportError(`line ${lineOf(key)}: ${key}[${i}]=${child} points outside the ${splits} splits and ${numLeaves} leaves`);
    }
  }
  for (let i = 0; i < numLeaves; i++) {
    if (!Number.isFinite(leafValue[i]!)) throw new ModelImportError(`line ${fields.get("leaf_value")!.line}: leaf_value[${i}] is not a finite number`);
  }
  return { index, numLeaves, splitFeature, threshold, decisionType, leftChild, rightChild, leafValue, shrinkage };
}

/**
 * The raw score LightGBM computes for one row (predict with raw_score=True), in double precision.
 * `terms`, when given, receives the leaf value of each tree (for the conversion check).
 */
export function evaluateLightGbm(model: LightGbmModel, row: ArrayLike<number>, terms?: number[]): number {
  if (row.length < model.numFeatures) throw new RangeError(`the row has ${row.length} features, the model needs ${model.numFeatures}`);
  let sum = 0;
  for (const tree of model.trees) {
    if (tree.numLeaves === 1) {
      sum += tree.leafValue[0]!;
      terms?.push(tree.leafValue[0]!);
      continue;
    }
    let node = 0;
    let steps = 0;
    while (node >= 0) {
      if (++steps > tree.numLeaves) throw new RangeError(`Tree=${tree.index} loops`);
      node = numericalDecision(tree, node, row[tree.splitFeature[node]!]!);
    }
    sum += tree.leafValue[~node]!;
    terms?.push(tree.leafValue[~node]!);
  }
  return sum;
}

/** LightGBM's Tree::NumericalDecision. */
function numericalDecision(tree: LightGbmTree, node: number, value: number): number {
  const type = tree.decisionType[node]!;
  const missing = missingTypeOf(type);
  let x = value;
  if (Number.isNaN(x) && missing !== MissingType.NaN) x = 0;
  if ((missing === MissingType.Zero && x >= -ZERO_THRESHOLD && x <= ZERO_THRESHOLD) || (missing === MissingType.NaN && Number.isNaN(x))) {
    return type & DEFAULT_LEFT_MASK ? tree.leftChild[node]! : tree.rightChild[node]!;
  }
  return x <= tree.threshold[node]! ? tree.leftChild[node]! : tree.rightChild[node]!;
}

/**
 * The same trees in the neutral shape ("x <= threshold" goes left). NaN routing per missing type:
 * NaN-type splits send NaN to the default side; None-type splits treat NaN as 0, so NaN goes where
 * 0 goes; Zero-type splits (zero_as_missing) send values within ±1e-35 and NaN to the default side,
 * which one threshold can express only when the threshold does not cut that band.
 */
export function lightGbmToEnsemble(model: LightGbmModel): TreeEnsemble {
  const trees = model.trees.map((tree) => {
    const where = `Tree=${tree.index}`;
    const splits = tree.numLeaves - 1;
    if (splits === 0) return { nodes: [{ isLeaf: true, feature: 0, threshold: 0, left: -1, right: -1, missingGoesLeft: false, value: tree.leafValue[0]! }] };
    // Native numbering: splits first, then leaf j at splits + j.
    const toIndex = (child: number) => (child >= 0 ? child : splits + ~child);
    const nodeAt = (i: number): NativeNode => {
      if (i >= splits) return { isLeaf: true, value: tree.leafValue[i - splits]! };
      const threshold = tree.threshold[i]!;
      const type = tree.decisionType[i]!;
      const defaultLeft = (type & DEFAULT_LEFT_MASK) !== 0;
      let missingGoesLeft: boolean;
      switch (missingTypeOf(type)) {
        case MissingType.NaN:
          missingGoesLeft = defaultLeft;
          break;
        case MissingType.Zero: {
          const bandGoesDefault = defaultLeft ? ZERO_THRESHOLD <= threshold : -ZERO_THRESHOLD > threshold;
          if (!bandGoesDefault) {
            throw new ModelImportError(`${where}: split ${i} treats zero as missing (zero_as_missing=true) with threshold ${threshold} inside the zero band; not supported — retrain with zero_as_missing=false`);
          }
          missingGoesLeft = defaultLeft;
          break;
        }
        default:
          missingGoesLeft = 0 <= threshold;
      }
      return { isLeaf: false, feature: tree.splitFeature[i]!, threshold, left: toIndex(tree.leftChild[i]!), right: toIndex(tree.rightChild[i]!), missingGoesLeft };
    };
    return buildTree(0, splits + tree.numLeaves, nodeAt, where);
  });
  return { trees, baseScore: 0, numFeatures: model.numFeatures, comparison: "<=" };
}

const INTEGER = /^[+-]?\d+$/;
// LightGBM writes doubles with %.17g, and infinities as "inf" on some platforms.
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseInteger(token: string, what: string): number {
  const t = token.trim();
  if (!INTEGER.test(t)) throw new ModelImportError(`${what}: "${clip(t)}" is not an integer`);
  const value = Number(t);
  if (!Number.isSafeInteger(value)) throw new ModelImportError(`${what}: ${clip(t)} is out of range`);
  return value;
}

function parseNumber(token: string, what: string): number {
  const t = token.trim();
  if (NUMBER.test(t)) return Number(t);
  const lower = t.toLowerCase();
  if (lower === "inf" || lower === "+inf" || lower === "infinity") return Infinity;
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  if (lower === "nan" || lower === "-nan") return Number.NaN;
  throw new ModelImportError(`${what}: "${clip(t)}" is not a number`);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
