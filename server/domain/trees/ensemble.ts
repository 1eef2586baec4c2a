// A regression tree ensemble in one neutral shape, shared by the trainer, the LightGBM and XGBoost
// importers, the ONNX writer and the walkers that check them against each other.

export interface TreeNode {
  /** Leaf: no children; its value is added to the score. */
  isLeaf: boolean;
  /** 0-based feature index tested by a split. */
  feature: number;
  threshold: number;
  /** Child node indices within the same tree. */
  left: number;
  right: number;
  /** Where a missing (NaN) value goes. */
  missingGoesLeft: boolean;
  /** Leaf output (already scaled by the learning rate). */
  value: number;
}

export interface Tree {
  /** nodes[0] is the root. */
  nodes: TreeNode[];
}

export interface TreeEnsemble {
  trees: Tree[];
  /** Added once to every prediction. */
  baseScore: number;
  numFeatures: number;
  /** LightGBM sends x <= threshold left; XGBoost sends x < threshold left. */
  comparison: "<=" | "<";
}

function leafOf(tree: Tree, row: ArrayLike<number>, comparison: TreeEnsemble["comparison"]): number {
  let node = tree.nodes[0]!;
  while (!node.isLeaf) {
    const x = row[node.feature]!;
    const goLeft = Number.isNaN(x) ? node.missingGoesLeft : comparison === "<=" ? x <= node.threshold : x < node.threshold;
    node = tree.nodes[goLeft ? node.left : node.right]!;
  }
  return node.value;
}

/** Scores one row (features indexed from 0). */
export function predictRow(ensemble: TreeEnsemble, row: ArrayLike<number>): number {
  let sum = ensemble.baseScore;
  for (const tree of ensemble.trees) sum += leafOf(tree, row, ensemble.comparison);
  return sum;
}

/** Scores `rows` rows of a row-major matrix with `numFeatures` columns. */
export function predictMatrix(ensemble: TreeEnsemble, data: Float32Array | Float64Array, rows: number): Float64Array {
  const out = new Float64Array(rows);
  const f = ensemble.numFeatures;
  for (let r = 0; r < rows; r++) out[r] = predictRow(ensemble, data.subarray(r * f, (r + 1) * f));
  return out;
}
