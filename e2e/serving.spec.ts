import { expect, test } from "./fixtures";

// An engineer sends a request from the Debug page and reads the response; a caller in another
// language uses the plain HTTP endpoint, then reports outcomes; Prometheus scrapes the metrics.

test("the Debug page sends a rerank request and shows its response", async ({ page, request }) => {
  // Send, open by id at two widths, then drift: longer than most journeys on a shared machine.
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/dashboards/debug");
  await page.getByLabel("Query (retrieval stand-in)").fill("");
  await page.getByLabel("Candidates").fill("200");
  await page.getByRole("button", { name: "Rerank" }).click();
  const result = page.getByTestId("rerank-result");
  await expect(result).toBeVisible();
  await expect(page.getByTestId("fallback-badge")).toHaveText("served by the model");
  await expect(result.getByText("search-ranker v2 (production)")).toBeVisible();
  await expect(page.getByTestId("served-items").locator("tbody tr")).toHaveCount(10);
  await expect(page.getByTestId("removed-items")).toContainText("blocked:flag=");
  await page.screenshot({ path: "e2e/screenshots/debug-response-desktop.png", fullPage: true });
  // A request sent from this page is always in the scoring sample: opened by id, it shows the features the model saw.
  const requestId = (await result.getByText(/^request id /).textContent())!.match(/request id (\S+)/)![1]!;
  await result.getByTestId("open-sent-request").click();
  await expect(page.getByTestId("inspected-id")).toHaveText(requestId);
  await expect(page.getByTestId("inspected-features").locator("tbody tr")).toHaveCount(10);
  await expect(page.getByTestId("inspected-features").locator("thead")).toContainText("popularity");
  // Sent from the console: the request id is nobody's own. (Whether its feature reads met their
  // deadline depends on the machine's load: a cold cache on a busy machine marks it, with a badge.)
  await expect(page.getByTestId("inspected-caller")).toHaveText("the server or the console (shared)");
  await page.screenshot({ path: "e2e/screenshots/debug-by-id-features.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/debug-by-id-features-390.png", fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  // Pasted from a complaint: an unknown id says so.
  await page.getByLabel("Request id").fill("no-such-request");
  await page.getByRole("button", { name: "Open", exact: true }).click();
  await expect(page.getByTestId("request-not-found")).toContainText('logged request "no-such-request" does not exist');
  // Drift and freshness of the serving model's item features, from the logged requests (this one included).
  // Enough scored rows for a level (≥ 100 sampled at DRIFT_ROW_RATE 0.04: 40 requests × 100 candidates ≈ 160).
  const candidates = Array.from({ length: 100 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 100 }));
  for (let i = 0; i < 40; i++) expect((await request.post("/api/v1/rerank", { data: { surface: "search", topK: 5, userKey: `drift-${i}`, candidates } })).status()).toBe(200);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("drift-table").getByRole("row", { name: /popularity/ })).toContainText(/\d\.\d{3} ± \d\.\d{3}.*(too few rows|stable|warn|alert|unknown|no PSI)/, { timeout: 8000 });
  }).toPass({ timeout: 45_000 });
  // A level is judged against sampling noise: the PSI shows its noise level and the χ² test's p.
  await expect(page.getByTestId("drift-table").getByRole("row", { name: /popularity/ })).toContainText(/\d\.\d{3} (stable|warn|alert) \(\d\.\d{3}, p (< 0\.001|\d\.\d{3})\)/);
  await page.getByTestId("feature-health").screenshot({ path: "e2e/screenshots/debug-drift.png" });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId("feature-health").screenshot({ path: "e2e/screenshots/debug-drift-390.png" });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("POST /api/v1/rerank serves, POST /api/v1/events records, /api/metrics counts", async ({ request }) => {
  const candidates = Array.from({ length: 40 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 40 }));
  const response = await request.post("/api/v1/rerank", { data: { surface: "search", topK: 5, userKey: "e2e", candidates } });
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.items).toHaveLength(5);
  expect(body.modelVersion.name).toBe("search-ranker");
  const events = await request.post("/api/v1/events", {
    data: { events: [{ eventId: `e2e-${Date.now()}`, requestId: body.requestId, type: "click", itemId: body.items[0].id, position: 1 }] },
  });
  expect(await events.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  const bad = await request.post("/api/v1/rerank", { data: { surface: "search", topK: 5, candidates: [{ id: "a" }, { id: "a" }] } });
  expect(bad.status()).toBe(400);
  expect((await bad.json()).error.message).toContain('candidates[1].id: "a" duplicates candidates[0].id');
  const metrics = await (await request.get("/api/metrics")).text();
  expect(metrics).toMatch(/rerank_requests_total\{surface="search",outcome="model"\} [1-9]/);
  expect(metrics).toContain("rerank_telemetry_buffered_rows");
});
