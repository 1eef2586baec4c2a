import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { evaluateRanking } from "../ranking/metrics";
import { predictMatrix } from "../trees/ensemble";
import { LambdaObjective, trainLambdaMart, type RankingDataset, type TrainingProgress } from "./lambdamart";

/**
 * Queries of `perQuery` documents with `numFeatures` uniform features; relevance (0–4) depends on
 * feature `relevant` only, with a little label noise.
 */
function syntheticRanking(queries: number, perQuery: number, numFeatures: number, relevant: number, seed: number): RankingDataset {
  const rng = createRng(seed);
  const rows = queries * perQuery;
  const features = new Float32Array(rows * numFeatures);
  const labels = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < numFeatures; j++) features[r * numFeatures + j] = Math.round(rng.next() * 100) / 100;
    const signal = features[r * numFeatures + relevant]! + 0.1 * rng.normal();
    labels[r] = Math.max(0, Math.min(4, Math.floor(signal * 5)));
  }
  return { rows, numFeatures, features, labels, groups: Array.from({ length: queries }, () => perQuery) };
}

const train = syntheticRanking(60, 15, 6, 2, 11);
const test = syntheticRanking(30, 15, 6, 2, 12);
const small = { numTrees: 20, numLeaves: 7, minDataInLeaf: 5, minSumHessianInLeaf: 1e-3 };

describe("trainLambdaMart", () => {
  it("learns the relevant feature: NDCG on held-out queries well above a random ranking", () => {
    const ensemble = trainLambdaMart(train, small);
    expect(ensemble.trees).toHaveLength(20);
    expect(ensemble.comparison).toBe("<=");
    expect(ensemble.baseScore).toBe(0);
    expect(ensemble.numFeatures).toBe(6);
    // The first split of the first tree is on the feature that carries the relevance.
    expect(ensemble.trees[0]!.nodes[0]!.feature).toBe(2);

    const rng = createRng(5);
    const random = evaluateRanking(Array.from({ length: test.rows }, () => rng.next()), test.labels, test.groups);
    const trained = evaluateRanking(predictMatrix(ensemble, test.features, test.rows), test.labels, test.groups);
    expect(trained.ndcg[10]!).toBeGreaterThan(random.ndcg[10]! + 0.2);
    expect(trained.ndcg[10]!).toBeGreaterThan(0.9);
  });

  it("grows at most numLeaves leaves a tree and respects minDataInLeaf", () => {
    const ensemble = trainLambdaMart(train, { ...small, numLeaves: 5, minDataInLeaf: 100 });
    for (const tree of ensemble.trees) {
      const leaves = tree.nodes.filter((n) => n.isLeaf).length;
      expect(leaves).toBeLessThanOrEqual(5);
      expect(tree.nodes.length).toBe(2 * leaves - 1);
    }
    // With 900 rows and at least 100 a leaf, no tree can have more than 9 leaves anyway; with a
    // minimum above half the rows, no split is possible.
    const stump = trainLambdaMart(train, { ...small, numTrees: 1, minDataInLeaf: 451 });
    expect(stump.trees[0]!.nodes).toHaveLength(1);
  });

  it("scores rows through predictMatrix exactly as it scored them while training", () => {
    let last: TrainingProgress | undefined;
    const treeIndices: number[] = [];
    const ensemble = trainLambdaMart(train, {
      ...small,
      baggingFraction: 0.8,
      validation: test,
      onProgress: (treeIndex, progress) => {
        treeIndices.push(treeIndex);
        last = { ...progress, scores: Float64Array.from(progress.scores) };
      },
    });
    expect(treeIndices).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(last!.trees).toBe(20);
    expect(Array.from(predictMatrix(ensemble, train.features, train.rows))).toEqual(Array.from(last!.scores));
    expect(last!.train).toEqual(evaluateRanking(last!.scores, train.labels, train.groups));
    expect(last!.validation).toEqual(evaluateRanking(predictMatrix(ensemble, test.features, test.rows), test.labels, test.groups));
  });

  it("is deterministic for a fixed seed", () => {
    const options = { ...small, baggingFraction: 0.7, featureFraction: 0.5, seed: 42 };
    expect(trainLambdaMart(train, options)).toEqual(trainLambdaMart(train, options));
    expect(trainLambdaMart(train, { ...options, seed: 43 })).not.toEqual(trainLambdaMart(train, options));
  });

  it("rejects inconsistent data and parameters", () => {
    expect(() => trainLambdaMart({ ...train, groups: [10] })).toThrow(/query groups cover 10 rows/);
    expect(() => trainLambdaMart(train, { numLeaves: 1 })).toThrow(/numLeaves/);
    expect(() => trainLambdaMart(train, { featureFraction: 0 })).toThrow(/featureFraction/);
  });
});

describe("LambdaObjective", () => {
  it("pushes relevant documents up, balances each query, and ignores queries with nothing relevant", () => {
    // Query 1: three documents, the relevant one ranked last; query 2: no relevant document.
    const labels = [0, 1, 3, 0, 0];
    const objective = new LambdaObjective(labels, [3, 2], { sigmoid: 1, truncationLevel: 30, normalizeLambdas: true });
    const gradients = new Float64Array(5);
    const hessians = new Float64Array(5);
    objective.gradients(new Float64Array([0.3, 0.2, 0.1, 5, -5]), gradients, hessians);
    expect(gradients[2]!).toBeLessThan(0); // a loss gradient: negative means "score higher"
    expect(gradients[0]!).toBeGreaterThan(0);
    expect(gradients[0]! + gradients[1]! + gradients[2]!).toBeCloseTo(0, 12);
    expect(hessians[0]!).toBeGreaterThan(0);
    expect([gradients[3], gradients[4], hessians[3], hessians[4]]).toEqual([0, 0, 0, 0]);
  });
});
