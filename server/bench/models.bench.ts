import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { Bench } from "tinybench";
import { LETOR_PUBLISHED, LIGHTGBM_EXAMPLE_PARAMS, loadLetorSample } from "../domain/letor/reference";
import { linearRankerOnnx } from "../domain/onnx/linear";
import { randomEnsemble } from "../domain/onnx/randomEnsemble";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { flattenTreeEnsemble, scoreFlatTrees } from "../domain/onnx/treeWalker";
import { createRng } from "../domain/random";
import { evaluateRanking } from "../domain/ranking/metrics";
import { trainLambdaMart } from "../domain/training/lambdamart";
import { trainLinearRanker } from "../domain/training/linear";
import { predictMatrix } from "../domain/trees/ensemble";
import { inferenceThreads, openSession } from "../inference/sessions";

// npm run bench:models — LambdaMART on the LETOR sample with LightGBM's published settings
// (100 trees, 31 leaves, learning rate 0.1): training time against the 60 s target, quality on
// rank.test against LightGBM's and XGBoost's published figures, and the cost of scoring 100
// candidates with the ensemble through onnxruntime against the 0.1 ms target. Baselines measured
// in this same run: the linear ranker's session.run on the same rows, and the ensemble walked in JS.

const TRAINING_TARGET_S = 60;
const SCORING_TARGET_MS = 0.1;
const CANDIDATES = 100;

const median = (r: { latency?: { p50?: number } } | undefined) => r?.latency?.p50 ?? NaN;

async function main() {
  const { train, test } = loadLetorSample((path) => readFileSync(path, "utf8"));

  const started = performance.now();
  const ensemble = trainLambdaMart(train, LIGHTGBM_EXAMPLE_PARAMS);
  const trainingSeconds = (performance.now() - started) / 1000;
  const metrics = evaluateRanking(predictMatrix(ensemble, test.features, test.rows), test.labels, test.groups);
  const linear = trainLinearRanker(train);

  const lgb = LETOR_PUBLISHED.lightgbm;
  const xgb = LETOR_PUBLISHED.xgboost;
  console.log(`\nLambdaMART on the LETOR sample (${LIGHTGBM_EXAMPLE_PARAMS.numTrees} trees, ${LIGHTGBM_EXAMPLE_PARAMS.numLeaves} leaves, learning rate ${LIGHTGBM_EXAMPLE_PARAMS.learningRate}, bagging ${LIGHTGBM_EXAMPLE_PARAMS.baggingFraction})`);
  console.log(`  training      ${trainingSeconds.toFixed(2)} s   target ${TRAINING_TARGET_S} s   ×${(trainingSeconds / TRAINING_TARGET_S).toFixed(3)} of the target`);
  console.log(`\n  rank.test (${test.groups.length} queries)   ours     LightGBM  ratio    XGBoost   ratio`);
  for (const k of [1, 3, 5, 10] as const) {
    const ours = metrics.ndcg[k]!;
    console.log(`  NDCG@${String(k).padEnd(16)} ${ours.toFixed(4)}   ${lgb.ndcg[k].toFixed(4)}    ×${(ours / lgb.ndcg[k]).toFixed(3)}   ${xgb.ndcg[k].toFixed(4)}    ×${(ours / xgb.ndcg[k]).toFixed(3)}`);
  }
  console.log(`  MRR${" ".repeat(18)} ${metrics.mrr.toFixed(4)}   ${lgb.mrr!.toFixed(4)}    ×${(metrics.mrr / lgb.mrr!).toFixed(3)}        —`);

  // Scoring: the first 100 test rows as one request's candidates.
  const rows = test.features.slice(0, CANDIDATES * test.numFeatures);
  const input = new ort.Tensor("float32", rows, [CANDIDATES, test.numFeatures]);
  const treeBytes = treeEnsembleOnnx(ensemble);
  const treeSession = await openSession(treeBytes);
  const treeSessionOneThread = await openSession(treeBytes, 1);
  const linearSession = await openSession(linearRankerOnnx(linear.weights, linear.bias));
  const bench = new Bench({ time: 2000, warmupTime: 300 });
  bench
    .add(`baseline: linear session.run (${CANDIDATES} × ${test.numFeatures})`, async () => { await linearSession.run({ features: input }); })
    .add(`LambdaMART session.run (${CANDIDATES} × ${test.numFeatures}), ${inferenceThreads()} threads`, async () => { await treeSession.run({ features: input }); })
    .add(`LambdaMART session.run, 1 thread`, async () => { await treeSessionOneThread.run({ features: input }); })
    .add(`LambdaMART predictMatrix, JS (${CANDIDATES} rows)`, () => { predictMatrix(ensemble, rows, CANDIDATES); });
  await bench.run();
  await Promise.all([treeSession.release(), treeSessionOneThread.release(), linearSession.release()]);

  const baseline = median(bench.tasks[0]!.result);
  console.log(`\n  Scoring ${CANDIDATES} candidates (median latency; ratio to the baseline measured in this run)`);
  for (const task of bench.tasks) {
    const ms = median(task.result);
    console.log(`  ${task.name.padEnd(48)} ${(ms * 1000).toFixed(1).padStart(7)} µs   ×${(ms / baseline).toFixed(2)}`);
  }
  const treeMs = median(bench.tasks[1]!.result);
  console.log(`\n  LambdaMART session.run (as serving opens it: ${inferenceThreads()} threads) ${(treeMs * 1000).toFixed(1)} µs vs the ${SCORING_TARGET_MS * 1000} µs target: ×${(treeMs / SCORING_TARGET_MS).toFixed(2)} ${treeMs <= SCORING_TARGET_MS ? "(met)" : "(missed)"}`);
  await compareTreeScorers(rows, test.numFeatures);
}

/**
 * 100 candidates × a 300-tree ensemble (31 leaves a tree, LightGBM's default size): onnxruntime's
 * TreeEnsembleRegressor with 1 and 2 intra-op threads against the flattened typed-array walker
 * (server/domain/onnx/treeWalker.ts) on the same ONNX bytes; each scorer's largest difference from
 * the in-order float32 sum (1 thread), and the fastest that stays within 1e-6.
 */
async function compareTreeScorers(rows: Float32Array, numFeatures: number) {
  const TREES = 300;
  const bytes = treeEnsembleOnnx(randomEnsemble(createRng(300), { trees: TREES, depth: 5, numFeatures, comparison: "<=" }));
  const flat = flattenTreeEnsemble(bytes)!;
  const input = new ort.Tensor("float32", rows, [CANDIDATES, numFeatures]);
  const [one, two] = [await openSession(bytes, 1), await openSession(bytes, 2)];
  const run = async (s: ort.InferenceSession) => (await s.run({ features: input })).score!.data as Float32Array;
  const scorers: Array<{ name: string; score: () => Promise<Float32Array> | Float32Array }> = [
    { name: "onnxruntime TreeEnsembleRegressor, 1 thread", score: () => run(one) },
    { name: "onnxruntime TreeEnsembleRegressor, 2 threads", score: () => run(two) },
    { name: "flattened typed-array walker (JS)", score: () => scoreFlatTrees(flat, rows, CANDIDATES, numFeatures) },
  ];
  const reference = await scorers[0]!.score();
  const bench = new Bench({ time: 2000, warmupTime: 300 });
  for (const s of scorers) bench.add(s.name, async () => { await s.score(); });
  await bench.run();
  console.log(`\n  ${CANDIDATES} candidates × a ${TREES}-tree ensemble (${flat.numNodes} nodes, ${numFeatures} features): median latency, largest |Δ| from the in-order sum`);
  const results = [];
  for (const [i, s] of scorers.entries()) {
    const scores = await s.score();
    const diff = scores.reduce((m, v, k) => Math.max(m, Math.abs(v - reference[k]!)), 0);
    const ms = median(bench.tasks[i]!.result);
    results.push({ name: s.name, ms, diff });
    console.log(`  ${s.name.padEnd(48)} ${(ms * 1000).toFixed(1).padStart(7)} µs   |Δ| ${diff.toExponential(2)}`);
  }
  const fastest = results.filter((r) => r.diff <= 1e-6).sort((a, b) => a.ms - b.ms)[0]!;
  console.log(`  fastest with the same scores (≤ 1e-6): ${fastest.name}`);
  await Promise.all([one.release(), two.release()]);
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
