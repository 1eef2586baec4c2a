import { createRng } from "../random";

// Counterfactual CTR of a new ranking from logged clicks, by inverse propensity scoring under the
// position-based (item-position) click model: P(click | item i at position k) = p(k) · r(i), where
// p(k) is the chance a user examines position k. A click logged at position k, re-weighted by
// w = p(k') / p(k) for the position k' the new ranking gives the item, is an unbiased estimate of
// that item's click probability under the new ranking (Joachims et al., "Unbiased Learning-to-Rank
// with Biased Feedback", WSDM 2017; Li et al., "Offline Evaluation of Ranking Policies with Click
// Models", KDD 2018).
//
//   estimate = Σ_requests Σ_items clicked·w  /  Σ_requests (impressions)
//
// over the items both rankings show. The denominator counts impressions, not weights: moving an
// item changes its click probability, not the number of impressions. The textbook self-normalised
// estimator (SNIPS, Σ clicked·w / Σ w) relies on E[w] = 1 under the logging policy, which holds for
// randomised logging with policy-ratio weights but not for examination ratios of two fixed
// rankings: there Σ w / impressions is a fixed number other than 1 (≈ 1.6 for a shuffle of ten
// positions at eta = 1) and SNIPS is off by that factor. The estimate is therefore normalised by
// impressions — still a ratio over requests, so requests of different length weigh by their
// impressions — and equals the logged CTR when both rankings agree.
//
// Weights are clipped at `maxWeight` (default 10) to bound the variance; clipping biases the
// estimate down for items moved far up, and `clippedShare` says how often it happened.

export interface LoggedImpression {
  requestId: string;
  itemId: string;
  /** 1-based position the item was shown at. */
  loggedPosition: number;
  clicked: boolean;
}

/** The item's 1-based position under the new ranking, or undefined when the new ranking does not show it. */
export type NewPositions = ((requestId: string, itemId: string) => number | undefined) | ReadonlyMap<string, ReadonlyMap<string, number>>;

/** Examination probability by 1-based position: a function, or an array whose entry k-1 is p(k). */
export type Propensities = ((position: number) => number) | readonly number[];

export interface IpsOptions {
  propensities: Propensities;
  /** Upper bound on a weight; default 10. */
  maxWeight?: number;
  /** "normal" (default): delta method on per-request contributions; "bootstrap": resampling requests. */
  interval?: "normal" | "bootstrap";
  bootstrapSamples?: number;
  /** Seed of the bootstrap's random source; default 1, so the interval repeats. */
  seed?: number;
}

export interface IpsEstimate {
  /** Expected clicks per impression under the new ranking. */
  estimate: number;
  /** 95% interval; lower bound kept at ≥ 0; NaN bounds with fewer than two requests. */
  ci95: [number, number];
  /** Kish effective sample size of the impression weights, (Σw)² / Σw², in impressions. */
  effectiveSampleSize: number;
  /** Requests with at least one impression shown by both rankings. */
  requests: number;
  impressions: number;
  /** Clicks per impression as logged, over the same impressions. */
  loggedCtr: number;
  /** Share of impressions whose weight hit maxWeight. */
  clippedShare: number;
}

const Z95 = 1.959963984540054;

/** The position-bias curve p(k) = 1 / k^eta (eta = 0: no bias; larger eta: steeper decay). */
export function positionBiasPropensities(eta: number): (position: number) => number {
  if (!(eta >= 0)) throw new RangeError(`eta must be ≥ 0, got ${eta}`);
  return (position) => 1 / position ** eta;
}

interface RequestSums {
  /** Σ clicked · w */
  clicks: number;
  impressions: number;
}

/** Counterfactual CTR of the new ranking (see the header comment for the estimator). */
export function counterfactualCtr(logged: readonly LoggedImpression[], newPositions: NewPositions, options: IpsOptions): IpsEstimate {
  const maxWeight = options.maxWeight ?? 10;
  if (!(maxWeight > 0)) throw new RangeError(`maxWeight must be positive, got ${maxWeight}`);
  const propensity = propensityOf(options.propensities);
  const positionOf = typeof newPositions === "function" ? newPositions : (requestId: string, itemId: string) => newPositions.get(requestId)?.get(itemId);

  const perRequest = new Map<string, RequestSums>();
  const seen = new Set<string>();
  let sumW = 0;
  let sumW2 = 0;
  let clipped = 0;
  let loggedClicks = 0;
  let impressions = 0;
  for (const impression of logged) {
    const key = JSON.stringify([impression.requestId, impression.itemId]);
    if (seen.has(key)) throw new RangeError(`item "${impression.itemId}" is logged twice in request "${impression.requestId}"`);
    seen.add(key);
    checkPosition(impression.loggedPosition, `request "${impression.requestId}", item "${impression.itemId}": loggedPosition`);
    const newPosition = positionOf(impression.requestId, impression.itemId);
    // Items the new ranking does not show have no impression under it; items only it shows have no log.
    if (newPosition === undefined) continue;
    checkPosition(newPosition, `request "${impression.requestId}", item "${impression.itemId}": new position`);

    const raw = propensity(newPosition) / propensity(impression.loggedPosition);
    const w = Math.min(raw, maxWeight);
    if (raw > maxWeight) clipped++;
    sumW += w;
    sumW2 += w * w;
    impressions++;
    if (impression.clicked) loggedClicks++;
    let sums = perRequest.get(impression.requestId);
    if (!sums) perRequest.set(impression.requestId, (sums = { clicks: 0, impressions: 0 }));
    sums.clicks += impression.clicked ? w : 0;
    sums.impressions++;
  }
  if (impressions === 0) throw new RangeError("no logged impression is shown by the new ranking: nothing to estimate from");

  const requests = [...perRequest.values()];
  const estimate = ratio(requests);
  return {
    estimate,
    ci95: options.interval === "bootstrap" ? bootstrapInterval(requests, options.bootstrapSamples ?? 1000, options.seed ?? 1) : normalInterval(requests, estimate),
    effectiveSampleSize: (sumW * sumW) / sumW2,
    requests: requests.length,
    impressions,
    loggedCtr: loggedClicks / impressions,
    clippedShare: clipped / impressions,
  };
}

function ratio(requests: readonly RequestSums[]): number {
  let clicks = 0;
  let impressions = 0;
  for (const r of requests) {
    clicks += r.clicks;
    impressions += r.impressions;
  }
  return clicks / impressions;
}

/** Ratio-estimator variance by the delta method, over requests as the independent units. */
function normalInterval(requests: readonly RequestSums[], estimate: number): [number, number] {
  const n = requests.length;
  if (n < 2) return [NaN, NaN];
  let impressions = 0;
  let squares = 0;
  for (const r of requests) {
    impressions += r.impressions;
    const residual = r.clicks - estimate * r.impressions;
    squares += residual * residual;
  }
  const se = Math.sqrt((n / (n - 1)) * squares) / impressions;
  return [Math.max(0, estimate - Z95 * se), estimate + Z95 * se];
}

/** Percentile bootstrap over requests, with a seeded source so the interval repeats. */
function bootstrapInterval(requests: readonly RequestSums[], samples: number, seed: number): [number, number] {
  const n = requests.length;
  if (n < 2) return [NaN, NaN];
  if (!(Number.isInteger(samples) && samples >= 100)) throw new RangeError(`bootstrapSamples must be an integer ≥ 100, got ${samples}`);
  const rng = createRng(seed);
  const estimates = new Float64Array(samples);
  for (let b = 0; b < samples; b++) {
    let clicks = 0;
    let impressions = 0;
    for (let i = 0; i < n; i++) {
      const r = requests[rng.int(0, n - 1)]!;
      clicks += r.clicks;
      impressions += r.impressions;
    }
    estimates[b] = clicks / impressions;
  }
  estimates.sort();
  const at = (q: number) => estimates[Math.min(samples - 1, Math.max(0, Math.round(q * (samples - 1))))]!;
  return [at(0.025), at(0.975)];
}

function propensityOf(propensities: Propensities): (position: number) => number {
  const lookup = typeof propensities === "function" ? propensities : (position: number) => propensities[position - 1] ?? Number.NaN;
  const cache = new Map<number, number>();
  return (position) => {
    let p = cache.get(position);
    if (p === undefined) {
      p = lookup(position);
      // Only ratios matter, so the curve need not be normalised; it must be positive and finite.
      if (!(p > 0 && Number.isFinite(p))) throw new RangeError(`propensity of position ${position} must be a positive number, got ${p}`);
      cache.set(position, p);
    }
    return p;
  };
}

function checkPosition(position: number, what: string): void {
  if (!Number.isInteger(position) || position < 1) throw new RangeError(`${what} must be a whole number ≥ 1, got ${position}`);
}
