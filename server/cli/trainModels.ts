import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { LETOR_PUBLISHED, LIGHTGBM_EXAMPLE_PARAMS, loadLetorSample, type LetorSample } from "../domain/letor/reference";
import type { LetorData } from "../domain/letor/parse";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { evaluateRanking, type RankingMetrics } from "../domain/ranking/metrics";
import { DEFAULT_LAMBDAMART_PARAMS, trainLambdaMart } from "../domain/training/lambdamart";
import { DEFAULT_LINEAR_PARAMS, scoreLinear, trainLinearRanker } from "../domain/training/linear";
import { predictMatrix } from "../domain/trees/ensemble";
import { openSession } from "../inference/sessions";

// npm run models:train — trains LambdaMART and a linear ranker on the LETOR sample's training set,
// scores both on its test set through the ONNX models written (what serving would run), and writes
// models/letor/<name>.onnx with a model card beside each.

const OUT_DIR = "models/letor";
const INPUT = "features";
const OUTPUT = "score";

async function main() {
  const sample = loadLetorSample((path) => readFileSync(path, "utf8"));
  const { train, test } = sample;
  console.log(`LETOR sample: train ${train.rows} rows / ${train.groups.length} queries, test ${test.rows} rows / ${test.groups.length} queries, ${train.numFeatures} features`);
  mkdirSync(OUT_DIR, { recursive: true });

  // LambdaMART with LightGBM's settings for the published run.
  const treeParams = { ...DEFAULT_LAMBDAMART_PARAMS, ...LIGHTGBM_EXAMPLE_PARAMS };
  console.log(`\nLambdaMART: ${treeParams.numTrees} trees × ${treeParams.numLeaves} leaves, learning rate ${treeParams.learningRate}`);
  let started = performance.now();
  const ensemble = trainLambdaMart(train, {
    ...treeParams,
    onProgress: (t, p) => console.log(`  tree ${String(t + 1).padStart(3)}/${treeParams.numTrees}  train NDCG@10 ${p.train.ndcg[10]!.toFixed(4)}  ${p.seconds.toFixed(1).padStart(5)} s`),
  });
  const treeSeconds = (performance.now() - started) / 1000;
  const treeBytes = treeEnsembleOnnx(ensemble, { inputName: INPUT, outputName: OUTPUT, metadata: { model: "letor-lambdamart" } });
  const treeScores = await onnxScores(treeBytes, test);
  const treeMetrics = evaluateRanking(treeScores, test.labels, test.groups);
  checkAgreement("LambdaMART", treeMetrics, evaluateRanking(predictMatrix(ensemble, test.features, test.rows), test.labels, test.groups));
  const leaves = ensemble.trees.reduce((s, tree) => s + tree.nodes.filter((n) => n.isLeaf).length, 0);
  writeModel("lambdamart", treeBytes, {
    kind: "LambdaMART (gradient-boosted regression trees, LambdaRank gradients on NDCG)",
    hyperparameters: { ...treeParams, trees: ensemble.trees.length, leaves },
    trainingSeconds: treeSeconds,
    metrics: treeMetrics,
    sample,
  });

  // Linear ranker.
  const linearParams = DEFAULT_LINEAR_PARAMS;
  console.log(`\nLinear ranker: LambdaRank-weighted pairwise logistic loss, Adam, ${linearParams.epochs} epochs`);
  started = performance.now();
  const linear = trainLinearRanker(train, {
    ...linearParams,
    onProgress: (e, p) => {
      if ((e + 1) % 10 === 0 || e + 1 === linearParams.epochs) console.log(`  epoch ${String(e + 1).padStart(3)}/${linearParams.epochs}  train NDCG@10 ${p.train.ndcg[10]!.toFixed(4)}  ${p.seconds.toFixed(1).padStart(5)} s`);
    },
  });
  const linearSeconds = (performance.now() - started) / 1000;
  const linearBytes = linearRankerOnnx(linear.weights, linear.bias, { inputName: INPUT, outputName: OUTPUT, metadata: { model: "letor-linear" } });
  const linearMetrics = evaluateRanking(await onnxScores(linearBytes, test), test.labels, test.groups);
  checkAgreement("linear", linearMetrics, evaluateRanking(scoreLinear(linear, test.features, test.rows), test.labels, test.groups));
  writeModel("linear", linearBytes, {
    kind: "linear ranker (score = x · w + b)",
    hyperparameters: { ...linearParams },
    trainingSeconds: linearSeconds,
    metrics: linearMetrics,
    sample,
  });

  const lgb = LETOR_PUBLISHED.lightgbm;
  const xgb = LETOR_PUBLISHED.xgboost;
  const row = (name: string, ndcg: Record<number, number>, mrr: number | undefined, seconds?: number) =>
    `  ${name.padEnd(38)} ${[1, 3, 5, 10].map((k) => ndcg[k]!.toFixed(4).padStart(7)).join(" ")}   ${mrr === undefined ? "     —" : mrr.toFixed(4).padStart(6)}${seconds === undefined ? "" : `   ${seconds.toFixed(1)} s`}`;
  console.log(`\n  ${`rank.test (${test.groups.length} queries)`.padEnd(38)} NDCG@1  NDCG@3  NDCG@5 NDCG@10      MRR   training`);
  console.log(row("LambdaMART (ours)", treeMetrics.ndcg, treeMetrics.mrr, treeSeconds));
  console.log(row("linear (ours)", linearMetrics.ndcg, linearMetrics.mrr, linearSeconds));
  console.log(row(`${lgb.ranker} (published)`, lgb.ndcg, lgb.mrr));
  console.log(row(`${xgb.ranker} (published)`, xgb.ndcg, xgb.mrr));
}

/** Scores a data set through onnxruntime, as serving does. */
async function onnxScores(bytes: Uint8Array, data: LetorData): Promise<Float32Array> {
  const session = await openSession(bytes);
  try {
    const output = await session.run({ [INPUT]: new ort.Tensor("float32", data.features, [data.rows, data.numFeatures]) });
    return output[OUTPUT]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The ONNX model should rank exactly as the trained model does; say so loudly if it does not. */
function checkAgreement(name: string, onnx: RankingMetrics, js: RankingMetrics): void {
  const worst = Math.max(...Object.keys(js.ndcg).map((k) => Math.abs(js.ndcg[Number(k)]! - onnx.ndcg[Number(k)]!)), Math.abs(js.mrr - onnx.mrr));
  if (worst > 1e-9) console.warn(`  warning: ${name} metrics through ONNX differ from the trained model's by up to ${worst.toExponential(2)}`);
}

interface ModelReport {
  kind: string;
  hyperparameters: Record<string, unknown>;
  trainingSeconds: number;
  metrics: RankingMetrics;
  sample: LetorSample;
}

function writeModel(name: string, bytes: Uint8Array, report: ModelReport): void {
  const file = `${OUT_DIR}/${name}.onnx`;
  writeFileSync(file, bytes);
  const { train, test, files } = report.sample;
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  const dataOf = (data: LetorData, paths: string[]) => ({
    files: paths,
    rows: data.rows,
    queries: data.groups.length,
    queriesWithoutRelevant: evaluateRanking(new Float64Array(data.rows), data.labels, data.groups).queriesWithoutRelevant,
    singleDocumentQueries: data.groups.filter((g) => g === 1).length,
  });
  const card = {
    name: `letor-${name}`,
    kind: report.kind,
    artifact: { file, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") },
    input: { name: INPUT, type: "float32", shape: ["N", train.numFeatures] },
    output: { name: OUTPUT, type: "float32", shape: ["N", 1] },
    features: { count: train.numFeatures, names: Array.from({ length: train.numFeatures }, (_, j) => `f${j + 1}`) },
    data: { train: dataOf(train, files.train), test: dataOf(test, files.test) },
    hyperparameters: report.hyperparameters,
    trainingSeconds: Math.round(report.trainingSeconds * 100) / 100,
    offlineMetrics: {
      dataset: files.test[0],
      scoredWith: "onnxruntime-node, the ONNX model above",
      ndcg: Object.fromEntries(Object.entries(report.metrics.ndcg).map(([k, v]) => [`@${k}`, round(v)])),
      mrr: round(report.metrics.mrr),
      queries: report.metrics.queries,
      convention: "gain 2^rel − 1, discount 1/log2(1 + position), ties by input order; NDCG 1 for a query with no relevant document; MRR over queries with a document of label ≥ 1",
    },
    reference: Object.values(LETOR_PUBLISHED).map((r) => ({ ...r, ndcg: Object.fromEntries(Object.entries(r.ndcg).map(([k, v]) => [`@${k}`, v])) })),
  };
  writeFileSync(`${OUT_DIR}/${name}.card.json`, `${JSON.stringify(card, null, 2)}\n`);
  console.log(`  wrote ${file} (${(bytes.length / 1024).toFixed(1)} KB) and ${OUT_DIR}/${name}.card.json`);
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
