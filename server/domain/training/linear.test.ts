import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import { evaluateRanking } from "../ranking/metrics";
import type { RankingDataset } from "./lambdamart";
import { scoreLinear, trainLinearRanker, type LinearTrainingProgress } from "./linear";

// Relevance is linear in two of five features of very different scales:
//   latent = 2·x0 − 0.01·x3 + noise, x0 ∈ [0, 1), x3 ∈ [0, 100)
// x1 is noise on [0, 1), x2 noise on 1000 ± 250, x4 a constant column; labels are the latent
// cut into 0–4. The label noise keeps the queries from being separable (where the weights would
// grow without bound and soak up chance correlations).
const TRUE_WEIGHTS = [2, 0, 0, -0.01, 0];

function syntheticLinear(queries: number, perQuery: number, seed: number): RankingDataset {
  const rng = createRng(seed);
  const f = 5;
  const rows = queries * perQuery;
  const features = new Float32Array(rows * f);
  const labels = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const x = [rng.next(), rng.next(), 1000 + 500 * (rng.next() - 0.5), 100 * rng.next(), 7];
    x.forEach((v, j) => (features[r * f + j] = v));
    const latent = x.reduce((s, v, j) => s + TRUE_WEIGHTS[j]! * Math.fround(v), 0) + 0.3 * rng.normal();
    labels[r] = Math.max(0, Math.min(4, Math.floor(latent + 2)));
  }
  return { rows, numFeatures: f, features, labels, groups: Array.from({ length: queries }, () => perQuery) };
}

const train = syntheticLinear(120, 12, 3);
const test = syntheticLinear(40, 12, 4);

describe("trainLinearRanker", () => {
  const progress: LinearTrainingProgress[] = [];
  const model = trainLinearRanker(train, { epochs: 60, learningRate: 0.02, l2: 1e-3, onProgress: (_, p) => progress.push(p) });

  it("recovers the direction of a linear relevance, in the original feature scale", () => {
    expect(model.weights).toHaveLength(5);
    const [w0, w1, w2, w3, w4] = model.weights as [number, number, number, number, number];
    expect(w0).toBeGreaterThan(0);
    // The ratio of the two relevant weights is the true one (−0.01 / 2 = −0.005), within 15%.
    expect(w3 / w0).toBeGreaterThan(-0.005 * 1.15);
    expect(w3 / w0).toBeLessThan(-0.005 * 0.85);
    // Noise features move the score far less than x0 over their ranges (x1 spans 1, x2 spans 500).
    expect(Math.abs(w1 * 1)).toBeLessThan(0.15 * w0);
    expect(Math.abs(w2 * 500)).toBeLessThan(0.15 * w0);
    expect(w4).toBe(0); // a constant column carries no signal
  });

  it("ranks held-out queries almost perfectly", () => {
    const ndcg = evaluateRanking(scoreLinear(model, test.features, test.rows), test.labels, test.groups).ndcg;
    expect(ndcg[10]!).toBeGreaterThan(0.95);
    // The true weights, for reference, do no better than a hair above it.
    const oracle = evaluateRanking(scoreLinear({ weights: TRUE_WEIGHTS, bias: 0 }, test.features, test.rows), test.labels, test.groups).ndcg;
    expect(ndcg[10]!).toBeGreaterThan(oracle[10]! - 0.02);
  });

  it("centres the training scores on 0 with the bias", () => {
    const scores = scoreLinear(model, train.features, train.rows);
    const mean = scores.reduce((s, v) => s + v, 0) / scores.length;
    expect(Math.abs(mean)).toBeLessThan(1e-3 * Math.max(...scores.map(Math.abs)));
  });

  it("reports progress after every epoch, improving on the first", () => {
    expect(progress.map((p) => p.epochs)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(progress.at(-1)!.train.ndcg[10]!).toBeGreaterThanOrEqual(progress[0]!.train.ndcg[10]!);
  });

  it("is deterministic for a fixed seed", () => {
    expect(trainLinearRanker(train, { epochs: 3, seed: 9 })).toEqual(trainLinearRanker(train, { epochs: 3, seed: 9 }));
  });

  it("rejects inconsistent data", () => {
    expect(() => trainLinearRanker({ ...train, groups: [1] })).toThrow(/query groups cover 1 rows/);
  });
});
