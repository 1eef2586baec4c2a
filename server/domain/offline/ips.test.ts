import { describe, expect, it } from "vitest";
import { createRng, type Rng } from "../random";
import { counterfactualCtr, positionBiasPropensities, type LoggedImpression } from "./ips";

const ITEMS = 10;

/** Ranks items by relevance plus noise; returns position (1-based) per item index. */
function rankBy(relevance: number[], noise: number, rng: Rng): number[] {
  const order = relevance.map((r, i) => ({ i, s: r + noise * rng.normal() })).sort((a, b) => b.s - a.s);
  const positions = new Array<number>(relevance.length);
  order.forEach(({ i }, k) => (positions[i] = k + 1));
  return positions;
}

/**
 * Requests of ten items under the position-based click model p(k) = 1/k^eta: clicks are drawn at
 * the logged positions; the true CTR of the new ranking is the mean of Σ p(k') r / 10.
 */
function simulate(seed: number, requests: number, eta: number, loggedNoise: number, newNoise: number) {
  const rng = createRng(seed);
  const p = positionBiasPropensities(eta);
  const logged: LoggedImpression[] = [];
  const newPositions = new Map<string, Map<string, number>>();
  let trueClicks = 0;
  for (let q = 0; q < requests; q++) {
    const relevance = Array.from({ length: ITEMS }, () => 0.8 * rng.next() ** 2);
    const before = rankBy(relevance, loggedNoise, rng);
    const after = rankBy(relevance, newNoise, rng);
    const requestId = `q${q}`;
    newPositions.set(requestId, new Map());
    relevance.forEach((r, i) => {
      logged.push({ requestId, itemId: `d${i}`, loggedPosition: before[i]!, clicked: rng.next() < p(before[i]!) * r });
      newPositions.get(requestId)!.set(`d${i}`, after[i]!);
      trueClicks += p(after[i]!) * r;
    });
  }
  return { logged, newPositions, trueCtr: trueClicks / (requests * ITEMS), p };
}

describe("counterfactualCtr", () => {
  it("gives the logged CTR when the new ranking is the logged one", () => {
    const { logged } = simulate(1, 300, 1, 0.3, 0.3);
    const same = (requestId: string, itemId: string) => logged.find((l) => l.requestId === requestId && l.itemId === itemId)!.loggedPosition;
    const result = counterfactualCtr(logged, same, { propensities: positionBiasPropensities(1) });
    const clicks = logged.filter((l) => l.clicked).length;
    expect(result.estimate).toBe(clicks / logged.length);
    expect(result.loggedCtr).toBe(result.estimate);
    expect(result.effectiveSampleSize).toBeCloseTo(logged.length, 6);
    expect(result).toMatchObject({ requests: 300, impressions: logged.length, clippedShare: 0 });
    expect(result.ci95[0]).toBeLessThan(result.estimate);
    expect(result.ci95[1]).toBeGreaterThan(result.estimate);
  });

  it("lands near the true CTR of a better new ranking, where the logged CTR and SNIPS do not", () => {
    const { logged, newPositions, trueCtr, p } = simulate(7, 6000, 1, 0.4, 0.05);
    const result = counterfactualCtr(logged, newPositions, { propensities: p });
    const se = (result.ci95[1] - result.ci95[0]) / (2 * 1.959963984540054);
    expect(Math.abs(result.estimate - trueCtr)).toBeLessThan(3 * se);
    expect(result.ci95[0]).toBeLessThan(trueCtr);
    expect(result.ci95[1]).toBeGreaterThan(trueCtr);
    expect(Math.abs(result.estimate - trueCtr) / trueCtr).toBeLessThan(0.05);
    // The problem being solved: the logged CTR is far from the new ranking's.
    expect(Math.abs(result.loggedCtr - trueCtr) / trueCtr).toBeGreaterThan(0.1);
    // Why the estimate divides by impressions: Σ clicked·w / Σ w misses by Σw / impressions.
    let weighted = 0;
    let weights = 0;
    for (const l of logged) {
      const w = p(newPositions.get(l.requestId)!.get(l.itemId)!) / p(l.loggedPosition);
      weights += w;
      if (l.clicked) weighted += w;
    }
    expect(Math.abs(weighted / weights - trueCtr) / trueCtr).toBeGreaterThan(0.15);
  });

  it("also tracks a worse new ranking, with a steeper bias curve given as an array", () => {
    const eta = 1.3;
    const { logged, newPositions, trueCtr } = simulate(11, 6000, eta, 0.05, 0.6);
    const curve = Array.from({ length: ITEMS }, (_, k) => 1 / (k + 1) ** eta);
    const result = counterfactualCtr(logged, newPositions, { propensities: curve, maxWeight: 100 });
    expect(result.ci95[0]).toBeLessThan(trueCtr);
    expect(result.ci95[1]).toBeGreaterThan(trueCtr);
    expect(result.estimate).toBeLessThan(result.loggedCtr);
  });

  it("clips each weight at maxWeight", () => {
    // One click logged at position 10, moved to position 1: raw weight 10^eta.
    const one: LoggedImpression[] = [{ requestId: "q", itemId: "d", loggedPosition: 10, clicked: true }];
    const toTop = () => 1;
    expect(counterfactualCtr(one, toTop, { propensities: positionBiasPropensities(2) })).toMatchObject({ estimate: 10, clippedShare: 1 });
    expect(counterfactualCtr(one, toTop, { propensities: positionBiasPropensities(2), maxWeight: 2 }).estimate).toBe(2);
    const unclipped = counterfactualCtr(one, toTop, { propensities: positionBiasPropensities(0.5) });
    expect(unclipped.estimate).toBeCloseTo(Math.sqrt(10), 12);
    expect(unclipped.clippedShare).toBe(0);
  });

  it("clipped estimates never exceed maxWeight × the logged CTR", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createRng(seed);
      const { logged, newPositions } = simulate(seed, 50, 1 + rng.next() * 2, 0.3, 0.3);
      const maxWeight = 1 + rng.next() * 4;
      const result = counterfactualCtr(logged, newPositions, { propensities: positionBiasPropensities(2), maxWeight });
      expect(result.estimate).toBeLessThanOrEqual(maxWeight * result.loggedCtr + 1e-12);
    }
  });

  it("uses only items both rankings show", () => {
    const logged: LoggedImpression[] = [
      { requestId: "q", itemId: "a", loggedPosition: 1, clicked: true },
      { requestId: "q", itemId: "b", loggedPosition: 2, clicked: true },
      { requestId: "r", itemId: "c", loggedPosition: 1, clicked: false },
    ];
    // The new ranking drops "b" and shows "a" at position 2; request "r" is not re-ranked at all.
    const newPositions = new Map([["q", new Map([["a", 2]])]]);
    const result = counterfactualCtr(logged, newPositions, { propensities: positionBiasPropensities(1) });
    expect(result).toMatchObject({ estimate: 0.5, requests: 1, impressions: 1, loggedCtr: 1 });
    expect(result.ci95.every(Number.isNaN)).toBe(true);
  });

  it("bootstrap interval: repeatable with a seed, and close to the normal one", () => {
    const { logged, newPositions, p } = simulate(3, 2000, 1, 0.4, 0.1);
    const normal = counterfactualCtr(logged, newPositions, { propensities: p });
    const boot = counterfactualCtr(logged, newPositions, { propensities: p, interval: "bootstrap", bootstrapSamples: 400, seed: 9 });
    expect(counterfactualCtr(logged, newPositions, { propensities: p, interval: "bootstrap", bootstrapSamples: 400, seed: 9 }).ci95).toEqual(boot.ci95);
    expect(boot.estimate).toBe(normal.estimate);
    const width = normal.ci95[1] - normal.ci95[0];
    expect(Math.abs(boot.ci95[0] - normal.ci95[0])).toBeLessThan(0.25 * width);
    expect(Math.abs(boot.ci95[1] - normal.ci95[1])).toBeLessThan(0.25 * width);
  });

  it("refuses inputs it cannot use", () => {
    const base: LoggedImpression = { requestId: "q", itemId: "a", loggedPosition: 1, clicked: false };
    const options = { propensities: positionBiasPropensities(1) };
    expect(() => counterfactualCtr([base, base], () => 1, options)).toThrow(/logged twice/);
    expect(() => counterfactualCtr([{ ...base, loggedPosition: 0 }], () => 1, options)).toThrow(/loggedPosition must be a whole number ≥ 1/);
    expect(() => counterfactualCtr([base], () => 1.5, options)).toThrow(/new position/);
    expect(() => counterfactualCtr([base], () => undefined, options)).toThrow(/nothing to estimate/);
    expect(() => counterfactualCtr([base], () => 3, { propensities: [0.9, 0.5] })).toThrow(/propensity of position 3/);
    expect(() => counterfactualCtr([base], () => 1, { ...options, maxWeight: 0 })).toThrow(/maxWeight/);
    expect(() => positionBiasPropensities(-1)).toThrow(/eta/);
  });
});
