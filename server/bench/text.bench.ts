import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { disconnectDb } from "../db/client";
import { env as settings } from "../config";
import { demoCatalog } from "../demo/catalog";
import { DEMO_CROSS_ENCODER_DIR } from "../demo/crossEncoder";
import { documentText, readCrossEncoderBundle, type CrossEncoderBundle } from "../inference/crossEncoder/bundle";
import { CrossEncoderPool } from "../inference/crossEncoder/pool";
import { rerank } from "../rerank/pipeline";
import type { RerankRequest } from "../rerank/schema";
import { warmServing } from "../rerank/warm";
import { closeTelemetry } from "../telemetry/streams";
import { benchDatabase } from "./benchDatabase";

// npm run bench:text — the demo cross-encoder (models/text/demo-cross-encoder) in its worker pool
// (server/inference/crossEncoder/pool.ts), everything measured in this one run:
//   text     p50/p99 per request and documents per second for 10, 50 and 100 documents, with 1 and
//            2 pool workers, dynamic batching on (CROSS_ENCODER_MAX_BATCH / _MAX_WAIT_MS) and off,
//            CONCURRENCY clients each sending its next request when the last one is answered;
//   tabular  alongside each of those, tabular requests (the in-process pipeline, 100 candidates, the
//            search surface) at a fixed rate, open loop (latency counts from when a request was due,
//            so a stalled event loop shows), and the event loop's delay (p99, monitorEventLoopDelay);
//            each group of text runs is preceded by a baseline of tabular traffic alone, and the
//            ratio loaded p99 / baseline p99 is checked against the target (≤ 1.2: unchanged within 20 %).
// Writes .data/bench/text.json. `--quick`: shorter phases, under two minutes.

const QUICK = process.argv.includes("--quick");
const PHASE_S = settings().BENCH_DURATION_S ?? (QUICK ? 1.5 : 6);
const CONCURRENCY = 4;
const TABULAR_RATE = 40; // requests per second
const DOC_COUNTS = [10, 50, 100] as const;
const TARGET_RATIO = 1.2;
const RESULT_FILE = path.join(".data", "bench", "text.json");

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface TabularFigures {
  requests: number;
  p50: number;
  p99: number;
  eventLoopP99Ms: number;
}

interface TextFigures {
  documents: number;
  requests: number;
  p50: number;
  p99: number;
  docsPerSecond: number;
  meanBatchedRequests: number;
}

/** Tabular requests at TABULAR_RATE for `ms`, open loop, with the event loop's delay over the same span. */
async function tabularTraffic(request: RerankRequest, ms: number): Promise<TabularFigures> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
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
  delay.disable();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)), eventLoopP99Ms: round(delay.percentile(99) / 1e6) };
}

/** CONCURRENCY closed-loop clients sending `documents` documents each for `ms`. */
async function textTraffic(pool: CrossEncoderPool, queries: string[], docs: string[], documents: number, ms: number): Promise<TextFigures> {
  const latencies: number[] = [];
  let batched = 0;
  const end = performance.now() + ms;
  const client = async (c: number) => {
    for (let i = c; performance.now() < end; i += CONCURRENCY) {
      const offset = (i * 37) % (docs.length - documents);
      const sent = performance.now();
      const result = await pool.score("demo", queries[i % queries.length]!, docs.slice(offset, offset + documents));
      latencies.push(performance.now() - sent);
      batched += result.batchedRequests;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, c) => client(c)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    documents, requests: latencies.length, p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)),
    docsPerSecond: round((latencies.length * documents) / seconds, 0), meanBatchedRequests: round(batched / Math.max(1, latencies.length)),
  };
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
  const { CROSS_ENCODER_MAX_BATCH, CROSS_ENCODER_MAX_WAIT_MS } = settings();
  const runs: Array<{ workers: number; batching: boolean; baseline: TabularFigures; text: Array<TextFigures & { tabular: TabularFigures; tabularP99Ratio: number; eventLoopP99Ratio: number }> }> = [];
  for (const workers of [1, 2]) {
    for (const batching of [true, false]) {
      const pool = new CrossEncoderPool({ workers, maxBatchPairs: batching ? CROSS_ENCODER_MAX_BATCH : 0, maxWaitMs: batching ? CROSS_ENCODER_MAX_WAIT_MS : 0 });
      await pool.register("demo", bundle);
      await Promise.all(Array.from({ length: workers * 2 }, () => pool.score("demo", "warm", docs.slice(0, 100))));
      const baseline = await tabularTraffic(request, PHASE_S * 1000);
      const text = [];
      for (const documents of DOC_COUNTS) {
        const [figures, tabular] = await Promise.all([textTraffic(pool, queries, docs, documents, PHASE_S * 1000), tabularTraffic(request, PHASE_S * 1000)]);
        text.push({ ...figures, tabular, tabularP99Ratio: round(tabular.p99 / baseline.p99), eventLoopP99Ratio: round(tabular.eventLoopP99Ms / baseline.eventLoopP99Ms) });
      }
      await pool.close();
      runs.push({ workers, batching, baseline, text });
      const line = text.map((t) => `${t.documents} docs p50 ${t.p50} p99 ${t.p99} ms ${t.docsPerSecond} docs/s (tabular p99 ${t.tabular.p99} ms ×${t.tabularP99Ratio}, loop p99 ${t.tabular.eventLoopP99Ms} ms)`).join("; ");
      console.log(`workers ${workers}, batching ${batching ? "on" : "off"}: tabular alone p99 ${baseline.p99} ms, loop p99 ${baseline.eventLoopP99Ms} ms | ${line}`);
    }
  }
  const ratios = runs.flatMap((r) => r.text.map((t) => t.tabularP99Ratio));
  const worst = Math.max(...ratios);
  const summary = {
    quick: QUICK, phaseSeconds: PHASE_S, concurrency: CONCURRENCY, tabularRate: TABULAR_RATE, cpus: os.cpus().length, loadAverage: os.loadavg().map((x) => round(x)),
    batching: { maxBatchPairs: CROSS_ENCODER_MAX_BATCH, maxWaitMs: CROSS_ENCODER_MAX_WAIT_MS },
    runs,
    target: { tabularP99Ratio: TARGET_RATIO, worstRatio: worst, met: worst <= TARGET_RATIO },
    seconds: round((Date.now() - started) / 1000, 1),
  };
  mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
  writeFileSync(RESULT_FILE, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`tabular p99 with cross-encoder traffic / alone: worst ×${worst} (target ≤ ×${TARGET_RATIO}: ${worst <= TARGET_RATIO ? "met" : "not met"}); ${summary.seconds} s; wrote ${RESULT_FILE}`);
  await closeTelemetry();
  await disconnectDb();
  await db.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
