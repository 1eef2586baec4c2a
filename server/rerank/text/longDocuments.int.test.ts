import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../auth/apiKeys";
import { getDb } from "../../db/client";
import { seedDemo } from "../../db/seed";
import { DEMO_CROSS_ENCODER_NAME } from "../../demo/crossEncoder";
import { closeCrossEncoders } from "../../inference/crossEncoder/pool";
import { openModel, scoreTexts, type CrossEncoderHandle } from "../../inference/sessions";
import { metrics } from "../../telemetry/metrics";
import { startTestFrontDoor, type TestFrontDoor } from "../../testing/frontDoor";
import { breakerStates } from "../breakers";

// Break test (HIGH): two callers sending long documents opened the demo text surface's circuit for
// everyone. The breaker judged a cross-encoder's timeout by its documents' count against a cost per
// document learned on one-word documents, so 400 documents of 60 words (fewer than the budget was
// "sized for") timing out counted as the model's fault, from two callers. A timeout of work the budget
// does not allow — its characters tokenised and padded tokens at the model's measured cost — is its
// sender's own result. Real PostgreSQL, the real demo cross-encoder on the pool's one thread.

let frontDoor: TestFrontDoor;
const keys: Record<"a" | "b" | "c", Record<string, string>> = { a: {}, b: {}, c: {} };
let handle: CrossEncoderHandle;
let budgetMs = 500;

const WORDS = ["lamp", "desk", "bright", "warm", "light", "office", "home", "modern", "steel", "wood", "brass", "shade"];
const words = (n: number, seed: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7 + seed) % WORDS.length]).join(" ");
const LAMPS = Array.from({ length: 1000 }, (_, k) => ({ id: `lamp-${k}`, text: "lamp" }));
const LONG = Array.from({ length: 1000 }, (_, k) => ({ id: `doc-${k}`, text: words(60, k) }));

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  const owner = await db.user.upsert({ where: { email: "textcost@rerank.test" }, create: { email: "textcost@rerank.test", name: "Text cost", roles: ["admin"] }, update: {} });
  for (const name of ["a", "b", "c"] as const) keys[name] = { authorization: `Bearer ${(await createApiKey(db, { name: `textcost-${name}`, kind: "serving" }, owner.id)).key}` };
  const version = await db.modelVersion.findFirstOrThrow({ where: { model: { name: DEMO_CROSS_ENCODER_NAME }, version: 1 }, select: { id: true } });
  handle = (await openModel({ versionId: version.id })) as CrossEncoderHandle;
  // The budget between what the two kinds of request cost on this machine (a fixed one was too tight
  // for the one-word requests on a loaded machine, and too loose for the long ones on a quiet one):
  // the geometric mean of their measured run times (medians of 3), so each is a few times away from it.
  const median = async (query: string, documents: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push((await scoreTexts(handle, query, documents)).modelMs);
    return times.sort((x, y) => x - y)[1]!;
  };
  const lampMs = await median("", LAMPS.map((c) => c.text));
  const longMs = await median(words(40, 0), LONG.map((c) => c.text));
  budgetMs = Math.max(50, Math.round(Math.sqrt(lampMs * longMs)));
  await db.surface.update({ where: { key: "product-qa" }, data: { timeoutMs: budgetMs } });
  frontDoor = await startTestFrontDoor();
}, 120_000);
afterAll(async () => {
  await frontDoor?.close();
  await closeCrossEncoders();
});

async function rerank(key: Record<string, string>, candidates: Array<{ id: string; text: string }>, query?: string) {
  const response = await frontDoor.post("/api/v1/rerank", { surface: "product-qa", topK: 3, candidates, ...(query ? { context: { query } } : {}) }, { headers: key });
  expect(response.status).toBe(200);
  return (await response.json()) as { fallback: { used: boolean; reason: string | null } };
}

/** Waits until the pool's thread has finished what it was given (a run its caller stopped waiting for goes on). */
const poolIdle = () => scoreTexts(handle, "x", ["x"]);

describe("long documents and the text circuit", () => {
  it("two callers' timeouts of long documents count against them only: a third caller is still served by the model", async () => {
    const surface = () => breakerStates().find((b) => b.key.startsWith("product-qa|") && b.key.endsWith(`|${budgetMs}`));
    // Key C: 1,000 one-word documents, served within the budget: the model's measured cost is low,
    // and a budget sized by documents is sized for at least 1,000 of them. (At most 4 tries, stopping at the
    // first served: fewer than the 5 calls that could open C's own circuit.)
    let served = false;
    const tries: Array<string | null> = [];
    for (let i = 0; i < 4 && !served; i++) {
      const { fallback } = await rerank(keys.c, LAMPS);
      tries.push(fallback.reason);
      served = !fallback.used;
      await poolIdle();
    }
    expect(served, tries.join()).toBe(true);
    // Keys A and B: as many documents, of 60 words (each within limits, cut to 32 tokens) and a 40-word query,
    // one at a time (so each run starts: a request queued behind a running one is withdrawn, load counted nowhere).
    const long = LONG;
    const reasons: Array<string | null> = [];
    for (let i = 0; i < 4; i++) {
      for (const key of [keys.a, keys.b]) {
        reasons.push((await rerank(key, long, words(40, i))).fallback.reason);
        await poolIdle();
      }
    }
    expect(surface()).toMatchObject({ open: false, halfOpen: false });
    // Not vacuous: their work passed the budget.
    expect(reasons.filter((r) => r === "timeout").length, `budget ${budgetMs} ms: ${reasons.join()}`).toBeGreaterThanOrEqual(3);
    expect((await metrics.breakerState.get()).values.filter((v) => v.labels.surface === "product-qa" && v.value === 1)).toEqual([]);
    // Key C's next 3-document requests are served by the model.
    for (let i = 0; i < 3; i++) {
      const answer = await rerank(keys.c, [{ id: "1", text: "Bright Lamp home" }, { id: "2", text: "Classic Olive Oil grocery" }, { id: "3", text: "Desk Lamp office" }], "lamp");
      expect(answer.fallback.reason).not.toBe("circuit_open");
    }
  }, 120_000);
});
