import { decodeModelNodes, type DecodedAttribute } from "./proto";

// Scores an ONNX TreeEnsembleRegressor (ai.onnx.ml) in JavaScript, the way onnxruntime does: the
// nodes flattened into typed arrays (one index space for all trees), float32 features compared with
// float32 thresholds (BRANCH_LEQ: x <= t, BRANCH_LT: x < t; a NaN feature goes to the true branch
// when nodes_missing_value_tracks_true says so, else to the false one), leaf weights summed in
// float32 in tree order, then base_values added (onnxruntime's TreeEnsembleCommon, aggregate SUM,
// post_transform NONE, one target). `npm run bench:models` measures it against onnxruntime.

/** A tree ensemble in flat arrays; node i is a leaf when feature[i] < 0. */
export interface FlatTrees {
  numTrees: number;
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float32Array;
  /** Next node when the comparison holds / fails. */
  whenTrue: Int32Array;
  whenFalse: Int32Array;
  missingTrue: Uint8Array;
  /** Leaf weight (0 for splits). */
  weight: Float32Array;
  comparison: "<=" | "<";
  base: number;
  numNodes: number;
}

const attr = (attrs: DecodedAttribute[], name: string) => attrs.find((a) => a.name === name);
const text = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/**
 * The flat form of a model whose graph is one TreeEnsembleRegressor with SUM aggregation, no post
 * transform and one target, all splits of one mode (BRANCH_LEQ or BRANCH_LT); null for any other
 * model (it is served by onnxruntime alone).
 */
export function flattenTreeEnsemble(bytes: Uint8Array): FlatTrees | null {
  let nodes;
  try {
    nodes = decodeModelNodes(bytes);
  } catch {
    return null;
  }
  if (nodes.length !== 1 || nodes[0]!.opType !== "TreeEnsembleRegressor") return null;
  const a = nodes[0]!.attribute ?? [];
  if ((attr(a, "n_targets")?.i ?? 1) !== 1) return null;
  if ((text(attr(a, "aggregate_function")?.s) ?? "SUM") !== "SUM" || (text(attr(a, "post_transform")?.s) ?? "NONE") !== "NONE") return null;
  if (attr(a, "nodes_values_as_tensor") || attr(a, "target_weights_as_tensor") || attr(a, "base_values_as_tensor")) return null;
  const treeIds = attr(a, "nodes_treeids")?.ints ?? [];
  const nodeIds = attr(a, "nodes_nodeids")?.ints ?? [];
  const featureIds = attr(a, "nodes_featureids")?.ints ?? [];
  const values = attr(a, "nodes_values")?.floats ?? [];
  const modes = (attr(a, "nodes_modes")?.strings ?? []).map(text);
  const trueIds = attr(a, "nodes_truenodeids")?.ints ?? [];
  const falseIds = attr(a, "nodes_falsenodeids")?.ints ?? [];
  const missing = attr(a, "nodes_missing_value_tracks_true")?.ints ?? [];
  const n = treeIds.length;
  if ([nodeIds, featureIds, values, modes, trueIds, falseIds].some((xs) => xs.length !== n)) return null;
  const splitModes = new Set(modes.filter((m) => m !== "LEAF"));
  if (splitModes.size > 1 || [...splitModes].some((m) => m !== "BRANCH_LEQ" && m !== "BRANCH_LT")) return null;

  // (tree, node id) → flat index
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) index.set(`${treeIds[i]}:${nodeIds[i]}`, i);
  const flat: FlatTrees = {
    numTrees: 0, roots: new Int32Array(0), feature: new Int32Array(n), threshold: new Float32Array(n), whenTrue: new Int32Array(n), whenFalse: new Int32Array(n),
    missingTrue: new Uint8Array(n), weight: new Float32Array(n), comparison: splitModes.has("BRANCH_LT") ? "<" : "<=", base: 0, numNodes: n,
  };
  const roots = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const tree = treeIds[i]!;
    if (!roots.has(tree) || nodeIds[i]! < nodeIds[roots.get(tree)!]!) roots.set(tree, i);
    if (modes[i] === "LEAF") {
      flat.feature[i] = -1;
      continue;
    }
    const t = index.get(`${tree}:${trueIds[i]}`);
    const f = index.get(`${tree}:${falseIds[i]}`);
    if (t === undefined || f === undefined) return null;
    flat.feature[i] = featureIds[i]!;
    flat.threshold[i] = values[i]!;
    flat.whenTrue[i] = t;
    flat.whenFalse[i] = f;
    flat.missingTrue[i] = missing[i] ? 1 : 0;
  }
  const targetTrees = attr(a, "target_treeids")?.ints ?? [];
  const targetNodes = attr(a, "target_nodeids")?.ints ?? [];
  const targetWeights = attr(a, "target_weights")?.floats ?? [];
  for (let k = 0; k < targetTrees.length; k++) {
    const i = index.get(`${targetTrees[k]}:${targetNodes[k]}`);
    if (i === undefined || flat.feature[i] !== -1) return null;
    flat.weight[i] = Math.fround(flat.weight[i]! + targetWeights[k]!);
  }
  // Trees in onnxruntime's order: by tree id.
  const ordered = [...roots.entries()].sort((x, y) => x[0] - y[0]).map(([, root]) => root);
  flat.roots = Int32Array.from(ordered);
  flat.numTrees = ordered.length;
  flat.base = Math.fround(attr(a, "base_values")?.floats?.[0] ?? 0);
  return flat;
}

/**
 * Scores `rows` rows of a row-major float32 matrix with `cols` columns.
 * @returns one float32 score per row.
 */
export function scoreFlatTrees(trees: FlatTrees, data: Float32Array, rows: number, cols: number): Float32Array {
  const { roots, feature, threshold, whenTrue, whenFalse, missingTrue, weight } = trees;
  const out = new Float32Array(rows);
  const leq = trees.comparison === "<=";
  for (let r = 0; r < rows; r++) {
    const offset = r * cols;
    let sum = 0;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = feature[node]!;
      while (f >= 0) {
        const x = data[offset + f]!;
        const holds = x !== x ? missingTrue[node] === 1 : leq ? x <= threshold[node]! : x < threshold[node]!;
        node = holds ? whenTrue[node]! : whenFalse[node]!;
        f = feature[node]!;
      }
      sum = Math.fround(sum + weight[node]!);
    }
    out[r] = Math.fround(sum + trees.base);
  }
  return out;
}
