import { createRng, type Rng } from "../random";

// A position-biased cascade click model over hidden true relevance (after the examination
// hypothesis of Richardson et al. 2007 and the cascade model of Craswell et al. 2008), with the
// synthetic users and sessions of the traffic simulator. Pure: the same list, parameters and seed
// give the same events.
//
// The user scans the served list from position 1:
//   1. examines position p with probability (1/p)^η (η = positionBiasExponent);
//   2. clicks an examined item with probability maxAttractiveness · σ(slope · (quality − midpoint));
//   3. after a click stops scanning with probability stopAfterClick (the cascade: satisfied);
//      after any position leaves with probability abandonment (impatience);
//   4. a click becomes an add-to-cart with probability lerp(cart, quality) and an add-to-cart a
//      purchase with probability lerp(purchase, quality); the revenue is the item's price.
// Impressions are emitted for every served item (positions 1..k), then the interactions in scan order.

export interface ClickModelParams {
  /** η of the position-bias curve: P(examine p) = 1/p^η. 0 = no position bias. */
  positionBiasExponent: number;
  /** Steepness of the logistic attractiveness curve over quality. */
  attractivenessSlope: number;
  /** Quality at which attractiveness is half of its maximum. */
  attractivenessMidpoint: number;
  /** Upper bound of the click probability of an examined item. */
  maxAttractiveness: number;
  /** Probability of leaving the list after a click (cascade). */
  stopAfterClick: number;
  /** Probability of leaving the list after each position, click or not. */
  abandonment: number;
  /** P(add to cart | click) at quality 0 and at quality 1 (linear in between). */
  cart: readonly [atZero: number, atOne: number];
  /** P(purchase | add to cart) at quality 0 and at quality 1 (linear in between). */
  purchase: readonly [atZero: number, atOne: number];
}

export const DEFAULT_CLICK_MODEL: Readonly<ClickModelParams> = Object.freeze({
  positionBiasExponent: 1,
  attractivenessSlope: 8,
  attractivenessMidpoint: 0.6,
  maxAttractiveness: 0.8,
  stopAfterClick: 0.5,
  abandonment: 0.05,
  cart: [0.05, 0.5] as const,
  purchase: [0.3, 0.8] as const,
});

/** What the click model needs to know about a served item. */
export interface ServedItem {
  id: string;
  /** Hidden true relevance in [0, 1]. */
  quality: number;
  price: number;
}

export type SimEventType = "impression" | "click" | "add_to_cart" | "purchase";

export interface SimEvent {
  type: SimEventType;
  itemId: string;
  /** 1-based served position. */
  position: number;
  /** Purchases only: the item's price. */
  revenue?: number;
}

export interface ListOutcome {
  events: SimEvent[];
  /** 1-based positions clicked, in scan order (what interleavingWinner takes). */
  clickedPositions: number[];
  /** Positions the user examined. */
  examined: number;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const lerp = ([a, b]: readonly [number, number], t: number) => a + (b - a) * clamp01(t);

/** P(examine position p), p 1-based. */
export function examinationProbability(position: number, params: Pick<ClickModelParams, "positionBiasExponent">): number {
  return Math.pow(position, -params.positionBiasExponent);
}

/** P(click | examined) for an item of the given quality. */
export function attractiveness(quality: number, params: Pick<ClickModelParams, "attractivenessSlope" | "attractivenessMidpoint" | "maxAttractiveness">): number {
  return params.maxAttractiveness / (1 + Math.exp(-params.attractivenessSlope * (quality - params.attractivenessMidpoint)));
}

/** Marks resolved parameters (non-enumerable, so a spread copy is checked again). */
const RESOLVED = Symbol("resolved click model");

/** Defaults filled in and checked; the result is frozen and passes through again without checks. */
export function resolveClickModel(overrides: Partial<ClickModelParams> = {}): ClickModelParams {
  if ((overrides as { [RESOLVED]?: true })[RESOLVED]) return overrides as ClickModelParams;
  const params = { ...DEFAULT_CLICK_MODEL, ...overrides };
  const probabilities = { maxAttractiveness: params.maxAttractiveness, stopAfterClick: params.stopAfterClick, abandonment: params.abandonment };
  for (const [name, value] of Object.entries(probabilities)) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${value}`);
  }
  for (const name of ["cart", "purchase"] as const) {
    if (!(params[name].length === 2 && params[name].every((v) => v >= 0 && v <= 1))) throw new RangeError(`${name} must be two probabilities in [0, 1]`);
  }
  if (!(params.positionBiasExponent >= 0 && Number.isFinite(params.positionBiasExponent))) {
    throw new RangeError(`positionBiasExponent must be a finite number ≥ 0, got ${params.positionBiasExponent}`);
  }
  if (!(Number.isFinite(params.attractivenessSlope) && Number.isFinite(params.attractivenessMidpoint))) throw new RangeError("attractivenessSlope and attractivenessMidpoint must be finite");
  Object.defineProperty(params, RESOLVED, { value: true, enumerable: false });
  return Object.freeze(params);
}

/**
 * The user's behaviour on one served list: impressions for every item, then clicks, add-to-carts
 * and purchases. `rng` is a seed or a random source (consumed in place).
 */
export function simulateList(items: readonly ServedItem[], rng: Rng | number, params: Partial<ClickModelParams> = {}): ListOutcome {
  const events: SimEvent[] = items.map((item, i) => ({ type: "impression", itemId: item.id, position: i + 1 }));
  const { clickedPositions, examined } = scan(items, typeof rng === "number" ? createRng(rng) : rng, resolveClickModel(params), events);
  return { events, clickedPositions, examined };
}

/** The clicked positions only (same draws as simulateList, without building the events). */
export function simulateClicks(items: readonly ServedItem[], rng: Rng, params: Partial<ClickModelParams> = {}): number[] {
  return scan(items, rng, resolveClickModel(params), null).clickedPositions;
}

function scan(items: readonly ServedItem[], random: Rng, p: ClickModelParams, events: SimEvent[] | null): { clickedPositions: number[]; examined: number } {
  const clickedPositions: number[] = [];
  let examined = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const position = i + 1;
    if (random.next() < examinationProbability(position, p)) {
      examined++;
      if (random.next() < attractiveness(item.quality, p)) {
        clickedPositions.push(position);
        events?.push({ type: "click", itemId: item.id, position });
        if (random.next() < lerp(p.cart, item.quality)) {
          events?.push({ type: "add_to_cart", itemId: item.id, position });
          if (random.next() < lerp(p.purchase, item.quality)) events?.push({ type: "purchase", itemId: item.id, position, revenue: item.price });
        }
        if (random.next() < p.stopAfterClick) break;
      }
    }
    if (random.next() < p.abandonment) break;
  }
  return { clickedPositions, examined };
}

/**
 * Expected clicks on a list under the model (exact, by dynamic programming over "still scanning"),
 * used to say which ranking is better without sampling noise.
 */
export function expectedClicks(items: readonly Pick<ServedItem, "quality">[], params: Partial<ClickModelParams> = {}): number {
  const p = resolveClickModel(params);
  let scanning = 1;
  let clicks = 0;
  items.forEach((item, i) => {
    const click = examinationProbability(i + 1, p) * attractiveness(item.quality, p);
    clicks += scanning * click;
    scanning *= (1 - click * p.stopAfterClick) * (1 - p.abandonment);
  });
  return clicks;
}

// ---- synthetic users and sessions ----
//
// Users differ, as real ones do: in device, country, returning or not, interests (one or two
// categories they search), click propensity (a per-user shift of the attractiveness logit, normal
// with sd clickBiasSd) and activity (a lognormal relative request rate with sd activitySd in
// log space: a few heavy users, many light ones). Mobile users scan less deep (position-bias
// exponent × 1.25); returning users add to cart and buy more (× 1.3).

export const SIM_DEVICES = ["mobile", "desktop", "tablet"] as const;
export const SIM_COUNTRIES = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "CA"] as const;

export interface SimUser {
  userKey: string;
  device: (typeof SIM_DEVICES)[number];
  country: (typeof SIM_COUNTRIES)[number];
  returning: boolean;
  /** Categories the user searches (one or two). */
  interests: string[];
  /** Shift of the user's attractiveness logit: > 0 clicks more, < 0 less. */
  clickBias: number;
  /** Relative request rate (mean about 1). */
  activity: number;
}

export interface SimSession {
  sessionKey: string;
  user: SimUser;
  queries: string[];
}

export interface UserOptions {
  /** Sd of the per-user click-propensity logit shift; default 1. */
  clickBiasSd?: number;
  /** Sd of log activity; default 1. */
  activitySd?: number;
}

/** Deterministic synthetic users; keys are stable for a seed, so experiment assignment repeats. */
export function createUsers(count: number, seed: number, categories: readonly string[], options: UserOptions = {}): SimUser[] {
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`count must be a positive integer, got ${count}`);
  if (categories.length === 0) throw new RangeError("categories must not be empty");
  const clickBiasSd = options.clickBiasSd ?? 1;
  const activitySd = options.activitySd ?? 1;
  const rng = createRng(seed);
  return Array.from({ length: count }, (_, i) => {
    const roll = rng.next();
    const device = roll < 0.6 ? "mobile" : roll < 0.95 ? "desktop" : "tablet";
    const first = rng.pick(categories);
    const second = rng.next() < 0.5 ? rng.pick(categories) : first;
    return {
      userKey: `sim-${seed}-u${String(i + 1).padStart(6, "0")}`,
      device,
      country: rng.pick(SIM_COUNTRIES),
      returning: rng.next() < 0.4,
      interests: first === second ? [first] : [first, second],
      clickBias: clickBiasSd * rng.normal(),
      // E[exp(σZ − σ²/2)] = 1.
      activity: Math.exp(activitySd * rng.normal() - (activitySd * activitySd) / 2),
    };
  });
}

/** Draws users in proportion to their activity. */
export function createUserPicker(users: readonly SimUser[]): (rng: Rng) => SimUser {
  if (users.length === 0) throw new RangeError("users must not be empty");
  const cumulative: number[] = [];
  let total = 0;
  for (const u of users) cumulative.push((total += u.activity));
  return (rng) => {
    const target = rng.next() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return users[lo]!;
  };
}

/**
 * One session of a user: 1–4 searches, each a query from `queriesFor(category)` for one of the
 * user's interests (the first query of that list is taken half of the time: head queries).
 */
export function createSession(user: SimUser, index: number, rng: Rng, queriesFor: (category: string) => readonly string[]): SimSession {
  const count = 1 + Math.min(3, Math.floor(-Math.log(1 - rng.next()) / 0.8));
  const queries = Array.from({ length: count }, () => {
    const options = queriesFor(rng.pick(user.interests));
    if (options.length === 0) throw new RangeError("queriesFor returned no queries");
    return rng.next() < 0.5 ? options[0]! : rng.pick(options);
  });
  return { sessionKey: `${user.userKey}-s${index}`, user, queries };
}

/** The click model of one user: the base parameters adjusted for device, returning and propensity. */
export function clickModelFor(user: Pick<SimUser, "device" | "returning" | "clickBias">, base: Partial<ClickModelParams> = {}): ClickModelParams {
  const p = resolveClickModel(base);
  const boost = (pair: readonly [number, number]) => [Math.min(1, pair[0] * 1.3), Math.min(1, pair[1] * 1.3)] as const;
  return resolveClickModel({
    ...p,
    positionBiasExponent: p.positionBiasExponent * (user.device === "mobile" ? 1.25 : 1),
    // σ(slope·(q − m) + b) = σ(slope·(q − (m − b/slope))).
    attractivenessMidpoint: p.attractivenessSlope !== 0 ? p.attractivenessMidpoint - user.clickBias / p.attractivenessSlope : p.attractivenessMidpoint,
    ...(user.returning ? { cart: boost(p.cart), purchase: boost(p.purchase) } : {}),
  });
}
