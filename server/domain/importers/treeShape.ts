import type { Tree, TreeNode } from "../trees/ensemble";

// Shared by the LightGBM and XGBoost importers: the error type they throw, and the walk that turns
// a native node table into a neutral `Tree`, so a damaged file fails here rather than at serving.

/** A model file that cannot be imported; the message names the line or field at fault. */
export class ModelImportError extends Error {
  override name = "ModelImportError";
}

/**
 * Bounds on what a model file may declare, checked before anything is allocated from a declared
 * count, so a 32-byte file claiming 4,294,967,295 features is refused at once instead of exhausting
 * memory. The registry passes MODEL_MAX_FEATURES / MODEL_MAX_TREES / MODEL_MAX_NODES
 * (server/config.ts); `name` of each says which setting to raise.
 */
export interface ImportLimits {
  /** Input features (LightGBM max_feature_idx + 1, XGBoost num_feature). */
  maxFeatures: number;
  /** Trees in the file. */
  maxTrees: number;
  /** Nodes over all trees (splits and leaves). */
  maxNodes: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxFeatures: 4096, maxTrees: 20_000, maxNodes: 4_000_000 };

const LIMIT_SETTING: Record<keyof ImportLimits, string> = { maxFeatures: "MODEL_MAX_FEATURES", maxTrees: "MODEL_MAX_TREES", maxNodes: "MODEL_MAX_NODES" };

/**
 * Refuses `count` above `limits[which]`: "<described>; the limit is N (SETTING)", where `described`
 * names the line or field and what it declares.
 */
export function checkCount(count: number, which: keyof ImportLimits, limits: ImportLimits, described: () => string): void {
  if (!Number.isSafeInteger(count) || count > limits[which]) {
    throw new ModelImportError(`${described()}; the limit is ${limits[which]} (${LIMIT_SETTING[which]})`);
  }
}

export type NativeNode =
  | { isLeaf: true; value: number }
  | { isLeaf: false; feature: number; threshold: number; left: number; right: number; missingGoesLeft: boolean };

/**
 * Builds a tree by walking from `root` through `nodeAt` (native index → node). Nodes are
 * renumbered in visiting order, so unreachable entries (XGBoost's pruned nodes) are dropped, and a
 * child index out of range or a node reached twice (a cycle or shared subtree) is refused.
 */
export function buildTree(root: number, nodeCount: number, nodeAt: (index: number) => NativeNode, where: string): Tree {
  const nodes: TreeNode[] = [];
  const seen = new Set<number>();
  // Explicit stack: trees can be deep enough to overflow recursion on hostile input.
  const stack: Array<{ native: number; parent: number; side: "left" | "right" | "root" }> = [{ native: root, parent: -1, side: "root" }];
  while (stack.length > 0) {
    const { native, parent, side } = stack.pop()!;
    if (!Number.isInteger(native) || native < 0 || native >= nodeCount) {
      throw new ModelImportError(`${where}: node ${parent} points to node ${native}, outside 0..${nodeCount - 1}`);
    }
    if (seen.has(native)) throw new ModelImportError(`${where}: node ${native} is reached twice (the node table is not a tree)`);
    seen.add(native);
    const index = nodes.length;
    if (side !== "root") nodes[parent]![side] = index;
    const node = nodeAt(native);
    if (node.isLeaf) {
      nodes.push({ isLeaf: true, feature: 0, threshold: 0, left: -1, right: -1, missingGoesLeft: false, value: node.value });
    } else {
      nodes.push({ isLeaf: false, feature: node.feature, threshold: node.threshold, left: -1, right: -1, missingGoesLeft: node.missingGoesLeft, value: 0 });
      // Right pushed first so the left subtree is numbered first (depth-first, left to right).
      stack.push({ native: node.right, parent: index, side: "right" }, { native: node.left, parent: index, side: "left" });
    }
  }
  return { nodes };
}
