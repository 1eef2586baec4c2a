import type { ArmSample } from "../rollouts/judge";
import type { Rng } from "../random";
import { binomial } from "../stats/binomialDraw";

// Simulated traffic of one canary step, for the judge's tests and `npm run bench:canary`: per
// request latencies from a log-normal body with a heavy tail of slow requests (GC pauses, cold
// caches), fallbacks and clicks as binomial counts. The latency sample is capped per arm as the
// service caps what it reads from the request log.

export interface ArmTraffic {
  /** Median latency of the body in ms, and the log-normal σ around it. */
  medianMs: number;
  sigma: number;
  /** Share of requests that land in the slow tail (5–10× the median). */
  slowShare: number;
  fallbackRate: number;
  /** Clicks per impression. */
  ctr: number;
  /** Requests slower than the body's p95 are this much slower (1: none): a regression of the tail only, median unchanged. */
  tailFactor?: number;
}

export const BASELINE_TRAFFIC: ArmTraffic = { medianMs: 20, sigma: 0.35, slowShare: 0.005, fallbackRate: 0.005, ctr: 0.08 };

/** The same cap as the rollout service's latency sample per arm. */
export const LATENCY_SAMPLE_CAP = 5_000;

/** One arm of one step: `requests` requests with `impressionsPerRequest` impressions each. */
export function simulateArm(rng: Rng, traffic: ArmTraffic, requests: number, impressionsPerRequest: number, sampleCap = LATENCY_SAMPLE_CAP): ArmSample {
  const latencies = new Array<number>(Math.min(requests, sampleCap));
  for (let i = 0; i < latencies.length; i++) {
    const z = rng.normal();
    // 1.645: the standard normal's 95th percentile, so the tail factor touches the slowest 5 % of the body.
    const body = traffic.medianMs * Math.exp(traffic.sigma * z) * (z > 1.645 ? (traffic.tailFactor ?? 1) : 1);
    latencies[i] = rng.next() < traffic.slowShare ? body * (5 + 5 * rng.next()) : body;
  }
  const impressions = requests * impressionsPerRequest;
  return { latencies, requests, fallbacks: binomial(rng, requests, traffic.fallbackRate), impressions, clicks: binomial(rng, impressions, traffic.ctr) };
}
