import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DEFAULT_STEPS } from "../domain/rollouts/canary";
import { DEFAULT_JUDGE_POLICY, judgeStep, type JudgePolicy } from "../domain/rollouts/judge";
import { createRng } from "../domain/random";
import { BASELINE_TRAFFIC, simulateArm, type ArmTraffic } from "../domain/simulation/canaryTraffic";

// npm run bench:canary — the canary judge (server/domain/rollouts/judge.ts, the code the rollout
// jobs run) on simulated traffic, in process. Each run is one canary through DEFAULT_STEPS: every
// step collects what the judge needs (the policy's minimum requests and impressions per arm, the
// baseline getting the rest of the surface's traffic), is judged once, and widens, promotes or
// fails. Four populations of RUNS canaries each:
//   A/A      the canary is the same model (identical traffic): should pass (promote) ≥ 95 %;
//   latency  the canary is 30 % slower at every quantile (so p99 +30 %);
//   fallback the canary falls back 2 points more often (0.5 % → 2.5 %);
//   CTR      the canary's clicks per impression are 10 % lower (8 % → 7.2 %);
// each regression should fail within the first two steps in ≥ 90 % of runs.
// Usage: npm run bench:canary [-- --runs 1000 --seed 1]. Writes .data/bench/canary.json.

const RESULT_FILE = path.join(".data", "bench", "canary.json");
const IMPRESSIONS_PER_REQUEST = 10;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

interface Outcome {
  /** The step (0-based) at which the canary failed, or null if it was promoted. */
  failedAt: number | null;
  failedMetrics: string[];
}

/** One canary through every step of `steps`, the canary arm drawn from `canary`, the baseline from BASELINE_TRAFFIC. */
function runCanary(seed: number, canary: ArmTraffic, policy: JudgePolicy, steps: readonly number[]): Outcome {
  const rng = createRng(seed);
  const canaryRequests = Math.max(policy.minRequests, Math.ceil(policy.minImpressions / IMPRESSIONS_PER_REQUEST));
  for (const [i, percent] of steps.entries()) {
    // The step lasts until the canary has what the judge needs; the baseline serves the rest meanwhile.
    const baselineRequests = Math.max(policy.minRequests, Math.round((canaryRequests * (100 - percent)) / percent));
    const verdict = judgeStep(simulateArm(rng, canary, canaryRequests, IMPRESSIONS_PER_REQUEST), simulateArm(rng, BASELINE_TRAFFIC, baselineRequests, IMPRESSIONS_PER_REQUEST), policy);
    if (verdict.decision === "fail") return { failedAt: i, failedMetrics: verdict.metrics.filter((m) => m.failed).map((m) => m.metric) };
    if (verdict.decision === "wait") throw new Error(`step ${percent}% waited with its minimum data: ${verdict.reasons.join("; ")}`);
  }
  return { failedAt: null, failedMetrics: [] };
}

const SCENARIOS: Array<{ key: string; label: string; canary: ArmTraffic; expect: "pass" | "fail" }> = [
  { key: "aa", label: "A/A (identical model)", canary: BASELINE_TRAFFIC, expect: "pass" },
  { key: "latency", label: "+30 % latency everywhere", canary: { ...BASELINE_TRAFFIC, medianMs: BASELINE_TRAFFIC.medianMs * 1.3 }, expect: "fail" },
  // Only the slowest 5 % are 1.3× slower: p99 +30 %, the median unchanged (a location test alone misses it).
  { key: "p99", label: "+30 % p99 (tail only)", canary: { ...BASELINE_TRAFFIC, tailFactor: 1.3 }, expect: "fail" },
  { key: "fallback", label: "+2 points fallback rate", canary: { ...BASELINE_TRAFFIC, fallbackRate: BASELINE_TRAFFIC.fallbackRate + 0.02 }, expect: "fail" },
  { key: "ctr", label: "−10 % CTR", canary: { ...BASELINE_TRAFFIC, ctr: BASELINE_TRAFFIC.ctr * 0.9 }, expect: "fail" },
];

const runs = arg("runs", 1000);
const seed = arg("seed", 1);
const policy = DEFAULT_JUDGE_POLICY;
console.log(`\nCanary judge on simulated traffic: ${runs} canaries per scenario, steps ${DEFAULT_STEPS.join(" → ")} %, ${Math.round(policy.confidence * 100)} % intervals`);
console.log(`  per step: ≥ ${policy.minRequests} requests and ≥ ${policy.minImpressions} impressions per arm (${IMPRESSIONS_PER_REQUEST} impressions per request)`);
const results: Record<string, { label: string; rate: number; meaning: string; target: number; met: boolean; failedBy: Record<string, number>; seconds: number }> = {};
for (const [s, scenario] of SCENARIOS.entries()) {
  const started = performance.now();
  let good = 0;
  const failedBy: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    const outcome = runCanary(seed * 1_000_003 + s * 100_003 + r, scenario.canary, policy, DEFAULT_STEPS);
    for (const m of outcome.failedMetrics) failedBy[m] = (failedBy[m] ?? 0) + 1;
    if (scenario.expect === "pass" ? outcome.failedAt === null : outcome.failedAt !== null && outcome.failedAt <= 1) good++;
  }
  const rate = good / runs;
  const target = scenario.expect === "pass" ? 0.95 : 0.9;
  const meaning = scenario.expect === "pass" ? "passed every step (promoted)" : "failed within two steps";
  results[scenario.key] = { label: scenario.label, rate, meaning, target, met: rate >= target, failedBy, seconds: (performance.now() - started) / 1000 };
  const by = Object.entries(failedBy).map(([m, n]) => `${m} ${n}`).join(", ") || "none";
  console.log(`  ${scenario.label.padEnd(28)} ${meaning.padEnd(30)} ${(rate * 100).toFixed(1).padStart(5)} %  (target ≥ ${target * 100} %: ${rate >= target ? "met" : "NOT MET"}; failures by metric: ${by})`);
}
mkdirSync(path.dirname(RESULT_FILE), { recursive: true });
writeFileSync(RESULT_FILE, `${JSON.stringify({ runs, seed, steps: DEFAULT_STEPS, impressionsPerRequest: IMPRESSIONS_PER_REQUEST, baseline: BASELINE_TRAFFIC, policy, results }, null, 2)}\n`);
console.log(`  written to ${RESULT_FILE}`);
if (Object.values(results).some((r) => !r.met)) process.exitCode = 1;
