import { expect, test } from "./fixtures";

// An ML engineer looks at the demo cascade (product-search: search-ranker over every candidate, the
// demo cross-encoder over the top of its order), narrows its stage 2 to the top 10 on the Overview,
// sends a text query from the Debug page, and sees both stages: the waterfall's stage 1 and stage 2
// bars, and which items the cross-encoder rescored.

test("the demo cascade: stage 2 edited on the Overview, both stages on the Debug page", async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto("/");
  const cell = page.getByTestId("stage2-product-search");
  await expect(cell).toContainText("demo-cross-encoder production · top 20 · 150 ms", { timeout: 30_000 });
  await cell.getByRole("button", { name: "Edit stage 2 of product-search" }).click();
  const dialog = page.getByRole("dialog", { name: "Stage 2 of product-search" });
  await expect(dialog.getByRole("combobox", { name: "Model" })).toHaveValue("demo-cross-encoder");
  await dialog.getByLabel("Rerank count").fill("10");
  // Generous on a shared machine: the point here is the display, not the budget.
  await dialog.getByLabel("Budget (ms)").fill("2000");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: the cross-encoder over the top 10");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(cell).toContainText("demo-cross-encoder production · top 10 · 2000 ms");

  await page.goto("/dashboards/debug");
  await page.getByRole("combobox", { name: "Surface", exact: true }).click();
  await page.getByRole("option", { name: "Product search (cascade)" }).click();
  await page.getByLabel("Query (retrieval stand-in)").fill("lamp");
  await page.getByLabel("Top k", { exact: true }).fill("15");
  const result = page.getByTestId("rerank-result");
  // The first request after the edit may find the cross-encoder cold on a loaded machine (stage 1's
  // order then serves, marked "timeout"): send again until stage 2 serves.
  await expect(async () => {
    await page.getByRole("button", { name: "Rerank" }).click();
    await expect(result.getByTestId("stage2-status")).toHaveText("stage 2: demo-cross-encoder v1 (production) rescored the top 10", { timeout: 5_000 });
  }).toPass({ timeout: 60_000 });
  // The waterfall names both scoring stages.
  const waterfall = result.locator("svg.recharts-surface").first();
  await expect(waterfall.getByText("stage 1", { exact: true })).toBeVisible();
  await expect(waterfall.getByText("stage 2", { exact: true })).toBeVisible();
  // Stage 2's ten lead the list; the rest are stage 1's.
  const stages = await result.getByTestId("item-stage").allTextContents();
  expect(stages).toHaveLength(15);
  expect(stages.slice(0, 10)).toEqual(new Array(10).fill("stage 2"));
  expect(stages.slice(10)).toEqual(new Array(5).fill("stage 1"));
  const raw = JSON.parse((await result.locator("pre").last().textContent())!) as { items: Array<{ score: number }>; stage2: { status: string; reranked: string[] }; timings: Record<string, number> };
  expect(raw.stage2.status).toBe("served");
  expect(raw.stage2.reranked).toHaveLength(10);
  // The cross-encoder read each lamp's title, not only its category: its ten scores are not one tie.
  expect(new Set(raw.items.slice(0, 10).map((item) => item.score)).size).toBeGreaterThan(1);
  expect(raw.timings.rescore).toBeGreaterThan(0);
  await page.screenshot({ path: "e2e/screenshots/cascade-debug.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(result.getByTestId("stage2-status")).toBeVisible();
  // The stage-2 badge wraps at phone width instead of being cut.
  expect(await result.getByTestId("stage2-status").evaluate((b) => b.scrollWidth <= b.clientWidth + 1)).toBe(true);
  await result.getByTestId("stage2-summary").screenshot({ path: "e2e/screenshots/cascade-debug-stage2-390.png" });
  await page.screenshot({ path: "e2e/screenshots/cascade-debug-390.png", fullPage: true });

  await page.goto("/");
  await expect(cell).toContainText("top 10");
  // At phone width the table scrolls sideways, and says so.
  await expect(page.getByTestId("surfaces-scroll-cue")).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/cascade-overview-390.png", fullPage: true });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await expect(page.getByTestId("surfaces-scroll-cue")).toBeHidden();
  // At 1280 px the surfaces table fits its card: no sideways scroll, the Edit button and the badges whole.
  const table = page.getByTestId("surfaces-table");
  expect(await table.evaluate((t) => { const viewport = t.closest(".mantine-ScrollArea-viewport")!; return viewport.scrollWidth <= viewport.clientWidth + 1; })).toBe(true);
  const edit = cell.getByRole("button", { name: "Edit stage 2 of product-search" });
  expect(await edit.evaluate((b) => b.scrollWidth <= b.clientWidth + 1)).toBe(true);
  for (const badge of await table.locator(".mantine-Badge-root").all()) expect(await badge.evaluate((b) => b.scrollWidth <= b.clientWidth + 1), await badge.textContent() ?? "").toBe(true);
  await page.screenshot({ path: "e2e/screenshots/cascade-overview.png", fullPage: true });

  // The newest change undone in one step (and the undo undone), from the same dialog.
  await edit.click();
  const lastChange = dialog.getByTestId("stage2-last-change");
  await expect(lastChange).toContainText("Last change: demo-cross-encoder production, top 20, 150 ms → demo-cross-encoder production, top 10, 2000 ms, by admin@e2e.test");
  await expect(lastChange).toContainText("(“e2e: the cross-encoder over the top 10”)");
  await expect(dialog.getByTestId("stage2-restore")).toBeDisabled();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: undo the top 10");
  await page.screenshot({ path: "e2e/screenshots/cascade-stage2-restore.png" });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(dialog.getByTestId("stage2-restore")).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/cascade-stage2-restore-390.png" });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await dialog.getByTestId("stage2-restore").click();
  await expect(dialog).toHaveCount(0);
  await expect(cell).toContainText("demo-cross-encoder production · top 20 · 150 ms");
  await edit.click();
  await expect(lastChange).toContainText("Last change: demo-cross-encoder production, top 10, 2000 ms → demo-cross-encoder production, top 20, 150 ms");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: back to the top 10");
  await dialog.getByTestId("stage2-restore").click();
  await expect(cell).toContainText("demo-cross-encoder production · top 10 · 2000 ms");
});

// Under an interleaving experiment each arm of a cascade runs its own stage 2: the Debug page shows one
// stage-2 line per arm, not only the first arm's.
test("the demo cascade under an interleaving experiment: the Debug page shows each arm's stage 2", async ({ page, request }) => {
  test.setTimeout(120_000);
  const key = `e2e-cascade-il-${Date.now().toString(36)}`;
  const input = {
    key, name: "Cascade arms", surface: "product-search", owner: "ml@e2e.test", hypothesis: "each arm's stage 2 is shown", kind: "interleaving",
    variants: [
      { key: "control", name: "search-ranker production", weight: 0.5, isControl: true, modelAlias: "production" },
      { key: "treatment", name: "search-ranker fallback", weight: 0.5, modelAlias: "fallback" },
    ],
  };
  const created = await request.post("/api/trpc/experiments.create", { data: { json: input } });
  expect(created.status(), await created.text()).toBe(200);
  expect((await request.post("/api/trpc/experiments.start", { data: { json: { key } } })).status()).toBe(200);
  try {
    await page.waitForTimeout(1500); // replicas pick the experiment up within a second
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto("/dashboards/debug");
    await page.getByRole("combobox", { name: "Surface", exact: true }).click();
    await page.getByRole("option", { name: "Product search (cascade)" }).click();
    await page.getByLabel("Query (retrieval stand-in)").fill("lamp");
    const result = page.getByTestId("rerank-result");
    const summaries = result.getByTestId("stage2-summary");
    await expect(async () => {
      await page.getByRole("button", { name: "Rerank" }).click();
      await expect(summaries).toHaveCount(2, { timeout: 5_000 });
      // Both arms' stage 2 served (a cold cross-encoder may time out the first time on a loaded machine).
      await expect(summaries.nth(0).getByTestId("stage2-status")).toContainText("rescored the top", { timeout: 5_000 });
      await expect(summaries.nth(1).getByTestId("stage2-status")).toContainText("rescored the top", { timeout: 5_000 });
    }).toPass({ timeout: 60_000 });
    expect(await summaries.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-arm")))).toEqual(["control", "treatment"]);
    await expect(summaries.nth(0).getByTestId("stage2-status")).toContainText("stage 2 of control: demo-cross-encoder v1 (production)");
    await expect(summaries.nth(1).getByTestId("stage2-status")).toContainText("stage 2 of treatment: demo-cross-encoder v1 (production)");
    const raw = JSON.parse((await result.locator("pre").last().textContent())!) as { variant: { key: string }; stage2Arms: Record<string, { status: string }> };
    expect(raw.variant.key).toBe("interleaved");
    expect(Object.keys(raw.stage2Arms).sort()).toEqual(["control", "treatment"]);
    await page.screenshot({ path: "e2e/screenshots/cascade-debug-arms.png" });
    await page.setViewportSize({ width: 390, height: 844 });
    for (const badge of await result.getByTestId("stage2-status").all()) expect(await badge.evaluate((b) => b.scrollWidth <= b.clientWidth + 1)).toBe(true);
    await page.screenshot({ path: "e2e/screenshots/cascade-debug-arms-390.png", fullPage: true });
  } finally {
    await request.post("/api/trpc/experiments.stop", { data: { json: { key, reason: "e2e done" } } });
  }
});
