import * as ort from "onnxruntime-node";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { judgeNonFiniteScores } from "../domain/breakers/nonFiniteScores";
import { flattenTreeEnsemble } from "../domain/onnx/treeWalker";
import { getDb } from "../db/client";
import { env } from "../config";
import { releaseFromScoringPool, scoringPool } from "./scoringPool";
import { bundleFromArchive, type CrossEncoderBundle, type CrossEncoderConfig } from "./crossEncoder/bundle";
import { crossEncoderPool, unregisterCrossEncoder, type CrossEncoderResult, type ScoreOptions } from "./crossEncoder/pool";
import { enoughRuns, modelCost } from "../domain/models/modelCost";

// One onnxruntime session per model version, loaded once and kept warm for the life of the
// process: `openModel(ref)` is the one way serving, shadow, warm-up and offline evaluation open a
// stored version. A version that fails to load is remembered for a short while, so a corrupt
// artifact sends requests straight to the fallback instead of re-reading it from the database each
// time. `openSession(bytes)` opens bytes that are not (yet) a stored version: upload checks, tests.
// A version of format "cross-encoder" (a bundle's tar) opens into the cross-encoder worker pool
// instead: its handle scores (query, document text) pairs with `scoreTexts`, never a feature matrix.

process.env.ORT_DISABLE_TELEMETRY = "1";

export interface ModelArtifact {
  versionId: string;
  /** "onnx" (a feature-vector model) or "cross-encoder" (bytes are the bundle's tar). */
  format?: string;
  name: string;
  version: number;
  sha256: string;
  featureSpec: FeatureSpec;
  inputName: string;
  outputName: string;
  bytes: Uint8Array;
}

export interface LoadedModel {
  versionId: string;
  name: string;
  version: number;
  sha256: string;
  loadedAt: Date;
  loadMs: number;
}

/** An opened stored version: a feature-vector model on onnxruntime here, or a cross-encoder in the worker pool. */
export type ModelHandle = TabularHandle | CrossEncoderHandle;

export interface TabularHandle extends LoadedModel {
  kind: "tabular";
  featureSpec: FeatureSpec;
  inputName: string;
  outputName: string;
  session: ort.InferenceSession;
  /** ms of one run over 100 default rows on this thread, measured when opened (modelCost: the median of the runs after a warm-up). */
  costMs: number;
  /** Scored on a worker thread (costMs above INFERENCE_WORKER_MS): the artifact's bytes for the workers; null on the main thread. */
  offThread: { bytes: Uint8Array } | null;
}

/** A cross-encoder version: scored in the worker pool (inference/crossEncoder/pool.ts) under its sha256. */
export interface CrossEncoderHandle extends LoadedModel {
  kind: "cross-encoder";
  /** Always empty: a cross-encoder reads the query and the documents' text. */
  featureSpec: FeatureSpec;
  inputName: string;
  outputName: string;
  config: CrossEncoderConfig;
  /** Kept so the bundle can be registered again in a restarted pool. */
  bundle: CrossEncoderBundle;
  /**
   * The run it was priced by when opened (PRICING_DOCUMENTS against PRICING_QUERY, after one run to
   * warm the thread): its characters tokenised, padded tokens and ms; null when that run failed. Its
   * breakers start from this cost, so a timeout before any request succeeded is judged by its size.
   */
  priced: Pick<CrossEncoderResult, "chars" | "tokenizeMs" | "paddedTokens" | "modelMs"> | null;
}

export class ModelLoadError extends Error {}
export class ModelOutputError extends Error {
  /**
   * True when the fault depends on the rows scored — a non-finite score only on rows with extreme
   * (|x| ≥ 2^64) but valid inputs, an overflow (server/domain/breakers/nonFiniteScores.ts) — not on
   * the model alone: the request falls back, but the circuit breaker does not count it, so one
   * caller's inputs cannot open it for everyone. A non-finite score from ordinary inputs is false.
   */
  readonly inputDependent: boolean;
  constructor(message: string, options: { inputDependent?: boolean } = {}) {
    super(message);
    this.inputDependent = options.inputDependent ?? false;
  }
}

const FAILED_LOAD_RETRY_MS = 30_000;

/**
 * Threads one run may use: the calling thread plus helpers, at most 2 and never more than the
 * machine's cores (INFERENCE_THREADS overrides). Measured on 2 cores (`npm run bench:models`): a
 * 100-tree LambdaMART ensemble over 100 candidates takes ~240 µs on one thread and ~72 µs on two,
 * with less CPU in all (onnxruntime splits the ensemble's trees between the threads, which keeps
 * each thread's share of the nodes in its own cache); tiny graphs (MatMul + Add) are not split.
 */
export function inferenceThreads(): number {
  return env().INFERENCE_THREADS;
}

/** Opens a session the way serving runs it: CPU, full graph optimisation, `inferenceThreads()` per run. */
export function openSession(bytes: Uint8Array, threads = inferenceThreads()): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // Run failures are handled (fallback) and counted; keep onnxruntime's own log to fatal errors.
    logSeverityLevel: 4,
  });
}

/**
 * Like runScores, and says how long the model itself took. onnxruntime-node runs a session on the
 * main thread from a setImmediate callback, so a run first waits for the event loop's check phase
 * (behind every pending I/O callback: other requests) and then blocks the thread for the model's
 * own time. A marker immediate queued just before the run fires just before it, splitting the
 * wall time into the wait (queueMs: the process was busy) and the model's run (modelMs).
 * A heavy model (offThread) runs on the scoring pool instead, where `options.timeoutMs` (the
 * model's budget, ms) bounds the run: past it the call rejects with code ETIMEDOUT (the run
 * finishes on its thread, its result dropped); it bounds the wait for a thread as well (past it,
 * QueueTimeoutError: code ETIMEDOUT, `queued`, not run). On the main thread a run cannot be cut; the caller
 * judges modelMs.
 */
export async function runScoresTimed(
  handle: Pick<TabularHandle, "session" | "inputName" | "outputName"> & Partial<Pick<TabularHandle, "versionId" | "offThread">>,
  data: Float32Array,
  rows: number,
  cols: number,
  options: { timeoutMs?: number } = {},
): Promise<{ scores: Float32Array; modelMs: number; queueMs: number }> {
  const queued = performance.now();
  if (handle.offThread && handle.versionId) {
    // A heavy model: the worker measures its own run; the rest of the wall time is the queue.
    const model = { versionId: handle.versionId, bytes: handle.offThread.bytes, inputName: handle.inputName, outputName: handle.outputName };
    const { scores, modelMs } = await scoringPool().run(model, data, rows, cols, { timeoutMs: options.timeoutMs, startWithinMs: options.timeoutMs });
    return { scores: checkScores(scores, data, rows, cols), modelMs, queueMs: Math.max(0, performance.now() - queued - modelMs) };
  }
  const { output, modelMs, queueMs } = await runOnThisThread(handle, data, rows, cols);
  return { scores: scoresFrom(handle, output, data, rows, cols), modelMs, queueMs };
}

/**
 * Runs the session on this thread and times the run itself. onnxruntime-node's `run` queues the
 * model's (blocking) run as an immediate, synchronously within the call (onnxruntime-common awaits
 * nothing before it); a marker immediate queued just before fires just before it. So `modelMs` is
 * the run alone, and `queueMs` every callback that ran between the call and the run: other
 * requests' handlers and runs, and on a fresh process Next's module loading and other sessions'
 * creation. A wall-clock time around `await session.run` counts all of them (a 0.2 ms model read
 * 27 ms at a server's start). sessions.test.ts holds onnxruntime to this order: in a burst of runs
 * queued at once each run's modelMs stays one run long (were the run queued after an await, every
 * marker would fire first and the i-th run would read i runs).
 */
async function runOnThisThread(
  handle: Pick<TabularHandle, "session" | "inputName">,
  data: Float32Array,
  rows: number,
  cols: number,
): Promise<{ output: ort.InferenceSession.ReturnType; modelMs: number; queueMs: number }> {
  const queued = performance.now();
  let started = queued;
  setImmediate(() => {
    started = performance.now();
  });
  const output = await handle.session.run({ [handle.inputName]: new ort.Tensor("float32", data, [rows, cols]) });
  return { output, modelMs: performance.now() - started, queueMs: started - queued };
}

/**
 * Runs one batch: `data` is row-major [rows × cols]; returns one finite score per row.
 * @throws ModelOutputError when the output is missing, misshapen or holds a non-finite score
 *   (inputDependent as judgeNonFiniteScores decides: only when every such row had an extreme input).
 */
export async function runScores(handle: Pick<TabularHandle, "session" | "inputName" | "outputName">, data: Float32Array, rows: number, cols: number): Promise<Float32Array> {
  return scoresFrom(handle, (await runOnThisThread(handle, data, rows, cols)).output, data, rows, cols);
}

function scoresFrom(handle: Pick<TabularHandle, "outputName">, output: ort.InferenceSession.ReturnType, data: Float32Array, rows: number, cols: number): Float32Array {
  const tensor = output[handle.outputName];
  if (!tensor) throw new ModelOutputError(`the model returned no output named "${handle.outputName}"`);
  return checkScores(tensor.data as Float32Array, data, rows, cols);
}

/** One finite score per row, or a ModelOutputError saying whose fault a non-finite one is (server/domain/breakers/nonFiniteScores.ts). */
function checkScores(scores: Float32Array, data: Float32Array, rows: number, cols: number): Float32Array {
  if (!(scores instanceof Float32Array) || scores.length !== rows) {
    throw new ModelOutputError(`the model returned ${scores.length} scores for ${rows} candidates`);
  }
  const nonFinite = judgeNonFiniteScores(scores, data, rows, cols);
  if (nonFinite) {
    const whose = nonFinite.inputDependent ? "every such row has an input of magnitude ≥ 2^64" : "from ordinary inputs: a model fault";
    throw new ModelOutputError(`the model returned a non-finite score (${nonFinite.value}) for row ${nonFinite.row} (${nonFinite.rows} of ${rows} rows; ${whose})`, { inputDependent: nonFinite.inputDependent });
  }
  return scores;
}

interface Holder {
  handles: Map<string, Promise<ModelHandle>>;
  ready: Map<string, ModelHandle>;
  failures: Map<string, { error: ModelLoadError; until: number }>;
}
const holder = globalThis as unknown as { __rerankModels?: Holder };
const state: Holder = (holder.__rerankModels ??= { handles: new Map(), ready: new Map(), failures: new Map() });

/** A stored model version to open: `ModelRef` (server/surfaces/configCache.ts) is one. */
export interface StoredModelRef {
  versionId: string;
}

/**
 * The warm handle of a stored model version, opening it (artifact read from the registry, session
 * created) on first use. Concurrent first requests share one load; a failed load is remembered for
 * 30 s and rejects with a ModelLoadError.
 */
export function openModel(ref: StoredModelRef): Promise<ModelHandle> {
  const versionId = ref.versionId;
  const ready = state.ready.get(versionId);
  if (ready) return Promise.resolve(ready);
  const failure = state.failures.get(versionId);
  if (failure && failure.until > Date.now()) return Promise.reject(failure.error);
  let pending = state.handles.get(versionId);
  if (!pending) {
    pending = loadModel(versionId);
    state.handles.set(versionId, pending);
    pending.then(
      (handle) => state.ready.set(versionId, handle),
      (error: ModelLoadError) => {
        state.handles.delete(versionId);
        state.failures.set(versionId, { error, until: Date.now() + FAILED_LOAD_RETRY_MS });
      },
    );
  }
  return pending;
}

/** A model version's bytes and signature from the registry. */
async function fetchArtifact(versionId: string): Promise<ModelArtifact> {
  const row = await getDb().modelVersion.findUnique({
    where: { id: versionId },
    select: { id: true, version: true, format: true, sha256: true, featureSpec: true, inputName: true, outputName: true, model: { select: { name: true } }, artifact: { select: { bytes: true } } },
  });
  if (!row?.artifact) throw new ModelLoadError(`model version ${versionId} has no artifact`);
  return {
    versionId: row.id, format: row.format, name: row.model.name, version: row.version, sha256: row.sha256,
    featureSpec: row.featureSpec as unknown as ModelArtifact["featureSpec"], inputName: row.inputName, outputName: row.outputName,
    bytes: new Uint8Array(row.artifact.bytes),
  };
}

async function loadModel(versionId: string): Promise<ModelHandle> {
  const artifact = await fetchArtifact(versionId);
  return artifact.format === "cross-encoder" ? openCrossEncoderHandle(artifact) : openHandle(artifact);
}

/**
 * Opens a cross-encoder version in the worker pool (the worker checks the bundle as an upload is
 * checked). @throws ModelLoadError with the bundle's refusal when it cannot be opened.
 */
export async function openCrossEncoderHandle(artifact: ModelArtifact): Promise<CrossEncoderHandle> {
  const started = performance.now();
  let bundle: CrossEncoderBundle;
  try {
    bundle = await bundleFromArchive(artifact.bytes, { maxBytes: Math.max(env().MODEL_MAX_BYTES, artifact.bytes.length * 2) });
    await crossEncoderPool().register(artifact.sha256, bundle);
  } catch (error) {
    throw new ModelLoadError(`model ${artifact.name} v${artifact.version} could not be loaded: ${(error as Error).message.split("\n")[0]}`);
  }
  // loadMs is the opening alone, as a tabular version's (its cost run is not in it): not the pricing runs.
  const loadMs = Math.round((performance.now() - started) * 100) / 100;
  const priced = await priceCrossEncoder(artifact.sha256);
  return {
    kind: "cross-encoder", versionId: artifact.versionId, name: artifact.name, version: artifact.version, sha256: artifact.sha256,
    featureSpec: [], inputName: artifact.inputName, outputName: artifact.outputName, config: bundle.config, bundle, priced,
    loadedAt: new Date(), loadMs,
  };
}

/** The query and documents a cross-encoder is priced by when opened: a short query, ten product descriptions of ~300 characters. */
const PRICING_QUERY = "waterproof hiking boots for wide feet";
const PRICING_DOCUMENTS = Array.from({ length: 10 }, (_, i) =>
  `Item ${i + 1}: a lightweight waterproof boot with a cushioned midsole, a wide toe box and a grippy rubber outsole for wet trails. `
  + "Leather and mesh upper, gusseted tongue, removable insole; sizes 36 to 48 in regular and wide fits. Ships in two days, free returns within 30 days.");

/**
 * Prices a registered cross-encoder: one run of PRICING_DOCUMENTS to warm a thread, then one measured
 * (the breaker's RunCost parts: characters tokenised, padded tokens). Null when a run fails (the
 * request path reports what is wrong; its breakers then start unpriced).
 */
async function priceCrossEncoder(key: string): Promise<CrossEncoderHandle["priced"]> {
  try {
    const pool = crossEncoderPool();
    await pool.score(key, PRICING_QUERY, PRICING_DOCUMENTS);
    const { chars, tokenizeMs, paddedTokens, modelMs } = await pool.score(key, PRICING_QUERY, PRICING_DOCUMENTS);
    return { chars, tokenizeMs, paddedTokens, modelMs };
  } catch {
    return null;
  }
}

/**
 * Opens a model that is scored on the scoring pool (offThread) on the pool's threads before any
 * request needs it, by scoring 100 default rows once on each thread (pinned: a busy thread runs
 * it before its queued tasks). Each run must start within `startWithinMs` (default
 * MODEL_WARM_WAIT_MS, the longest a config change waits for it), else it is withdrawn. Once per handle: later calls share
 * the first one's promise, unless one of its runs failed or was withdrawn (then the next call tries
 * again). Without it a request that is first on a thread waits for the thread to open the session
 * (1.9 s for a 40 MB model here, outside the model's budget). Never throws: what fails here is the
 * request path's to report. A no-op for any other handle.
 */
export function warmOnPool(handle: ModelHandle, startWithinMs = env().MODEL_WARM_WAIT_MS): Promise<void> {
  if (handle.kind !== "tabular" || !handle.offThread) return Promise.resolve();
  let warming = warmedOnPool.get(handle);
  if (!warming) {
    const model = { versionId: handle.versionId, bytes: handle.offThread.bytes, inputName: handle.inputName, outputName: handle.outputName };
    const rows = defaultRows(handle.featureSpec);
    warming = Promise.resolve()
      .then(async () => {
        const pool = scoringPool(); // throws PoolClosedError once the process is stopping
        return (await pool.warm(model, rows, COST_ROWS, handle.featureSpec.length, startWithinMs)) === pool.size;
      })
      .then((everyThread) => everyThread || void warmedOnPool.delete(handle), () => void warmedOnPool.delete(handle))
      .then(() => undefined);
    warmedOnPool.set(handle, warming);
  }
  return warming;
}

/** warmOnPool's runs by handle (a handle lives as long as its version is open). */
const warmedOnPool = new WeakMap<ModelHandle, Promise<void>>();

/**
 * The one way a surface's config opens the models it serves (server start, a config change): the
 * version's handle (openModel) once it is also open where it will be scored (warmOnPool: a heavy
 * model on the scoring pool's threads; a cross-encoder's bundle is registered on its pool's threads
 * by opening it). Rejects as openModel does.
 */
export async function openWarm(ref: StoredModelRef): Promise<ModelHandle> {
  const handle = await openModel(ref);
  await warmOnPool(handle);
  return handle;
}

/**
 * Scores (query, document) pairs with a cross-encoder version in the worker pool (registering its
 * bundle again if the pool was restarted): one logit per document, the truncation count and the
 * model run's own ms. `options.startWithinMs` bounds the wait for a worker thread (the pool's
 * ScoreOptions). Rejects with the pool's ModelOutputError, QueueTimeoutError or worker error.
 */
export async function scoreTexts(handle: CrossEncoderHandle, query: string, documents: readonly string[], options: ScoreOptions = {}): Promise<CrossEncoderResult> {
  const pool = crossEncoderPool();
  if (!pool.has(handle.sha256)) await pool.register(handle.sha256, handle.bundle);
  return pool.score(handle.sha256, query, documents, options);
}

/** Rows a model's cost is measured on when it is opened: a typical request's candidates. */
export const COST_ROWS = 100;

/**
 * Opens an artifact for serving. A tree ensemble runs on one intra-op thread: then onnxruntime sums
 * the trees in order and its scores equal the in-order float32 sum (two threads add two halves and
 * differ by an ulp or two; `npm run bench:models` also measured one thread as the fastest exact
 * scorer on 2 cores). The model's cost is measured on 100 rows of defaults; above
 * INFERENCE_WORKER_MS it is scored on a worker thread (server/inference/scoringPool.ts).
 * @throws ModelLoadError when onnxruntime cannot open it.
 */
export async function openHandle(artifact: ModelArtifact): Promise<TabularHandle> {
  const started = performance.now();
  let session: ort.InferenceSession;
  try {
    session = await openSession(artifact.bytes, flattenTreeEnsemble(artifact.bytes) ? 1 : inferenceThreads());
  } catch (error) {
    throw new ModelLoadError(`model ${artifact.name} v${artifact.version} could not be loaded: ${(error as Error).message.split("\n")[0]}`);
  }
  const loadMs = Math.round((performance.now() - started) * 100) / 100;
  const handle: TabularHandle = {
    kind: "tabular",
    versionId: artifact.versionId,
    name: artifact.name,
    version: artifact.version,
    sha256: artifact.sha256,
    featureSpec: artifact.featureSpec,
    inputName: artifact.inputName,
    outputName: artifact.outputName,
    session,
    loadedAt: new Date(),
    loadMs,
    costMs: 0,
    offThread: null,
  };
  handle.costMs = await measureCost(handle, defaultRows(handle.featureSpec), env().INFERENCE_WORKER_MS);
  if (handle.costMs > env().INFERENCE_WORKER_MS) handle.offThread = { bytes: artifact.bytes };
  return handle;
}

/** COST_ROWS rows of the spec's defaults, row-major. */
function defaultRows(spec: FeatureSpec): Float32Array {
  const row = spec.map((f) => f.default);
  const data = new Float32Array(COST_ROWS * spec.length);
  for (let r = 0; r < COST_ROWS; r++) data.set(row, r * spec.length);
  return data;
}

/**
 * Times a warm-up run over `data` (COST_ROWS rows) and three more — one more when the warm-up is
 * already over 10 × `thresholdMs` (enoughRuns) — each run alone (runOnThisThread): the cost is
 * modelCost's (ms); 0 when the model cannot run them (the request path reports that).
 */
async function measureCost(handle: TabularHandle, data: Float32Array, thresholdMs: number): Promise<number> {
  const cols = handle.featureSpec.length;
  const times: number[] = [];
  try {
    while (!enoughRuns(times, thresholdMs)) times.push((await runOnThisThread(handle, data, COST_ROWS, cols)).modelMs);
  } catch {
    return 0;
  }
  return modelCost(times, thresholdMs);
}

/** The non-blocking view: the handle if it is loaded, else undefined. */
export function peekModel(versionId: string): ModelHandle | undefined {
  return state.ready.get(versionId);
}

export function loadedModels(): LoadedModel[] {
  return [...state.ready.values()]
    .map(({ versionId, name, version, sha256, loadedAt, loadMs }) => ({ versionId, name, version, sha256, loadedAt, loadMs }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

/** Drops every session (tests, and a future "unload" action): here, and on the worker pools' threads at their next task. */
export async function unloadAll(): Promise<void> {
  const handles = [...state.ready.values()];
  state.ready.clear();
  state.handles.clear();
  state.failures.clear();
  for (const h of handles) {
    if (h.kind === "cross-encoder") unregisterCrossEncoder(h.sha256);
    else if (h.offThread) releaseFromScoringPool(h.versionId);
  }
  await Promise.all(handles.map((h) => (h.kind === "tabular" ? h.session.release().catch(() => {}) : undefined)));
}
