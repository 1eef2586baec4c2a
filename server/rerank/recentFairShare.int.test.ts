import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callerOfKey } from "../auth/principal";
import { setEnv } from "../config";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { rerank } from "./pipeline";
import { recentKey, recentRequests, resetRecentRequests } from "./recent";

// Break test (Medium): another API key wiped a caller's requestId memory in ~20 s. K1 served a request
// under "victim-X" (a repeat with other candidates: 409); K2 then sent 140 requests of 1,000 long-id
// candidates (~600 KB responses), which pushed K1's response out of the one LRU every caller shared;
// K1's conflicting repeat was then served and logged (200), and its true retry refused (409). The
// recent-response cache is now shared fairly among callers (recent.ts recentRequests). Here the same at
// a smaller scale: the smallest byte bound (1 MiB), a few ~600 KB responses from K2, real PostgreSQL.

const K1 = callerOfKey("fair-share-k1");
const K2 = callerOfKey("fair-share-k2");
const ids = (...n: number[]) => n.map((i) => ({ id: `sku-${String(i).padStart(5, "0")}` }));
/** One flood request: 1,000 unknown candidates with 250-character two-byte ids, all served (~600 KB of JSON, ~1.2 MB on the heap). */
const flood = (j: number, requestId?: string) => ({
  surface: "search",
  topK: 1000,
  ...(requestId ? { requestId } : {}),
  candidates: Array.from({ length: 1000 }, (_, i) => ({ id: `${"ж".repeat(245)}${j}-${i}` })),
});

beforeAll(async () => {
  await seedDemo(getDb());
  setEnv("RECENT_RESPONSES_MAX_BYTES", String(1024 * 1024));
  resetRecentRequests();
}, 120_000);

afterAll(() => {
  setEnv("RECENT_RESPONSES_MAX_BYTES", undefined);
  resetRecentRequests();
});

describe("one caller's traffic cannot shorten another caller's recent-response window", () => {
  it("K2's flood of large responses leaves K1's requestId remembered: the conflicting repeat stays a 409, the retry a replay", async () => {
    const step1 = { surface: "search", topK: 2, requestId: "victim-X", candidates: ids(41, 42, 43) };
    const step2 = { surface: "search", topK: 1, requestId: "victim-X", candidates: ids(49) };
    const first = await rerank(step1, { caller: K1 });
    await expect(rerank(step2, { caller: K1 })).rejects.toThrow('requestId: "victim-X" is already used for a different request');
    // A response of K1's whose id the server generated: what its events are checked against before the log is written.
    const generated = await rerank({ surface: "search", topK: 2, candidates: ids(44, 45, 46) }, { caller: K1 });

    // K2 sends far more than the whole bound, with ids of its own and without.
    const bound = 1024 * 1024;
    for (let j = 0; j < 8; j++) {
      const response = await rerank(flood(j, j % 2 ? `flood-${j}` : undefined), { caller: K2 });
      expect(response.items).toHaveLength(1000);
      expect(recentRequests().calculatedSize).toBeLessThanOrEqual(bound);
    }
    // K1's memory is whole: the conflicting repeat is still a 409 (was: served and logged, 200), its
    // true retry the first response again (was: 409), and the response its events need still here.
    await expect(rerank(step2, { caller: K1 })).rejects.toThrow('requestId: "victim-X" is already used for a different request');
    expect(await rerank(step1, { caller: K1 })).toEqual(first);
    expect(recentRequests().has(recentKey(generated.requestId, null))).toBe(true);
    // K2's newest response is kept (the rest of the bound is its to use): the flood evicted its own.
    expect(recentRequests().has(recentKey("flood-7", K2))).toBe(true);
    expect(recentRequests().has(recentKey("flood-1", K2))).toBe(false);
    expect(recentRequests().heldBy(K2).bytes).toBeGreaterThan(bound / 2);
  }, 120_000);
});
