import type { APIRequestContext, Page } from "@playwright/test";
import { expect, test } from "./fixtures";

// Rollouts and the registry on-call can trust (issue #14): the serving history of search answers
// what served when, and rolls production back to a version two moves back; a canary's judged step
// shows every metric's verdict, and the levers pause and abort it.

const candidates = Array.from({ length: 40 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 40 }));
const rank = async (request: APIRequestContext, userKey = "e2e-rollouts") => {
  const response = await request.post("/api/v1/rerank", { data: { surface: "search", topK: 5, userKey, candidates } });
  expect(response.status()).toBe(200);
  return response.json();
};
const trpcQuery = async (request: APIRequestContext, path: string, input: unknown) =>
  (await (await request.get(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`)).json()).result.data.json;
const trpcMutation = async (request: APIRequestContext, path: string, input: unknown) => {
  const response = await request.post(`/api/trpc/${path}`, { data: { json: input } });
  expect(response.status(), await response.text()).toBe(200);
  return (await response.json()).result.data.json;
};
const narrow = async (page: Page, path: string) => {
  await page.setViewportSize({ width: 390, height: 1400 });
  await page.screenshot({ path, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 1100 });
};

test("roll search back to a version two moves back, from the serving history", async ({ page, request }) => {
  const model = await trpcQuery(request, "models.get", { name: "search-ranker" });
  const id = (v: number) => model.versions.find((x: { version: number }) => x.version === v).id;
  await trpcMutation(request, "models.setAlias", { versionId: id(3), alias: "production", reason: "e2e: ship v3" });
  // The page asks to the second: the next whole second after the ship is one at which v3 served.
  const shippedAt = new Date(Math.ceil(Date.now() / 1000) * 1000);
  await new Promise((resolve) => setTimeout(resolve, shippedAt.getTime() - Date.now() + 50));
  await trpcMutation(request, "models.setAlias", { versionId: id(1), alias: "production", reason: "e2e: try v1" });
  // Re-applying what serves changes nothing: v3 stays one move back, v2 two.
  await trpcMutation(request, "models.setAlias", { versionId: id(1), alias: "production", reason: "e2e: re-apply v1" });
  expect((await rank(request)).modelVersion.version).toBe(1);

  await page.setViewportSize({ width: 1280, height: 1100 });
  await page.goto("/history?surface=search");
  const versions = page.getByTestId("history-versions");
  await expect(versions.getByTestId("stint-v1").first()).toContainText("serving");
  await expect(versions.getByRole("button", { name: "Roll back to v3 (one-click target)" })).toBeVisible();
  await expect(page.getByTestId("history-rows")).toContainText("v1 again (no change)");

  // What served just after v3 shipped.
  const local = new Date(shippedAt.getTime() - shippedAt.getTimezoneOffset() * 60_000);
  await page.getByTestId("serving-at-input").fill(local.toISOString().slice(0, 19));
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("serving-at")).toContainText("search-ranker production → v3");

  await versions.getByRole("button", { name: /^Roll back to v2/ }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("confirm-changes")).toContainText("search-ranker production: v1 → v2");
  await expect(dialog.getByTestId("rollback-reach")).toContainText("surfaces affected: search; also serves home-feed");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: v3 and v1 both regressed");
  await page.screenshot({ path: "e2e/screenshots/history-rollback-confirm.png" });
  await dialog.getByRole("button", { name: "Roll back to v2" }).click();
  await expect(versions.getByTestId("stint-v2").first()).toContainText("serving");
  expect((await rank(request)).modelVersion.version).toBe(2);
  await expect(page.getByTestId("history-rows").locator("tr").nth(1)).toContainText("rollback");
  await expect(page.getByTestId("history-rows")).toContainText("rollback: e2e: v3 and v1 both regressed");
  // The row names every surface the rollback moved, and home-feed's history shows it too.
  await expect(page.getByTestId("history-rows").locator("tr").nth(1).getByTestId("history-row-surfaces")).toContainText("home-feed");
  await page.screenshot({ path: "e2e/screenshots/history.png", fullPage: true });
  await narrow(page, "e2e/screenshots/history-390.png");
  await page.goto("/history?surface=home-feed");
  await expect(page.getByTestId("history-rows")).toContainText("rollback: e2e: v3 and v1 both regressed");
});

test("a canary's judged step shows each metric's verdict; pause and abort it", async ({ page, request, baseURL }) => {
  await trpcMutation(request, "rollouts.start", { surface: "search", version: 3, steps: [20, 50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "e2e: canary v3" });
  for (let i = 0; i < 600; i++) await rank(request, `e2e-steps-${i}`);
  // Judge now rather than wait for the queued tick (either judges step 1 once).
  await expect(async () => {
    await trpcMutation(request, "rollouts.analyse", null);
    const [rollout] = await trpcQuery(request, "rollouts.list", { surface: "search", limit: 1 });
    expect(rollout.history.length).toBe(1);
  }).toPass({ timeout: 30_000 });

  await page.setViewportSize({ width: 1280, height: 1100 });
  await page.goto("/dashboards/oncall");
  const strip = page.getByTestId("rollout-search");
  const step = strip.getByTestId("rollout-step-0");
  // The overview reads every surface's log: on a busy machine it takes a while to load.
  await expect(step).toContainText("step 1 · 20%", { timeout: 45_000 });
  await expect(step).toContainText("advance");
  await expect(step.getByTestId("verdict-latency")).toContainText("latency per request: pass");
  await expect(step.getByTestId("verdict-fallback_rate")).toContainText("fallback rate: pass");
  await expect(step.getByTestId("verdict-ctr")).toContainText("no data");
  await expect(strip).toContainText("canary 50%");
  // Each step waits for its samples only until its deadline (#14 break test), and the strip says so.
  await expect(strip.getByTestId("rollout-deadline")).toContainText("(120 min per step): past it, latency and fallbacks without 100 requests per arm, or CTR without its 20,000 impressions per arm where the surface sends outcome events, pause the canary for on-call");

  const dialog = page.getByRole("dialog");
  // This start was not approved (none was needed): the dialog does not claim it was, and names every surface the alias move reaches.
  await strip.getByRole("button", { name: "Promote now" }).click();
  await expect(dialog).toContainText("no approval needed: the canary's start was not approved, and no surface this promotion reaches requires approval");
  await expect(dialog).toContainText("surfaces affected: search, home-feed");
  await expect(dialog).toContainText("the canary alias canary@search is cleared");
  await page.screenshot({ path: "e2e/screenshots/rollout-promote-confirm.png" });
  await narrow(page, "e2e/screenshots/rollout-promote-confirm-390.png");
  await page.setViewportSize({ width: 1280, height: 1100 });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toHaveCount(0);

  // home-feed (search-ranker production serves it too) becomes guarded after the canary started: the
  // promotion is refused, and the same dialog files the canary_promote request instead.
  const guard = (required: boolean) => page.request.post("/api/trpc/approvals.setRequired", { headers: { origin: baseURL! }, data: { json: { surface: "home-feed", required, reason: "e2e: guard home-feed mid-canary" } } });
  expect((await guard(true)).status()).toBe(200);
  try {
    await strip.getByRole("button", { name: "Promote now" }).click();
    await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: promote v3 now");
    await dialog.getByRole("button", { name: "Promote now" }).click();
    await expect(dialog.getByTestId("promote-needs-approval")).toContainText('surface "home-feed" requires approval for this promotion');
    await page.screenshot({ path: "e2e/screenshots/rollout-promote-needs-approval.png" });
    await narrow(page, "e2e/screenshots/rollout-promote-needs-approval-390.png");
    await dialog.getByRole("button", { name: "Request approval" }).click();
    await expect(dialog).toHaveCount(0);
    const pending = await trpcQuery(request, "approvals.list", { status: "pending" });
    const filed = pending.find((r: { kind: string }) => r.kind === "canary_promote");
    expect(filed?.summary).toBeTruthy();
    // Not promoted: the rollout still runs.
    expect((await trpcQuery(request, "rollouts.list", { surface: "search", limit: 1 }))[0].status).toBe("running");
    // Only a signed-in person cancels a request: the page's admin, not the API key.
    const cancelled = await page.request.post("/api/trpc/approvals.cancel", { headers: { origin: baseURL! }, data: { json: { id: filed.id } } });
    expect(cancelled.status(), await cancelled.text()).toBe(200);
  } finally {
    expect((await guard(false)).status()).toBe(200);
  }

  await strip.getByRole("button", { name: "Pause" }).click();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: hold at 50%");
  await dialog.getByRole("button", { name: "Pause" }).click();
  await expect(strip).toContainText("paused");
  await expect(strip.getByRole("button", { name: "Resume" })).toBeVisible();
  await strip.scrollIntoViewIfNeeded();
  await page.screenshot({ path: "e2e/screenshots/rollout-steps.png", fullPage: true });
  await narrow(page, "e2e/screenshots/rollout-steps-390.png");

  await strip.getByRole("button", { name: "Abort canary" }).click();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: done");
  await dialog.getByRole("button", { name: "Abort canary" }).click();
  await expect(strip.getByTestId("rollout-last")).toContainText("aborted");
  expect((await rank(request, "e2e-steps-0")).modelVersion).toMatchObject({ alias: "production", version: 2 });
});
