import type { TreeEnsemble } from "../trees/ensemble";
import { attribute, encodeModel } from "./proto";

// A tree ensemble as one ai.onnx.ml TreeEnsembleRegressor node (ai.onnx.ml opset 3, default opset
// 17, IR 8): input float [N, numFeatures] → output float [N, 1] = baseScore + Σ leaf values.
//
// onnxruntime compares float32 features with float32 thresholds, while the ensemble holds double
// thresholds. Rounding a threshold to the nearest float32 could move it across an input value and
// send that row the other way, so each threshold is rounded in the direction that keeps the test
// identical for every float32 input: for "x <= t" the largest float32 ≤ t, for "x < t" the smallest
// float32 ≥ t (no float32 lies strictly between the two, so no input can tell them apart). With
// that, every float32 row takes the same path as `predictRow`; what remains is float32 rounding of
// the leaf values and of onnxruntime's running sum.

export interface TreeEnsembleOnnxOptions {
  inputName?: string;
  outputName?: string;
  metadata?: Record<string, string>;
}

export function treeEnsembleOnnx(ensemble: TreeEnsemble, options: TreeEnsembleOnnxOptions = {}): Uint8Array {
  const input = options.inputName ?? "features";
  const output = options.outputName ?? "score";
  const branchMode = ensemble.comparison === "<=" ? "BRANCH_LEQ" : "BRANCH_LT";

  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const values: number[] = [];
  const modes: string[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTracksTrue: number[] = [];
  const targetTreeIds: number[] = [];
  const targetNodeIds: number[] = [];
  const targetWeights: number[] = [];

  // onnxruntime refuses an ensemble without nodes; an empty ensemble scores baseScore everywhere.
  const trees = ensemble.trees.length > 0 ? ensemble.trees : [{ nodes: [{ isLeaf: true, feature: 0, threshold: 0, left: -1, right: -1, missingGoesLeft: false, value: 0 }] }];
  trees.forEach((tree, t) => {
    tree.nodes.forEach((node, n) => {
      treeIds.push(t);
      nodeIds.push(n);
      if (node.isLeaf) {
        featureIds.push(0);
        values.push(0);
        modes.push("LEAF");
        trueIds.push(0);
        falseIds.push(0);
        missingTracksTrue.push(0);
        targetTreeIds.push(t);
        targetNodeIds.push(n);
        targetWeights.push(Math.fround(node.value));
      } else {
        if (node.feature < 0 || node.feature >= ensemble.numFeatures) {
          throw new RangeError(`tree ${t} node ${n}: feature ${node.feature} is outside 0..${ensemble.numFeatures - 1}`);
        }
        for (const child of [node.left, node.right]) {
          if (!Number.isInteger(child) || child < 0 || child >= tree.nodes.length) throw new RangeError(`tree ${t} node ${n}: child ${child} is outside 0..${tree.nodes.length - 1}`);
        }
        featureIds.push(node.feature);
        values.push(float32Threshold(node.threshold, ensemble.comparison));
        modes.push(branchMode);
        // The "true" branch is the one the comparison selects, i.e. the left child.
        trueIds.push(node.left);
        falseIds.push(node.right);
        missingTracksTrue.push(node.missingGoesLeft ? 1 : 0);
      }
    });
  });

  return encodeModel({
    graphName: "tree_ensemble_ranker",
    opsets: [
      { domain: "", version: 17 },
      { domain: "ai.onnx.ml", version: 3 },
    ],
    inputs: [{ name: input, shape: ["N", ensemble.numFeatures] }],
    outputs: [{ name: output, shape: ["N", 1] }],
    nodes: [
      {
        opType: "TreeEnsembleRegressor",
        domain: "ai.onnx.ml",
        inputs: [input],
        outputs: [output],
        attributes: [
          attribute("n_targets", 1),
          attribute("aggregate_function", "SUM"),
          attribute("post_transform", "NONE"),
          attribute("base_values", { floats: [Math.fround(ensemble.baseScore)] }),
          attribute("nodes_treeids", { ints: treeIds }),
          attribute("nodes_nodeids", { ints: nodeIds }),
          attribute("nodes_featureids", { ints: featureIds }),
          attribute("nodes_values", { floats: values }),
          attribute("nodes_modes", modes),
          attribute("nodes_truenodeids", { ints: trueIds }),
          attribute("nodes_falsenodeids", { ints: falseIds }),
          attribute("nodes_missing_value_tracks_true", { ints: missingTracksTrue }),
          attribute("target_treeids", { ints: targetTreeIds }),
          attribute("target_nodeids", { ints: targetNodeIds }),
          attribute("target_ids", { ints: targetTreeIds.map(() => 0) }),
          attribute("target_weights", { floats: targetWeights }),
        ],
      },
    ],
    metadata: options.metadata,
  });
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The next float32 after the float32 `r` towards +∞ (`up`) or −∞. */
function stepFloat32(r: number, up: boolean): number {
  if (r === 0) return up ? 2 ** -149 : -(2 ** -149);
  f32[0] = r;
  // Float32 bit patterns are ordered by magnitude within a sign.
  i32[0] = i32[0]! + (r > 0 === up ? 1 : -1);
  return f32[0]!;
}

/**
 * The float32 threshold that makes a float32 comparison agree with the double one for every
 * float32 input: `x <= t` ⇔ `x <= result`, or `x < t` ⇔ `x < result`.
 */
export function float32Threshold(threshold: number, comparison: TreeEnsemble["comparison"]): number {
  const nearest = Math.fround(threshold);
  if (nearest === threshold || Number.isNaN(threshold)) return nearest;
  if (comparison === "<=") return nearest > threshold ? stepFloat32(nearest, false) : nearest;
  return nearest < threshold ? stepFloat32(nearest, true) : nearest;
}
