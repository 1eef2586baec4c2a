import { unsafeUniformIntDistribution, xoroshiro128plus } from "pure-rand";

/** A seeded random source (pure-rand's xoroshiro128+), so demo data and simulations repeat exactly. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function createRng(seed: number): Rng {
  const gen = xoroshiro128plus(seed);
  const next = () => unsafeUniformIntDistribution(0, 0x7fffffff, gen) / 0x80000000;
  return {
    next,
    int: (min, max) => unsafeUniformIntDistribution(min, max, gen),
    pick: (items) => items[unsafeUniformIntDistribution(0, items.length - 1, gen)]!,
    normal: () => {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}
