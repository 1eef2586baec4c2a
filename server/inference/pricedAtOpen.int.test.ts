// A version is priced when it is opened (real registry, real onnxruntime, the real cross-encoder
// worker pool): its breakers start from that cost. Before, a new version whose runs all timed out
// stayed "unpriced" (no successful run), so its timeouts counted against each caller only and the
// surface's circuit never opened: every new caller paid five timeouts before its own circuit opened.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { DEMO_CROSS_ENCODER_NAME } from "../demo/crossEncoder";
import { breakerStates, pricedRunOf, scoringBreaker } from "../rerank/breakers";
import { closeCrossEncoders } from "./crossEncoder/pool";
import { COST_ROWS, openModel } from "./sessions";

beforeAll(async () => {
  await seedDemo(getDb());
});
afterAll(async () => {
  await closeCrossEncoders();
});

const versionOf = async (model: string) => (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: model } }, orderBy: { version: "desc" } })).id;

describe("a version is priced when opened", () => {
  it("a cross-encoder: its pricing run's characters, padded tokens and ms; its breaker is sized from the start", async () => {
    const handle = await openModel({ versionId: await versionOf(DEMO_CROSS_ENCODER_NAME) });
    expect(handle.kind).toBe("cross-encoder");
    if (handle.kind !== "cross-encoder") return;
    expect(handle.priced).not.toBeNull();
    // Ten documents of ~300 characters and the query: every character tokenised, ten rows padded to one width.
    expect(handle.priced!.chars).toBeGreaterThan(10 * 250);
    expect(handle.priced!.paddedTokens % 10).toBe(0);
    // (The demo model cuts each pair at its maximum length: 32 tokens.)
    expect(handle.priced!.paddedTokens).toBeGreaterThanOrEqual(10 * 16);
    expect(handle.priced!.modelMs).toBeGreaterThan(handle.priced!.tokenizeMs);
    scoringBreaker("t-priced-ce", handle, 200);
    const sized = breakerStates().find((b) => b.key.startsWith(`t-priced-ce|${handle.versionId}|`))!.sizedFor;
    expect(Number.isFinite(sized.chars)).toBe(true);
    expect(Number.isFinite(sized.paddedTokens)).toBe(true);
    expect(sized.paddedTokens).toBeGreaterThan(0);
  }, 60_000);

  it("a tabular model: its 100 default rows' cost (costMs) prices its breakers", async () => {
    const handle = await openModel({ versionId: await versionOf("search-ranker") });
    expect(handle.kind).toBe("tabular");
    if (handle.kind !== "tabular") return;
    expect(handle.costMs).toBeGreaterThan(0);
    expect(pricedRunOf(handle)).toEqual({ rows: { units: COST_ROWS, ms: handle.costMs } });
    scoringBreaker("t-priced-tab", handle, 30);
    const sized = breakerStates().find((b) => b.key.startsWith(`t-priced-tab|${handle.versionId}|`))!.sizedFor;
    expect(sized.rows).toBe(Math.floor(30 / (handle.costMs / COST_ROWS)));
  }, 60_000);
});
