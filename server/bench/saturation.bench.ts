import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setEnv } from "../config";
import { DEMO_CROSS_ENCODER_DIR } from "../demo/crossEncoder";
import { readCrossEncoderBundle } from "../inference/crossEncoder/bundle";
import { CrossEncoderPool } from "../inference/crossEncoder/pool";

// npm run bench:saturation — what the model threads' scheduling does to the event loop when the
// machine is saturated (issue #16: why MODEL_THREAD_SCHED stays `normal`). For each scheduling mode
// (MODEL_THREAD_SCHED:MODEL_THREAD_NICE), one cross-encoder worker thread serves CONCURRENCY
// closed-loop clients of 100 demo documents (each may wait START_WITHIN_MS for a thread, as a
// request on a 200 ms surface does; past it the run is withdrawn), beside one process per core
// spinning on the CPU at this process's priority, while a timer on the event loop due every
// TICK_MS measures how late it runs: its worst lateness is the longest the loop could not run. The
// phases alternate ABBA over ROUNDS rounds; a mode whose model threads get too little CPU shows as
// long stalls (a preempted model thread holding something the loop needs: priority inversion)
// and as text requests withdrawn. Writes .data/bench/saturation.json. `--quick`: 5 s phases, one
// round (a sign, not a figure). Run on a quiet machine: the spinning processes are the load.

const QUICK = process.argv.includes("--quick");
const PHASE_S = QUICK ? 5 : 15;
const ROUNDS = QUICK ? 1 : 2;
const MODES = (process.argv.find((a) => a.startsWith("--modes="))?.slice("--modes=".length) ?? "normal:10,idle:10,normal:19").split(",");
const CONCURRENCY = 4;
const START_WITHIN_MS = 200;
const TICK_MS = 2;
const RESULT_FILE = path.join(".data", "bench", "saturation.json");

interface Phase {
  mode: string;
  /** Text requests scored, and withdrawn unrun at START_WITHIN_MS. */
  scored: number;
  withdrawn: number;
  /** The loop timer's lateness, ms. */
  lateness: { p50: number; p99: number; p999: number; max: number; ticks: number };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (x: number) => Math.round(x * 10) / 10;

/**
 * One phase of `mode` ("normal:10", "idle:10": MODEL_THREAD_SCHED and MODEL_THREAD_NICE) for
 * PHASE_S seconds beside one spinning process per core.
 */
async function phase(mode: string, documents: string[]): Promise<Phase> {
  const [sched, nice] = mode.split(":");
  if ((sched !== "normal" && sched !== "idle") || !nice) throw new Error(`--modes: "${mode}" is not <normal|idle>:<nice 0-19>`);
  setEnv("MODEL_THREAD_SCHED", sched);
  setEnv("MODEL_THREAD_NICE", nice);
  const pool = new CrossEncoderPool({ workers: 1, maxBatchPairs: 64, maxWaitMs: 0 });
  await pool.register("demo", await readCrossEncoderBundle(DEMO_CROSS_ENCODER_DIR));
  const spinners = Array.from({ length: os.availableParallelism() }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const end = performance.now() + PHASE_S * 1000;
    let scored = 0;
    let withdrawn = 0;
    const lateness: number[] = [];
    const probe = new Promise<void>((resolve) => {
      const tick = (due: number) => {
        const now = performance.now();
        lateness.push(now - due);
        if (now > end) return resolve();
        const next = now + TICK_MS;
        setTimeout(() => tick(next), TICK_MS);
      };
      const first = performance.now() + TICK_MS;
      setTimeout(() => tick(first), TICK_MS);
    });
    const client = async () => {
      while (performance.now() < end) {
        try {
          await pool.score("demo", "desk lamp", documents, { startWithinMs: START_WITHIN_MS });
          scored++;
        } catch (error) {
          if ((error as { queued?: unknown }).queued !== true) throw error;
          withdrawn++;
        }
      }
    };
    await Promise.all([probe, ...Array.from({ length: CONCURRENCY }, client)]);
    lateness.sort((a, b) => a - b);
    return { mode, scored, withdrawn, lateness: { p50: round(quantile(lateness, 0.5)), p99: round(quantile(lateness, 0.99)), p999: round(quantile(lateness, 0.999)), max: round(lateness.at(-1)!), ticks: lateness.length } };
  } finally {
    spinners.forEach((s) => s.kill("SIGKILL"));
    await pool.close();
  }
}

async function main() {
  const started = performance.now();
  const documents = Array.from({ length: 100 }, (_, i) => `Classic Desk Lamp home ${i} with a linen shade and an oak base`);
  console.log(`load average ${os.loadavg().map(round).join(" ")} on ${os.availableParallelism()} cores; ${os.availableParallelism()} spinning processes; modes ${MODES.join(", ")}; ${PHASE_S} s phases, ${ROUNDS} rounds ABBA; timer every ${TICK_MS} ms`);
  const phases: Phase[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 ? [...MODES].reverse() : MODES) {
      const p = await phase(mode, documents);
      phases.push(p);
      console.log(`  ${mode.padEnd(10)} text scored ${p.scored}, withdrawn ${p.withdrawn}; loop timer lateness ms p50 ${p.lateness.p50} p99 ${p.lateness.p99} p99.9 ${p.lateness.p999} max ${p.lateness.max} (${p.lateness.ticks} ticks)`);
    }
  }
  const summary = MODES.map((mode) => {
    const own = phases.filter((p) => p.mode === mode);
    return { mode, worstLatenessMs: Math.max(...own.map((p) => p.lateness.max)), scored: own.reduce((s, p) => s + p.scored, 0), withdrawn: own.reduce((s, p) => s + p.withdrawn, 0) };
  });
  for (const s of summary) console.log(`${s.mode.padEnd(10)} worst loop stall ${s.worstLatenessMs} ms; text scored ${s.scored}, withdrawn ${s.withdrawn}`);
  mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
  writeFileSync(RESULT_FILE, JSON.stringify({ at: new Date().toISOString(), quick: QUICK, phaseSeconds: PHASE_S, rounds: ROUNDS, cpus: os.availableParallelism(), phases, summary }, null, 2));
  console.log(`${Math.round((performance.now() - started) / 1000)} s; wrote ${RESULT_FILE}`);
  process.exit(0);
}

void main();
