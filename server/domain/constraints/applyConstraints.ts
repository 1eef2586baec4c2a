/**
 * Business constraints applied after model scoring (and to the fallback order). Pure: the same
 * ranked list and config always give the same served list, so shadow runs and replays agree.
 */

export interface RankedCandidate {
  id: string;
  score: number; // model score (or fallback pseudo-score); higher is better
  /** item attributes from the catalog; absent for unknown items (the title is what a cross-encoder reads, with the category) */
  attrs: { title?: string; category?: string; providerGroup?: string; brand?: string; safetyFlags?: readonly string[] };
}

export interface ConstraintConfig {
  blockedFlags?: string[]; // an item with any of these safety flags is never served
  blockedIds?: string[]; // explicit blocklist, never served
  pins?: Array<{ id: string; position: number }>; // 1-based position; pins win over everything but blocking
  /** multiplier scales the item's height above the request's score floor, add shifts its score (see applyBoosts): up for > 1 / > 0 whatever the scores' sign. */
  boosts?: Array<{ field: "id" | "category" | "providerGroup" | "brand"; value: string; multiplier?: number; add?: number }>;
  maxPerCategory?: { limit: number; withinTop: number }; // at most `limit` items per category among the first `withinTop` positions
  diversity?: { lambda: number; field: "category" | "providerGroup" | "brand"; withinTop?: number }; // MMR, lambda in [0,1]; 1 = pure relevance
  exposureFloors?: Array<{ field: "category" | "providerGroup" | "brand"; group: string; minShare: number; withinTop: number }>;
}

export interface ServedCandidate {
  id: string;
  score: number;
  reasons: string[];
}
export interface FloorReport {
  field: string;
  group: string;
  required: number;
  achieved: number;
  feasible: boolean;
}
export interface ConstraintOutcome {
  items: ServedCandidate[]; // final order, cut to topK
  removed: Array<{ id: string; reason: string }>; // blocked items (never in items)
  floors: FloorReport[];
  capsFeasible: boolean; // false when the category cap could not be met for lack of other items
}

type GroupField = "category" | "providerGroup" | "brand";
type CategoryCap = NonNullable<ConstraintConfig["maxPerCategory"]>;
type ExposureFloor = NonNullable<ConstraintConfig["exposureFloors"]>[number];

/** A candidate on its way through the steps; copies, so the caller's list is never mutated. */
interface Candidate {
  id: string;
  score: number;
  attrs: RankedCandidate["attrs"];
  reasons: string[];
}

export function applyConstraints(ranked: readonly RankedCandidate[], config: ConstraintConfig, topK: number): ConstraintOutcome {
  // A bad topK is a caller bug; failing loudly beats silently serving nothing.
  if (!(topK >= 1)) throw new RangeError(`topK must be >= 1, got ${topK}`);

  const { kept, removed } = blockUnsafe(ranked, config);
  let list = applyBoosts(kept, config.boosts ?? []);
  if (config.diversity) list = diversify(list, config.diversity, topK);

  let capsFeasible = true;
  if (config.maxPerCategory) {
    const capped = capCategories(list, config.maxPerCategory);
    list = capped.list;
    capsFeasible = capped.feasible;
  }

  const floors = config.exposureFloors ?? [];
  list = applyExposureFloors(list, floors, config.maxPerCategory);
  // Reported after all floors ran, so a later floor that had to take from an earlier one shows up honestly.
  const floorReports = floors.map((floor) => reportFloor(list, floor));

  list = applyPins(list, config.pins ?? []);

  return {
    items: list.slice(0, Math.floor(topK)).map((c) => ({ id: c.id, score: c.score, reasons: c.reasons })),
    removed,
    floors: floorReports,
    capsFeasible,
  };
}

// ---- step 1: blocking ----

function blockUnsafe(ranked: readonly RankedCandidate[], config: ConstraintConfig) {
  const blockedFlags = new Set(config.blockedFlags ?? []);
  const blockedIds = new Set(config.blockedIds ?? []);
  const seen = new Set<string>();
  const kept: Candidate[] = [];
  const removed: Array<{ id: string; reason: string }> = [];
  for (const item of ranked) {
    // Served ids must be unique; the first (best-ranked) copy of a repeated id is the one that counts.
    if (seen.has(item.id)) continue;
    seen.add(item.id);
    const attrs = item.attrs ?? {};
    const flag = attrs.safetyFlags?.find((f) => blockedFlags.has(f));
    if (flag !== undefined) removed.push({ id: item.id, reason: `blocked:flag=${flag}` });
    else if (blockedIds.has(item.id)) removed.push({ id: item.id, reason: "blocked:id" });
    else kept.push({ id: item.id, score: item.score, attrs, reasons: [] });
  }
  return { kept, removed };
}

// ---- step 2: boosts ----

/**
 * Boosts move an item up (multiplier > 1, add > 0) or down (multiplier < 1, add < 0) whatever the
 * sign or offset of the model's scores. Multiplying a raw score does not: −0.693 × 3 = −2.079
 * drops the item. So a multiplier scales the item's height above a floor instead:
 *
 *   floor = min − δ,  δ = (max − min) / n   (one average gap below the lowest of the n kept scores;
 *                                             δ = 1 when all scores are equal)
 *   score' = floor + (score − floor) × multiplier + add
 *
 * Items without a boost keep their score; boosted scores stay in the model's units, so the response
 * still shows comparable numbers. The result is the same for any scores a·s + b (a > 0): a model
 * whose scores are all negative, or all near 300, is boosted as one scored in [0, 1].
 * Example: [−0.105, −0.693, −1.204], ×3 on the second: floor −1.570, height 0.877 → 2.632 above
 * the floor, score 1.062: first.
 */
export function boostFloor(scores: readonly number[]): number {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (!Number.isFinite(s)) continue;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  if (min === Infinity) return 0;
  // Halves first: max − min of two finite doubles overflows past ±1.7e308 (then floor = −∞ and a boost gives ∞ − ∞ = NaN).
  const gap = max > min ? (max / 2 - min / 2) * (2 / scores.length) : 1;
  return min - gap;
}

/** `x` held within the finite doubles: ±∞ (an overflow of score arithmetic) becomes ±Number.MAX_VALUE; NaN stays NaN. */
export function saturate(x: number): number {
  return x > Number.MAX_VALUE ? Number.MAX_VALUE : x < -Number.MAX_VALUE ? -Number.MAX_VALUE : x;
}

/**
 * A power of two that brings the largest finite |score| to at most 2^990, or 1: boosting computes in
 * that scale, so that the height above the floor (up to twice the scores' range) times a multiplier
 * (up to 1e6 ≈ 2^20) stays a finite double. Scores near ±1.7e308 otherwise overflow to ∞ and ∞ − ∞ = NaN.
 * A power of two changes no order and no ratio.
 */
function boostScale(scores: readonly number[]): number {
  let largest = 0;
  for (const s of scores) if (Number.isFinite(s)) largest = Math.max(largest, Math.abs(s));
  return largest > 2 ** 990 ? 2 ** -(Math.ceil(Math.log2(largest)) - 990) : 1;
}

function applyBoosts(list: Candidate[], boosts: NonNullable<ConstraintConfig["boosts"]>): Candidate[] {
  if (boosts.length === 0) return list;
  const scale = boostScale(list.map((c) => c.score));
  const floor = boostFloor(list.map((c) => c.score * scale));
  let boosted = false;
  for (const item of list) {
    for (const boost of boosts) {
      if (valueOf(item, boost.field) !== boost.value) continue;
      // Computed in `scale` (boostScale); back in the model's units a boosted score past the doubles saturates.
      const scaled = floor + (item.score * scale - floor) * (boost.multiplier ?? 1) + (boost.add ?? 0) * scale;
      item.score = saturate(scaled / scale);
      addReason(item, `boosted:${boost.field}=${boost.value}`);
      boosted = true;
    }
  }
  // Only re-sort when a score changed, so the caller's tie order is never disturbed for nothing.
  return boosted ? [...list].sort(byScoreDescending) : list;
}

function byScoreDescending(a: Candidate, b: Candidate): number {
  // NaN sorts last instead of poisoning the comparator; Array#sort is stable, so ties keep incoming order.
  const x = Number.isNaN(a.score) ? -Infinity : a.score;
  const y = Number.isNaN(b.score) ? -Infinity : b.score;
  return x === y ? 0 : x > y ? -1 : 1;
}

// ---- step 3: diversity (MMR) ----

function diversify(list: Candidate[], diversity: NonNullable<ConstraintConfig["diversity"]>, topK: number): Candidate[] {
  const lambda = Math.min(1, Math.max(0, diversity.lambda));
  const size = windowSize(diversity.withinTop ?? topK, list.length);
  // The whole list is the pool: the window may pull in a lower item of an unseen group.
  // A loop, not Math.min(...spread), so very long candidate lists cannot overflow the call stack.
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of list) {
    if (!Number.isFinite(score)) continue;
    min = Math.min(min, score);
    max = Math.max(max, score);
  }
  // In halves, so that scores near ±1.7e308 do not overflow max − min; an infinite score sits at its end of [0, 1].
  const normalised = (score: number) => (max <= min ? 1 : Math.min(1, Math.max(0, (score / 2 - min / 2) / (max / 2 - min / 2))));

  const remaining = [...list];
  const chosen: Candidate[] = [];
  const seenValues = new Set<string>();
  while (chosen.length < size) {
    let best = 0;
    let bestValue = -Infinity;
    remaining.forEach((item, index) => {
      const value = valueOf(item, diversity.field);
      // Binary similarity: an item missing the field is never similar to anything.
      const similarity = value !== undefined && seenValues.has(value) ? 1 : 0;
      const mmr = lambda * normalised(item.score) - (1 - lambda) * similarity;
      if (mmr > bestValue) {
        best = index;
        bestValue = mmr;
      }
    });
    const picked = remaining.splice(best, 1)[0]!;
    chosen.push(picked);
    const value = valueOf(picked, diversity.field);
    if (value !== undefined) seenValues.add(value);
  }

  const result = [...chosen, ...remaining];
  markMoves(list, result, "diversity:moved_up", "diversity:moved_down");
  return result;
}

// ---- step 4: category cap ----

function capCategories(list: Candidate[], cap: CategoryCap): { list: Candidate[]; feasible: boolean } {
  const size = windowSize(cap.withinTop, list.length);
  const limit = Math.floor(cap.limit);
  const window: Candidate[] = [];
  const deferred: Candidate[] = [];
  const rest: Candidate[] = [];
  const counts = new Map<string, number>();
  for (const item of list) {
    if (window.length >= size) {
      rest.push(item);
      continue;
    }
    const category = item.attrs.category;
    if (category === undefined) {
      window.push(item);
      continue;
    }
    const count = counts.get(category) ?? 0;
    if (count < limit) {
      window.push(item);
      counts.set(category, count + 1);
    } else {
      deferred.push(item);
    }
  }

  // Greedy keeps every item the cap allows, so an unfilled window means no ordering could honour the cap.
  const wasDeferred = new Set(deferred);
  let feasible = true;
  while (window.length < size && deferred.length > 0) {
    window.push(deferred.shift()!);
    feasible = false;
  }

  const result = [...window, ...deferred, ...rest];
  // Only deferred items that actually lost ground are called demoted; one refilled at its own slot is not.
  const before = new Map(list.map((c, index) => [c, index]));
  result.forEach((item, index) => {
    if (wasDeferred.has(item) && index > before.get(item)!) addReason(item, "demoted:category_cap");
  });
  return { list: result, feasible };
}

// ---- step 5: exposure floors ----

function applyExposureFloors(list: Candidate[], floors: readonly ExposureFloor[], cap: CategoryCap | undefined): Candidate[] {
  let current = list;
  floors.forEach((floor, floorIndex) => {
    const size = windowSize(floor.withinTop, current.length);
    const required = requiredCount(floor.minShare, size);
    const inGroup = (c: Candidate) => valueOf(c, floor.field) === floor.group;
    const earlierFloors = floors.slice(0, floorIndex);
    // Harm a swap may do elsewhere: cap overflow plus shortfall of floors already satisfied.
    const harm = (l: Candidate[]) => capOverflow(l, cap) + earlierFloors.reduce((sum, f) => sum + shortfall(l, f), 0);
    const guarded = cap !== undefined || earlierFloors.length > 0;

    let achieved = countInWindow(current, size, inGroup);
    while (achieved < required) {
      const from = current.findIndex((c, index) => index >= size && inGroup(c));
      if (from < 0) break;
      const victims: number[] = [];
      for (let index = size - 1; index >= 0; index--) if (!inGroup(current[index]!)) victims.push(index);
      if (victims.length === 0) break;

      // Default victim is the lowest-ranked; prefer one whose swap does no extra harm, else the least harmful.
      let chosen = current;
      let victim = victims[0]!;
      if (guarded) {
        const baseline = harm(current);
        let leastHarm = Infinity;
        for (const index of victims) {
          const candidate = swapIntoWindow(current, index, from, size);
          const h = harm(candidate);
          if (h < leastHarm) {
            leastHarm = h;
            victim = index;
            chosen = candidate;
          }
          if (h <= baseline) break;
        }
      } else {
        chosen = swapIntoWindow(current, victim, from, size);
      }
      addReason(current[from]!, `promoted:exposure_floor(${floor.field}=${floor.group})`);
      addReason(current[victim]!, "demoted:exposure_floor");
      current = chosen;
      achieved++;
    }
  });
  return current;
}

/** The promoted item takes the victim's slot; the victim goes to the first slot after the window. */
function swapIntoWindow(list: Candidate[], victim: number, promoted: number, size: number): Candidate[] {
  const others = list.filter((_, index) => index !== promoted);
  return [...others.slice(0, victim), list[promoted]!, ...others.slice(victim + 1, size), list[victim]!, ...others.slice(size)];
}

function reportFloor(list: Candidate[], floor: ExposureFloor): FloorReport {
  const size = windowSize(floor.withinTop, list.length);
  const required = requiredCount(floor.minShare, size);
  const achieved = countInWindow(list, size, (c) => valueOf(c, floor.field) === floor.group);
  return { field: floor.field, group: floor.group, required, achieved, feasible: achieved >= required };
}

function shortfall(list: Candidate[], floor: ExposureFloor): number {
  const { required, achieved } = reportFloor(list, floor);
  return Math.max(0, required - achieved);
}

function capOverflow(list: Candidate[], cap: CategoryCap | undefined): number {
  if (!cap) return 0;
  const counts = new Map<string, number>();
  for (const item of list.slice(0, windowSize(cap.withinTop, list.length))) {
    const category = item.attrs.category;
    if (category !== undefined) counts.set(category, (counts.get(category) ?? 0) + 1);
  }
  const limit = Math.floor(cap.limit);
  let overflow = 0;
  for (const count of counts.values()) overflow += Math.max(0, count - limit);
  return overflow;
}

// ---- step 6: pins ----

function applyPins(list: Candidate[], pins: NonNullable<ConstraintConfig["pins"]>): Candidate[] {
  const byId = new Map(list.map((c) => [c.id, c]));
  // Stable sort: equal positions keep config order; an id pinned twice keeps its lowest position.
  const ordered = [...pins].filter((p) => byId.has(p.id)).sort((a, b) => pinIndex(a.position) - pinIndex(b.position));
  const pinned = new Map<string, number>();
  for (const pin of ordered) if (!pinned.has(pin.id)) pinned.set(pin.id, pin.position);
  if (pinned.size === 0) return list;

  // Pinned items are lifted out and re-inserted in ascending order, so a later pin never shifts an earlier one.
  const result = list.filter((c) => !pinned.has(c.id));
  let lastIndex = -1;
  for (const [id, position] of pinned) {
    const item = byId.get(id)!;
    // Two pins on one position: the second takes the next free slot.
    const index = Math.min(Math.max(pinIndex(position), lastIndex + 1), result.length);
    result.splice(index, 0, item);
    addReason(item, `pinned:${position}`);
    lastIndex = index;
  }
  return result;
}

function pinIndex(position: number): number {
  const index = Math.floor(position) - 1;
  if (Number.isNaN(index)) return Infinity;
  return Math.max(0, index);
}

// ---- helpers ----

function valueOf(item: Candidate, field: "id" | GroupField): string | undefined {
  return field === "id" ? item.id : item.attrs[field];
}

function addReason(item: Candidate, reason: string): void {
  if (!item.reasons.includes(reason)) item.reasons.push(reason);
}

/** Window of `withinTop` positions clipped to the list; nonsense (NaN, negative) means an empty window. */
function windowSize(withinTop: number, length: number): number {
  const size = Math.floor(withinTop);
  return size > 0 ? Math.min(size, length) : 0;
}

function requiredCount(minShare: number, size: number): number {
  // The epsilon keeps 0.3 * 10 = 3.0000000000000004 from demanding 4 items.
  const required = Math.ceil(minShare * size - 1e-9);
  return required > 0 ? required : 0;
}

function countInWindow(list: Candidate[], size: number, predicate: (c: Candidate) => boolean): number {
  let count = 0;
  for (let index = 0; index < size; index++) if (predicate(list[index]!)) count++;
  return count;
}

function markMoves(before: Candidate[], after: Candidate[], up: string, down: string): void {
  const previous = new Map(before.map((c, index) => [c, index]));
  after.forEach((item, index) => {
    const was = previous.get(item)!;
    if (index < was) addReason(item, up);
    else if (index > was) addReason(item, down);
  });
}
