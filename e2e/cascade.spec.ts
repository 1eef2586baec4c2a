import { expect, test } from "./fixtures";

// An ML engineer gives the search surface a stage 2 on the Overview (the candidate v3 rescoring
// the top 10 of production's order), sends a query from the Debug page, and sees both stages: the
// waterfall's stage 1 and stage 2 bars, which items stage 2 rescored. Then removes stage 2 again
// (the journeys share one database).

const removeStage2 = { json: { surface: "search", stage2: null, reason: "e2e cascade: clean up" } };

test.afterAll(async ({ request, baseURL }) => {
  await request.post("/api/trpc/surfaces.configureStage2", { headers: { origin: baseURL! }, data: removeStage2 });
});

test("a cascade surface: stage 2 configured on the Overview, both stages on the Debug page", async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto("/");
  const cell = page.getByTestId("stage2-search");
  await expect(cell).toContainText("none", { timeout: 30_000 });
  await cell.getByRole("button", { name: "Edit stage 2 of search" }).click();
  const dialog = page.getByRole("dialog", { name: "Stage 2 of search" });
  await dialog.getByRole("textbox", { name: "Model" }).click();
  await page.getByRole("option", { name: "search-ranker", exact: true }).click();
  await dialog.getByRole("textbox", { name: "Alias" }).click();
  await page.getByRole("option", { name: "shadow (v3)" }).click();
  await dialog.getByLabel("Rerank count").fill("10");
  await dialog.getByLabel("Budget (ms)").fill("500");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: v3 rescores the top 10");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(cell).toContainText("search-ranker shadow · top 10 · 500 ms");

  await page.goto("/dashboards/debug");
  await page.getByLabel("Query (retrieval stand-in)").fill("lamp");
  await page.getByLabel("Top k", { exact: true }).fill("15");
  await page.getByRole("button", { name: "Rerank" }).click();
  const result = page.getByTestId("rerank-result");
  await expect(result.getByTestId("stage2-status")).toHaveText("stage 2: search-ranker v3 (shadow) rescored the top 10", { timeout: 30_000 });
  // The waterfall names both scoring stages.
  const waterfall = result.locator(".recharts-yAxis");
  await expect(waterfall).toContainText("stage 1");
  await expect(waterfall).toContainText("stage 2");
  // Stage 2's ten lead the list; the rest are stage 1's.
  const stages = await result.getByTestId("item-stage").allTextContents();
  expect(stages).toHaveLength(15);
  expect(stages.slice(0, 10)).toEqual(new Array(10).fill("stage 2"));
  expect(stages.slice(10)).toEqual(new Array(5).fill("stage 1"));
  const raw = JSON.parse((await result.locator("pre, code").last().textContent())!) as { stage2: { status: string; reranked: string[] }; timings: Record<string, number> };
  expect(raw.stage2.status).toBe("served");
  expect(raw.stage2.reranked).toHaveLength(10);
  expect(raw.timings.rescore).toBeGreaterThan(0);
  await page.screenshot({ path: "e2e/screenshots/cascade-debug.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(result.getByTestId("stage2-status")).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/cascade-debug-390.png", fullPage: true });

  // The Overview at phone width, then stage 2 removed through the same dialog.
  await page.goto("/");
  await expect(cell).toContainText("search-ranker shadow");
  await page.screenshot({ path: "e2e/screenshots/cascade-overview-390.png", fullPage: true });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await cell.getByRole("button", { name: "Edit stage 2 of search" }).click();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: done with the cascade");
  await dialog.getByRole("button", { name: "Remove stage 2" }).click();
  await expect(cell).toContainText("none");
});
