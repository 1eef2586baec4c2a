import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance, type IntervalHistogram } from "node:perf_hooks";
import { disconnectDb } from "../db/client";
import { env as settings } from "../config";
import { demoCatalog } from "../demo/catalog";
import { DEMO_CROSS_ENCODER_DIR } from "../demo/crossEncoder";
import { documentText, readCrossEncoderBundle, type CrossEncoderBundle } from "../inference/crossEncoder/bundle";
import { CrossEncoder } from "../inference/crossEncoder/model";
import { CrossEncoderPool, type CrossEncoderPoolOptions } from "../inference/crossEncoder/pool";
import { rerank } from "../rerank/pipeline";
import type { RerankRequest } from "../rerank/schema";
import { warmServing } from "../rerank/warm";
import { closeTelemetry } from "../telemetry/streams";
import { benchDatabase } from "./benchDatabase";
import { machineBusySeconds } from "./cpuAccounting";
import { blocksForSamples, loopMicrosPerRequest, p99Ratio, p99RatioOfBlocks, TARGET_RATIO, targetVerdict, verdict, type P99Ratio } from "./textReport";

// npm run bench:text — the demo cross-encoder (models/text/demo-cross-encoder) in its worker pool
// (server/inference/crossEncoder/pool.ts), everything measured in this one run, for 1 and 2 pool
// workers, dynamic batching on (CROSS_ENCODER_MAX_BATCH / _MAX_WAIT_MS) and off, and 10, 50 and 100
// documents per request:
//   max      CONCURRENCY closed-loop clients, each sending its next request when the last one is
//            answered: p50/p99 per request, documents and requests per second (the pool's capacity);
//   half     text requests open loop at half of that max request rate (the serving bench's "at half
//            of max" rule: latency counts from when a request was due), p50/p99 and documents/s;
//   tabular  alongside each phase, tabular requests (the in-process pipeline, 100 candidates, the
//            search surface) at TABULAR_RATE, open loop: the probe.
// The target (tabular p99 unchanged within 20 %: loaded / baseline ≤ 1.2) applies to the half-of-max
// phase; the ratio at max is printed too. At max, 4 clients at 10 documents push thousands of text
// requests/s through the event loop that serves the probe, so that ratio measures the loop's sharing
// with a request rate far above the probe's, whatever the model does; what the target is about — a
// model run blocking the event loop — shows at any rate.
// A p99 is a tail figure: from the ~240 samples of a 6 s phase at 40/s it was the third-highest
// value, and a baseline measured 40 s away from its loaded phase drifted with whatever else the
// machine ran: ratios of the same code swung ×0.5–×2.4 between quiet runs. So the half phase is
// paired: BLOCKS blocks of the probe alone and BLOCKS of the probe with text traffic, alternating
// (ABBA order, so a drift in the machine's load falls on both sides alike), each loaded block's text
// requests answered before the next block starts; the probe sends 100/s, so each side pools 900
// samples (full run), and each ratio comes with a distribution-free 95 % interval (textReport.ts):
// a miss whose interval reaches below 1.2 is within noise, and says so. Nothing is trimmed, and the
// control proves the probe sees a stall: it runs the same model ON the event loop (100 documents
// every 50 ms, what serving without the pool would do), paired the same way, and the run fails
// unless that ratio misses the target.
// Each phase also prints the event loop's utilisation (the share of time it was busy; what text
// traffic adds, per text request, is the main thread's cost of a request) and the CPU other
// processes took meanwhile (PostgreSQL, and anything else on the machine: a benchmark of someone
// else's makes the figures unreliable; the run warns, and the JSON keeps it per phase).
// Writes .data/bench/text.json. `--quick`: shorter phases, under two minutes (a sign, not a figure:
// too few samples for an interval).
// `--verdict`: the target's verdict for the configuration the console serves by default
// (CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH and _MAX_WAIT_MS as configured) and nothing else:
// the control, then 10, 50 and 100 documents, each half phase paired in VERDICT_BLOCKS blocks a side
// (~6,000 probe samples a side, where 900 left intervals like [0.65, 2.57]; `--samples=N`); ~7 minutes. Its result
// goes under the key "verdict" of .data/bench/text.json (the full run keeps that key, and this mode
// keeps the full run's figures).

const QUICK = process.argv.includes("--quick");
const VERDICT = process.argv.includes("--verdict");
const FIXED_S = settings().BENCH_DURATION_S;
/** Seconds of the max phase, and of each block of the paired half and control phases; blocks per side. */
const SECONDS = FIXED_S ? { max: FIXED_S, block: FIXED_S / 4 } : QUICK ? { max: 1, block: 0.5 } : { max: 4, block: 1.5 };
const BLOCKS = QUICK ? 3 : 6;
/** Probe samples a side the verdict pools per document count (--verdict; `--samples=N` to change it). */
const VERDICT_SAMPLES = Number(process.argv.find((a) => a.startsWith("--samples="))?.slice("--samples=".length) ?? (QUICK ? 300 : 6000));
const CONCURRENCY = 4;
const TABULAR_RATE = 100; // probe requests per second
const DOC_COUNTS = [10, 50, 100] as const;
/** The control: a CONTROL_DOCS-document model run on the event loop every CONTROL_EVERY_MS. */
const CONTROL_DOCS = 100;
const CONTROL_EVERY_MS = 50;
const RESULT_FILE = path.join(".data", "bench", "text.json");

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the process and the machine did during a phase (for a paired phase: the mean over its blocks of one side). */
interface PhaseLoad {
  /** Share of the phase the event loop was busy (performance.eventLoopUtilization). */
  loopUtilization: number;
  /** CPU this process used (all its threads), in cores. */
  ownCores: number;
  /** CPU every other process used (PostgreSQL included), in cores; null without /proc. */
  otherCores: number | null;
  /** The event loop's delay, p99 in ms (monitorEventLoopDelay at 5 ms resolution: it includes the 5 ms). */
  eventLoopP99Ms?: number;
}

/** Runs `fn` and says how busy the event loop, this process and the rest of the machine were meanwhile; `delay` records the loop's delay meanwhile. */
async function withLoad<T>(fn: () => Promise<T>, delay?: IntervalHistogram): Promise<[T, PhaseLoad]> {
  delay?.enable();
  const loop = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const machine = machineBusySeconds();
  const started = performance.now();
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  const own = process.cpuUsage(cpu);
  const ownSeconds = (own.user + own.system) / 1e6;
  const machineAfter = machineBusySeconds();
  delay?.disable();
  const others = machine === null || machineAfter === null ? null : Math.max(0, machineAfter - machine - ownSeconds) / seconds;
  return [result, { loopUtilization: performance.eventLoopUtilization(loop).utilization, ownCores: ownSeconds / seconds, otherCores: others }];
}

const newDelay = () => monitorEventLoopDelay({ resolution: 5 });
const meanLoad = (loads: PhaseLoad[], delay?: IntervalHistogram): PhaseLoad => {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const others = loads.map((l) => l.otherCores);
  return {
    loopUtilization: round(mean(loads.map((l) => l.loopUtilization)), 3),
    ownCores: round(mean(loads.map((l) => l.ownCores))),
    otherCores: others.some((o) => o === null) ? null : round(mean(others as number[])),
    ...(delay ? { eventLoopP99Ms: round(delay.percentile(99) / 1e6) } : {}),
  };
};

/** Probe latencies, ms, in the order measured. */
type Latencies = number[];

/** Tabular requests at TABULAR_RATE for `ms`, open loop: request i is due at start + i / rate, its latency counts from then. */
async function tabularTraffic(request: RerankRequest, ms: number): Promise<Latencies> {
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  const total = Math.round((TABULAR_RATE * ms) / 1000);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / TABULAR_RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(rerank(request).then(() => void latencies.push(performance.now() - due)));
  }
  await Promise.all(pending);
  return latencies;
}

const tabularFigures = (latencies: Latencies) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { requests: sorted.length, p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)) };
};

type Scorer = (i: number) => Promise<{ batchedRequests: number }>;

/** Text latencies (ms) and the requests each one's model run served, summed. */
interface TextSample {
  latencies: number[];
  batched: number;
  seconds: number;
}

function textFigures(documents: number, samples: TextSample[]) {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const batched = samples.reduce((sum, s) => sum + s.batched, 0);
  return {
    documents, requests: latencies.length, p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)),
    requestsPerSecond: round(latencies.length / seconds, 1), docsPerSecond: round((latencies.length * documents) / seconds, 0),
    meanBatchedRequests: round(batched / Math.max(1, latencies.length)),
  };
}

/** CONCURRENCY closed-loop clients sending `documents` documents each for `ms`: the pool's max rate. */
async function textAtMax(score: Scorer, ms: number): Promise<TextSample> {
  const latencies: number[] = [];
  let batched = 0;
  const end = performance.now() + ms;
  const client = async (c: number) => {
    for (let i = c; performance.now() < end; i += CONCURRENCY) {
      const sent = performance.now();
      const result = await score(i);
      latencies.push(performance.now() - sent);
      batched += result.batchedRequests;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, c) => client(c)));
  return { latencies, batched, seconds: (performance.now() - started) / 1000 };
}

/** Text requests at `rate` per second for `ms`, open loop (latency counts from when a request was due); resolves when every one is answered. */
async function textAtRate(score: Scorer, rate: number, ms: number): Promise<TextSample> {
  const latencies: number[] = [];
  let batched = 0;
  const pending: Array<Promise<void>> = [];
  const total = Math.max(1, Math.round((rate * ms) / 1000));
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(score(i).then((result) => {
      latencies.push(performance.now() - due);
      batched += result.batchedRequests;
    }));
  }
  await Promise.all(pending);
  return { latencies, batched, seconds: (performance.now() - start) / 1000 };
}

/**
 * The paired design: BLOCKS blocks of the probe alone and BLOCKS of the probe beside `load`, each
 * SECONDS.block long, in ABBA order (alone-loaded, loaded-alone, …); a block starts when the last
 * one's requests (probe and load) are all answered, so a loaded block's text requests never land in
 * an alone block. Returns both sides' probe latencies pooled, what `load` returned per block, and each side's mean load.
 */
async function paired<T>(request: RerankRequest, load: (ms: number) => Promise<T>, blocks = BLOCKS) {
  const ms = SECONDS.block * 1000;
  const alone: { latencies: Latencies; blocks: Latencies[]; loads: PhaseLoad[] } = { latencies: [], blocks: [], loads: [] };
  const loaded: { latencies: Latencies; blocks: Latencies[]; loads: PhaseLoad[]; results: T[] } = { latencies: [], blocks: [], loads: [], results: [] };
  const delays = { alone: newDelay(), loaded: newDelay() };
  const runAlone = async () => {
    const [latencies, phaseLoad] = await withLoad(() => tabularTraffic(request, ms), delays.alone);
    alone.latencies.push(...latencies);
    alone.blocks.push(latencies);
    alone.loads.push(phaseLoad);
  };
  const runLoaded = async () => {
    const [[result, latencies], phaseLoad] = await withLoad(() => Promise.all([load(ms), tabularTraffic(request, ms)]), delays.loaded);
    loaded.latencies.push(...latencies);
    loaded.blocks.push(latencies);
    loaded.loads.push(phaseLoad);
    loaded.results.push(result);
  };
  for (let b = 0; b < blocks; b++) {
    if (b % 2 === 0) {
      await runAlone();
      await runLoaded();
    } else {
      await runLoaded();
      await runAlone();
    }
  }
  return {
    alone: { latencies: alone.latencies, blocks: alone.blocks, load: meanLoad(alone.loads, delays.alone) },
    loaded: { latencies: loaded.latencies, blocks: loaded.blocks, load: meanLoad(loaded.loads, delays.loaded), results: loaded.results },
  };
}

/** The control's load: the model scoring CONTROL_DOCS documents on this thread (blocking its event loop) every CONTROL_EVERY_MS, for `ms`; resolves to the runs made. */
async function modelOnTheLoop(model: CrossEncoder, docs: string[], ms: number): Promise<number> {
  const end = performance.now() + ms;
  let runs = 0;
  for (let next = performance.now(); next < end; next += CONTROL_EVERY_MS) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    await model.score(docs.slice(0, CONTROL_DOCS).map((document) => ({ query: "lamp", document })));
    runs++;
  }
  return runs;
}

const ratioFigures = (r: P99Ratio) => ({ ratio: round(r.ratio), interval: r.interval && { lower: round(r.interval.lower), upper: round(r.interval.upper), level: r.interval.level }, verdict: verdict(r) });
const showRatio = (r: ReturnType<typeof ratioFigures>) => `×${r.ratio}${r.interval ? ` [${r.interval.lower}, ${r.interval.upper}]` : ""}`;
const showLoad = (load: PhaseLoad) => `loop busy ${Math.round(load.loopUtilization * 100)} %, loop delay p99 ${load.eventLoopP99Ms ?? "?"} ms, others ${load.otherCores ?? "?"} cores`;

type Text = ReturnType<typeof textFigures>;
type Phase = Text & { tabular: ReturnType<typeof tabularFigures>; load: PhaseLoad; tabularP99: ReturnType<typeof ratioFigures>; tabularP99Ratio: number };
type Half = Phase & { rate: number; alone: ReturnType<typeof tabularFigures> & { load: PhaseLoad }; loopMicrosPerTextRequest: number };
type DocumentRun = { documents: number; max: Phase; half: Half };

/** What every mode measures with: the bundle, texts, the bench database's request, and the loads of every phase so far (for the shared-machine warning). */
interface Bench {
  bundle: CrossEncoderBundle;
  docs: string[];
  queries: string[];
  request: RerankRequest;
  loads: PhaseLoad[];
}

/** The control: does the probe see a model run on the event loop? Paired in BLOCKS blocks a side. */
async function runControl(bench: Bench) {
  const onLoop = await CrossEncoder.open(bench.bundle);
  const controlRun = await paired(bench.request, (ms) => modelOnTheLoop(onLoop, bench.docs, ms));
  await onLoop.release();
  const controlRatio = p99RatioOfBlocks(controlRun.alone.blocks, controlRun.loaded.blocks);
  bench.loads.push(controlRun.alone.load, controlRun.loaded.load);
  const control = {
    documents: CONTROL_DOCS, everyMs: CONTROL_EVERY_MS, runs: controlRun.loaded.results.reduce((a, b) => a + b, 0),
    alone: { ...tabularFigures(controlRun.alone.latencies), load: controlRun.alone.load }, loaded: { ...tabularFigures(controlRun.loaded.latencies), load: controlRun.loaded.load },
    ...ratioFigures(controlRatio), detected: controlRatio.ratio > TARGET_RATIO,
  };
  console.log(`control (the model on the event loop, ${CONTROL_DOCS} docs every ${CONTROL_EVERY_MS} ms, ${control.runs} runs): tabular p99 ${round(controlRatio.loadedP99)} ms vs ${round(controlRatio.baselineP99)} ms alone ${showRatio(control)}: ${control.detected ? "seen" : "NOT SEEN — the probe is blind, the figures below mean nothing"}`);
  return control;
}

/** One pool configuration at each of DOC_COUNTS: its max phase, then the half phase paired in `blocks` blocks a side. */
async function runConfiguration(bench: Bench, options: CrossEncoderPoolOptions, blocks: number): Promise<DocumentRun[]> {
  const { docs, queries, request } = bench;
  const pool = new CrossEncoderPool(options);
  await pool.register("demo", bench.bundle);
  await Promise.all(Array.from({ length: options.workers * 2 }, () => pool.score("demo", "warm", docs.slice(0, 100))));
  const text: DocumentRun[] = [];
  for (const documents of DOC_COUNTS) {
    const score: Scorer = (i) => {
      const offset = (i * 37) % (docs.length - documents);
      return pool.score("demo", queries[i % queries.length]!, docs.slice(offset, offset + documents));
    };
    const maxDelay = newDelay();
    const [[atMax, maxProbe], maxLoad] = await withLoad(() => Promise.all([textAtMax(score, SECONDS.max * 1000), tabularTraffic(request, SECONDS.max * 1000)]), maxDelay);
    const maxFigures = textFigures(documents, [atMax]);
    const rate = Math.max(1, Math.floor(maxFigures.requestsPerSecond / 2));
    const half = await paired(request, (ms) => textAtRate(score, rate, ms), blocks);
    const halfFigures = textFigures(documents, half.loaded.results);
    const halfRatio = p99RatioOfBlocks(half.alone.blocks, half.loaded.blocks);
    // The max phase is not paired: its ratio is against this document count's alone blocks.
    const maxRatio = p99Ratio(half.alone.latencies, maxProbe);
    bench.loads.push(maxLoad, half.alone.load, half.loaded.load);
    text.push({
      documents,
      max: { ...maxFigures, tabular: tabularFigures(maxProbe), load: meanLoad([maxLoad], maxDelay), tabularP99: ratioFigures(maxRatio), tabularP99Ratio: round(maxRatio.ratio) },
      half: {
        ...halfFigures, rate, tabular: tabularFigures(half.loaded.latencies), load: half.loaded.load, alone: { ...tabularFigures(half.alone.latencies), load: half.alone.load },
        tabularP99: ratioFigures(halfRatio), tabularP99Ratio: round(halfRatio.ratio),
        loopMicrosPerTextRequest: round(loopMicrosPerRequest(half.loaded.load.loopUtilization, half.alone.load.loopUtilization, halfFigures.requestsPerSecond), 0),
      },
    });
  }
  await pool.close();
  return text;
}

const describeRun = (t: DocumentRun) =>
  `  ${t.documents} docs  max: p50 ${t.max.p50} p99 ${t.max.p99} ms, ${t.max.docsPerSecond} docs/s (${t.max.requestsPerSecond} req/s), tabular p99 ${t.max.tabular.p99} ms ×${t.max.tabularP99Ratio}` +
  ` | half (${t.half.rate} req/s open loop, ${t.half.meanBatchedRequests} req/run): p50 ${t.half.p50} p99 ${t.half.p99} ms, ${t.half.docsPerSecond} docs/s, tabular p99 ${t.half.tabular.p99} ms vs ${t.half.alone.p99} alone (${t.half.tabular.requests} vs ${t.half.alone.requests} samples) ${showRatio(t.half.tabularP99)} ${t.half.tabularP99.verdict}` +
  `; ${showLoad(t.half.load)} (alone ${showLoad(t.half.alone.load)}), ${t.half.loopMicrosPerTextRequest} µs loop/text req`;

// Other processes' CPU during a phase, in cores, above which the machine counts as shared: this
// bench's own PostgreSQL work (the probe's telemetry) stays under ~0.1.
const SHARED_CORES = 0.3;
const sharedMachine = (loads: PhaseLoad[]) => ({
  phases: loads.filter((l) => (l.otherCores ?? 0) > SHARED_CORES).length, of: loads.length, aboveCores: SHARED_CORES, maxOtherCores: Math.max(...loads.map((l) => l.otherCores ?? 0)),
});
const warnShared = (shared: ReturnType<typeof sharedMachine>) => {
  if (shared.phases > 0) console.log(`WARNING: in ${shared.phases} of ${shared.of} phases other processes used more than ${SHARED_CORES} cores (at most ${shared.maxOtherCores}): the machine was shared, re-run these figures on a quiet one`);
};

/** The result file as it stands (another mode's figures are kept), or an empty object. */
function readResults(): Record<string, unknown> {
  if (!existsSync(RESULT_FILE)) return {};
  try {
    return JSON.parse(readFileSync(RESULT_FILE, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function writeResults(results: Record<string, unknown>): void {
  mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
  writeFileSync(RESULT_FILE, `${JSON.stringify(results, null, 2)}\n`);
}

async function main() {
  const started = Date.now();
  const bundle: CrossEncoderBundle = await readCrossEncoderBundle(DEMO_CROSS_ENCODER_DIR);
  const catalog = demoCatalog();
  const docs = catalog.slice(0, 1000).map((item) => documentText({ title: item.title, category: item.category }, bundle.config.textFields));
  const queries = catalog.slice(1000, 1050).map((item) => item.title.split(" ").at(-1)!);
  const db = await benchDatabase();
  await warmServing();
  const request = db.request;
  for (let i = 0; i < 50; i++) await rerank(request); // sessions opened and JIT warm
  await tabularTraffic(request, 2000); // discarded: the seed's telemetry and caches settle first
  const { CROSS_ENCODER_WORKERS, CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS, MODEL_THREAD_NICE, MODEL_THREAD_SCHED } = settings();
  const bench: Bench = { bundle, docs, queries, request, loads: [] };
  const verdictBlocks = blocksForSamples(VERDICT_SAMPLES, TABULAR_RATE, SECONDS.block);
  console.log(
    `load average ${os.loadavg().map((x) => round(x)).join(" ")} on ${os.cpus().length} cores; probe ${TABULAR_RATE} tabular req/s; max phase ${SECONDS.max} s; ` +
      `${VERDICT ? `verdict: control paired ${BLOCKS} × ${SECONDS.block} s a side, half phases ${verdictBlocks} × ${SECONDS.block} s a side` : `half and control paired, ${BLOCKS} × ${SECONDS.block} s a side`}; model threads nice +${MODEL_THREAD_NICE} over the process's ${os.getPriority()}, ${MODEL_THREAD_SCHED}`,
  );

  const control = await runControl(bench);
  const batching = { maxBatchPairs: CROSS_ENCODER_MAX_BATCH, maxWaitMs: CROSS_ENCODER_MAX_WAIT_MS };
  const modelThreads = { nice: MODEL_THREAD_NICE, processNice: os.getPriority(), sched: MODEL_THREAD_SCHED };

  if (VERDICT) {
    // The configuration the console serves by default, and only it.
    const text = await runConfiguration(bench, { workers: CROSS_ENCODER_WORKERS, ...batching }, verdictBlocks);
    console.log(`workers ${CROSS_ENCODER_WORKERS} (CROSS_ENCODER_WORKERS), batching ${CROSS_ENCODER_MAX_BATCH} pairs, wait ${CROSS_ENCODER_MAX_WAIT_MS} ms:`);
    for (const t of text) console.log(describeRun(t));
    const result = targetVerdict(text.map((t) => t.half.tabularP99.verdict));
    const shared = sharedMachine(bench.loads);
    const summary = {
      at: new Date().toISOString(), quick: QUICK, seconds: SECONDS, blocks: verdictBlocks, samplesPerSide: verdictBlocks * Math.round(TABULAR_RATE * SECONDS.block), controlBlocks: BLOCKS,
      concurrency: CONCURRENCY, tabularRate: TABULAR_RATE, cpus: os.cpus().length, loadAverage: os.loadavg().map((x) => round(x)),
      workers: CROSS_ENCODER_WORKERS, batching, modelThreads, control, text,
      target: { tabularP99Ratio: TARGET_RATIO, phase: "half of max", result, ratios: text.map((t) => ({ documents: t.documents, ...t.half.tabularP99 })) },
      sharedMachine: shared, totalSeconds: round((Date.now() - started) / 1000, 1),
    };
    writeResults({ ...readResults(), verdict: summary });
    console.log(
      `verdict (default configuration: ${CROSS_ENCODER_WORKERS} worker${CROSS_ENCODER_WORKERS === 1 ? "" : "s"}, batching on): tabular p99 beside text traffic at half of max / alone ` +
        `${text.map((t) => `${t.documents} docs ${showRatio(t.half.tabularP99)}`).join(", ")}: target ≤ ×${TARGET_RATIO} ${result}; control ×${control.ratio} (${control.detected ? "seen" : "not seen"}); ${summary.totalSeconds} s; wrote ${RESULT_FILE} (key "verdict")`,
    );
    warnShared(shared);
  } else {
    const results: Array<{ workers: number; batching: boolean; text: DocumentRun[] }> = [];
    for (const workers of [1, 2]) {
      for (const on of [true, false]) {
        const text = await runConfiguration(bench, { workers, ...(on ? batching : { maxBatchPairs: 0, maxWaitMs: 0 }) }, BLOCKS);
        results.push({ workers, batching: on, text });
        console.log(`workers ${workers}, batching ${on ? "on" : "off"}:`);
        for (const t of text) console.log(describeRun(t));
      }
    }
    const halves = results.flatMap((r) => r.text.map((t) => t.half));
    const worst = Math.max(...halves.map((h) => h.tabularP99Ratio));
    const worstAtMax = Math.max(...results.flatMap((r) => r.text.map((t) => t.max.tabularP99Ratio)));
    const misses = halves.filter((h) => h.tabularP99.verdict === "missed").length;
    const shared = sharedMachine(bench.loads);
    const summary = {
      quick: QUICK, seconds: SECONDS, blocks: BLOCKS, concurrency: CONCURRENCY, tabularRate: TABULAR_RATE, cpus: os.cpus().length, loadAverage: os.loadavg().map((x) => round(x)),
      batching, modelThreads,
      control,
      runs: results,
      target: { tabularP99Ratio: TARGET_RATIO, phase: "half of max", worstRatio: worst, met: worst <= TARGET_RATIO, clearMisses: misses, worstRatioAtMax: worstAtMax },
      sharedMachine: shared,
      totalSeconds: round((Date.now() - started) / 1000, 1),
    };
    // The verdict mode's figures stay under their own key.
    const { verdict: kept } = readResults();
    writeResults({ ...summary, ...(kept === undefined ? {} : { verdict: kept }) });
    console.log(
      `tabular p99 with cross-encoder traffic at half of max / alone: worst ×${worst} (target ≤ ×${TARGET_RATIO}: ${worst <= TARGET_RATIO ? "met" : "not met"}; ${misses} of ${halves.length} clear misses, whose 95 % interval lies above ×${TARGET_RATIO}); ` +
        `at max (closed loop, not the target's phase): worst ×${worstAtMax}; control ×${control.ratio} (${control.detected ? "seen" : "not seen"}); load average ${summary.loadAverage.join(" ")}; ${summary.totalSeconds} s; wrote ${RESULT_FILE}`,
    );
    warnShared(shared);
  }
  await closeTelemetry();
  await disconnectDb();
  await db.close();
  if (!control.detected) throw new Error(`the control's ratio ×${control.ratio} is within the target: the probe did not see a model run on the event loop`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
