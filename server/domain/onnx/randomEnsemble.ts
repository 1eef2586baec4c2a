import type { Rng } from "../random";
import type { Tree, TreeEnsemble, TreeNode } from "../trees/ensemble";

/**
 * A random ensemble of full-ish binary trees (each split stops early with probability 0.1): leaf
 * values ~ N(0, 0.1²), thresholds ~ N(0, 2²), half of them off the float32 grid. For benchmarks and
 * tests that need an ensemble of a given size, not a trained one.
 */
export function randomEnsemble(rng: Rng, o: { trees: number; depth: number; numFeatures: number; comparison: TreeEnsemble["comparison"] }): TreeEnsemble {
  const trees: Tree[] = [];
  for (let t = 0; t < o.trees; t++) {
    const nodes: TreeNode[] = [];
    const grow = (depth: number): number => {
      const index = nodes.length;
      if (depth === 0 || rng.next() < 0.1) {
        nodes.push({ isLeaf: true, feature: 0, threshold: 0, left: -1, right: -1, missingGoesLeft: false, value: rng.normal() * 0.1 });
        return index;
      }
      const raw = rng.normal() * 2;
      nodes.push({ isLeaf: false, feature: rng.int(0, o.numFeatures - 1), threshold: rng.next() < 0.5 ? Math.fround(raw) : raw, left: -1, right: -1, missingGoesLeft: rng.next() < 0.5, value: 0 });
      nodes[index]!.left = grow(depth - 1);
      nodes[index]!.right = grow(depth - 1);
      return index;
    };
    grow(o.depth);
    trees.push({ nodes });
  }
  return { trees, baseScore: 0.5, numFeatures: o.numFeatures, comparison: o.comparison };
}
