import type { DemoItem } from "../../demo/catalog";
import type { Rng } from "../random";
import { seedOfKey } from "../hashing";

// The simulator's own retrieval over the demo catalog (deterministic, identical to what the server
// seeded): a query is a category name or a word of the titles; the matching items, minus blocked
// ones, are ordered by a noisy retrieval score — fixed per (query, item), optionally correlated
// with the hidden quality, plus optional per-request jitter — and the top `size` are returned with
// rank-based retrieval scores in (0, 1] (as the console's playground retrieval does).

export interface RetrievedCandidate {
  item: DemoItem;
  retrievalScore: number;
}

export interface CatalogIndex {
  byId: ReadonlyMap<string, DemoItem>;
  /** Every query that retrieves something: categories, then title words. */
  queries: readonly string[];
  /** Queries for a category: the category name first, then the words of its items' titles. */
  queriesFor(category: string): readonly string[];
  /** Items matching a query (lower-cased), blocked items excluded. */
  match(query: string): readonly DemoItem[];
}

const wordsOf = (title: string) => title.toLowerCase().split(/\s+/).filter(Boolean);

export function buildCatalogIndex(items: readonly DemoItem[], blockedFlags: readonly string[] = ["recalled", "adult"]): CatalogIndex {
  const byId = new Map(items.map((i) => [i.id, i]));
  const byQuery = new Map<string, DemoItem[]>();
  const perCategory = new Map<string, Map<string, number>>();
  const add = (key: string, item: DemoItem) => {
    const list = byQuery.get(key);
    if (list) list.push(item);
    else byQuery.set(key, [item]);
  };
  for (const item of items) {
    if (item.safetyFlags.some((f) => blockedFlags.includes(f))) continue;
    add(item.category, item);
    const words = new Set(wordsOf(item.title));
    for (const word of words) if (word !== item.category) add(word, item);
    const counts = perCategory.get(item.category) ?? new Map<string, number>();
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
    perCategory.set(item.category, counts);
  }
  const categories = [...perCategory.keys()].sort();
  // A category's words: those of its product nouns first (most frequent within the category first).
  const categoryQueries = new Map(
    categories.map((c) => {
      const counts = perCategory.get(c)!;
      const words = [...counts.keys()].filter((w) => w !== c).sort((a, b) => counts.get(b)! - counts.get(a)! || a.localeCompare(b));
      const specific = words.filter((w) => (byQuery.get(w)?.length ?? 0) === counts.get(w));
      return [c, [c, ...specific, ...words.filter((w) => !specific.includes(w))]] as const;
    }),
  );
  const queries = [...categories, ...[...byQuery.keys()].filter((q) => !perCategory.has(q)).sort()];
  return {
    byId,
    queries,
    queriesFor: (category) => categoryQueries.get(category) ?? [],
    match: (query) => byQuery.get(query.trim().toLowerCase()) ?? [],
  };
}

/** A uniform in [0, 1) fixed per (query, item id): FNV-1a, then a murmur3 finaliser. */
export function stableUniform(query: string, id: string): number {
  return seedOfKey(`${query}\u0000${id}`) / 4294967296;
}

export interface RetrieveOptions {
  /** Candidates returned; default 50. */
  size?: number;
  /**
   * Weight of the hidden quality in the retrieval score (the rest is noise). Default 0: retrieval
   * matches text and knows nothing of quality, like the console's playground retrieval.
   */
  qualityWeight?: number;
  /** Standard deviation of per-request noise (needs `rng`); default 0.05. */
  jitter?: number;
  rng?: Rng;
}

export function retrieve(index: CatalogIndex, query: string, options: RetrieveOptions = {}): RetrievedCandidate[] {
  const size = options.size ?? 50;
  const w = options.qualityWeight ?? 0;
  const jitter = options.rng ? (options.jitter ?? 0.05) : 0;
  const q = query.trim().toLowerCase();
  const scored = index.match(q).map((item) => ({
    item,
    raw: w * item.quality + (1 - w) * stableUniform(q, item.id) + (jitter > 0 ? jitter * options.rng!.normal() : 0),
  }));
  scored.sort((a, b) => b.raw - a.raw || (a.item.id < b.item.id ? -1 : 1));
  const top = scored.slice(0, size);
  return top.map(({ item }, i) => ({ item, retrievalScore: Math.round((1 - i / top.length) * 1e4) / 1e4 }));
}
