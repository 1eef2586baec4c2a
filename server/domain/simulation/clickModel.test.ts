import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRng } from "../random";
import {
  attractiveness, clickModelFor, createSession, createUserPicker, createUsers, DEFAULT_CLICK_MODEL, examinationProbability, expectedClicks,
  resolveClickModel, simulateList, type ServedItem,
} from "./clickModel";

const list = (qualities: number[]): ServedItem[] => qualities.map((quality, i) => ({ id: `item-${i + 1}`, quality, price: 10 + i }));

describe("simulateList", () => {
  it("repeats for a seed and differs across seeds", () => {
    const items = list([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.95]);
    expect(simulateList(items, 3)).toEqual(simulateList(items, 3));
    const outcomes = new Set(Array.from({ length: 20 }, (_, s) => JSON.stringify(simulateList(items, s).clickedPositions)));
    expect(outcomes.size).toBeGreaterThan(3);
  });

  it("emits impressions for every position, then interactions that follow the funnel", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 0, maxLength: 30 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.record({ stopAfterClick: fc.double({ min: 0, max: 1, noNaN: true }), abandonment: fc.double({ min: 0, max: 1, noNaN: true }), positionBiasExponent: fc.double({ min: 0, max: 3, noNaN: true }) }),
        (qualities, seed, params) => {
          const items = list(qualities);
          const { events, clickedPositions, examined } = simulateList(items, seed, params);
          const impressions = events.slice(0, items.length);
          expect(impressions).toEqual(items.map((item, i) => ({ type: "impression", itemId: item.id, position: i + 1 })));
          const rest = events.slice(items.length);
          expect(rest.every((e) => e.type !== "impression")).toBe(true);
          expect(rest.filter((e) => e.type === "click").map((e) => e.position)).toEqual(clickedPositions);
          expect(clickedPositions).toEqual([...clickedPositions].sort((a, b) => a - b));
          expect(new Set(clickedPositions).size).toBe(clickedPositions.length);
          expect(clickedPositions.length).toBeLessThanOrEqual(examined);
          rest.forEach((e, i) => {
            expect(items[e.position - 1]!.id).toBe(e.itemId);
            if (e.type === "add_to_cart") expect(rest[i - 1]).toMatchObject({ type: "click", itemId: e.itemId });
            if (e.type === "purchase") {
              expect(rest[i - 1]).toMatchObject({ type: "add_to_cart", itemId: e.itemId });
              expect(e.revenue).toBe(items[e.position - 1]!.price);
            } else expect(e.revenue).toBeUndefined();
          });
        },
      ),
    );
  });

  it("stops after the first click in a pure cascade", () => {
    const items = list(Array.from({ length: 10 }, () => 0.9));
    for (let seed = 0; seed < 200; seed++) expect(simulateList(items, seed, { stopAfterClick: 1 }).clickedPositions.length).toBeLessThanOrEqual(1);
  });

  it("follows the position-bias curve 1/p^η when users never stop", () => {
    const items = list(Array.from({ length: 8 }, () => 0.6));
    const clicks = new Array<number>(8).fill(0);
    const rng = createRng(11);
    const n = 40_000;
    for (let i = 0; i < n; i++) for (const p of simulateList(items, rng, { stopAfterClick: 0, abandonment: 0, positionBiasExponent: 1 }).clickedPositions) clicks[p - 1]!++;
    const a = attractiveness(0.6, DEFAULT_CLICK_MODEL);
    for (const p of [1, 2, 4, 8]) expect(clicks[p - 1]! / n).toBeCloseTo(a / p, 2);
  });

  it("gets more clicks and more purchases for higher quality", () => {
    const run = (quality: number) => {
      const rng = createRng(5);
      let clicks = 0;
      let purchases = 0;
      for (let i = 0; i < 5000; i++) {
        const { events } = simulateList(list(Array.from({ length: 10 }, () => quality)), rng);
        clicks += events.filter((e) => e.type === "click").length;
        purchases += events.filter((e) => e.type === "purchase").length;
      }
      return { clicks, purchases };
    };
    const low = run(0.3);
    const high = run(0.8);
    expect(high.clicks).toBeGreaterThan(2 * low.clicks);
    expect(high.purchases / high.clicks).toBeGreaterThan(low.purchases / low.clicks);
  });

  it("agrees with the exact expected clicks", () => {
    const items = list([0.9, 0.4, 0.7, 0.2, 0.8, 0.5, 0.6, 0.3, 0.1, 0.65]);
    const rng = createRng(99);
    const n = 30_000;
    let total = 0;
    for (let i = 0; i < n; i++) total += simulateList(items, rng).clickedPositions.length;
    expect(total / n).toBeCloseTo(expectedClicks(items), 1);
  });

  it("rejects parameters that are not probabilities", () => {
    expect(() => resolveClickModel({ stopAfterClick: 1.5 })).toThrow(/stopAfterClick/);
    expect(() => resolveClickModel({ cart: [0.1, 2] })).toThrow(/cart/);
    expect(() => resolveClickModel({ positionBiasExponent: -1 })).toThrow(/positionBiasExponent/);
    expect(examinationProbability(1, DEFAULT_CLICK_MODEL)).toBe(1);
  });
});

describe("synthetic users and sessions", () => {
  const categories = ["books", "home", "toys"];

  it("are deterministic per seed with unique keys and plausible mixes", () => {
    const users = createUsers(3000, 4, categories);
    expect(createUsers(3000, 4, categories)).toEqual(users);
    expect(new Set(users.map((u) => u.userKey)).size).toBe(3000);
    const share = (f: (u: (typeof users)[number]) => boolean) => users.filter(f).length / users.length;
    expect(share((u) => u.device === "mobile")).toBeCloseTo(0.6, 1);
    expect(share((u) => u.returning)).toBeCloseTo(0.4, 1);
    expect(users.every((u) => u.interests.length >= 1 && u.interests.every((c) => categories.includes(c)))).toBe(true);
    expect(users.reduce((s, u) => s + u.activity, 0) / users.length).toBeCloseTo(1, 0);
  });

  it("draws active users more often", () => {
    const users = createUsers(50, 1, categories);
    const pick = createUserPicker(users);
    const rng = createRng(2);
    const counts = new Map<string, number>();
    for (let i = 0; i < 50_000; i++) {
      const u = pick(rng);
      counts.set(u.userKey, (counts.get(u.userKey) ?? 0) + 1);
    }
    const byActivity = [...users].sort((a, b) => b.activity - a.activity);
    expect(counts.get(byActivity[0]!.userKey)!).toBeGreaterThan(counts.get(byActivity.at(-1)!.userKey) ?? 0);
  });

  it("sessions search the user's interests; mobile users scan less deep", () => {
    const [user] = createUsers(1, 9, categories);
    const rng = createRng(3);
    const queriesFor = (c: string) => [c, `${c}-word`];
    for (let i = 0; i < 50; i++) {
      const session = createSession(user!, i, rng, queriesFor);
      expect(session.sessionKey).toBe(`${user!.userKey}-s${i}`);
      expect(session.queries.length).toBeGreaterThanOrEqual(1);
      expect(session.queries.length).toBeLessThanOrEqual(4);
      expect(session.queries.every((q) => user!.interests.some((c) => q.startsWith(c)))).toBe(true);
    }
    const base = { returning: false, clickBias: 0 } as const;
    expect(clickModelFor({ ...base, device: "mobile" }).positionBiasExponent).toBeGreaterThan(clickModelFor({ ...base, device: "desktop" }).positionBiasExponent);
    const eager = clickModelFor({ ...base, device: "desktop", clickBias: 1 });
    expect(attractiveness(0.5, eager)).toBeGreaterThan(attractiveness(0.5, clickModelFor({ ...base, device: "desktop" })));
  });
});
