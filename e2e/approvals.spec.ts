import { expect, test } from "./fixtures";

// Approvals reach every way a guarded surface's ranking can change (review s11 item 1, issue #14):
// stage 2 of a guarded surface's cascade is a change request, and the Models page's alias dialog
// lists every surface an alias reaches (serving, stage 2, …) before the press.

test("stage 2 of a guarded surface is requested, not saved; the alias dialog lists every surface it reaches", async ({ page, baseURL }) => {
  const guard = (required: boolean) => page.request.post("/api/trpc/approvals.setRequired", { headers: { origin: baseURL! }, data: { json: { surface: "product-search", required, reason: "e2e stage 2 approvals" } } });
  expect((await guard(true)).status()).toBe(200);
  try {
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto("/");
    await page.getByRole("button", { name: "Edit stage 2 of product-search" }).click();
    const dialog = page.getByRole("dialog");
    await expect(dialog.getByTestId("stage2-approval")).toContainText("product-search requires approval");
    await dialog.getByLabel("Rerank count").fill("10");
    await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: rescore fewer");
    await page.screenshot({ path: "e2e/screenshots/stage2-approval-request.png" });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: "e2e/screenshots/stage2-approval-request-390.png" });
    await page.setViewportSize({ width: 1280, height: 1000 });
    await dialog.getByRole("button", { name: "Request approval" }).click();
    await expect(page.getByText(/Approval requested: stage 2 of product-search: .* over the top 20 within \d+ ms → .* over the top 10 within \d+ ms/)).toBeVisible();
    // Nothing changed yet: the cell still shows the top 20.
    await expect(page.getByTestId("stage2-product-search")).toContainText("top 20");

    await page.goto("/approvals");
    const row = page.getByTestId("approval-row").first();
    await expect(row).toContainText("stage 2");
    await expect(row).toContainText("stage 2 of product-search");
    await page.screenshot({ path: "e2e/screenshots/approvals-stage2.png", fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: "e2e/screenshots/approvals-stage2-390.png", fullPage: true });
    await page.setViewportSize({ width: 1280, height: 1000 });

    // The alias product-search uses for stage 1 reaches search and home-feed too; the dialog says so, and that it needs approval.
    await page.goto("/models/search-ranker");
    await page.getByRole("combobox", { name: "Alias", exact: true }).click();
    await page.getByRole("option", { name: "production", exact: true }).click();
    await page.getByRole("button", { name: "Move alias…" }).click();
    const move = page.getByRole("dialog");
    await expect(move.getByTestId("alias-reach")).toContainText(/surfaces it reaches: home-feed.*, product-search, search/);
    await expect(move).toContainText(/product-search requires? approval/);
    await expect(move.getByRole("button", { name: "Request approval" })).toBeVisible();
    await page.screenshot({ path: "e2e/screenshots/models-alias-reach.png" });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: "e2e/screenshots/models-alias-reach-390.png" });
    await move.getByRole("button", { name: "Cancel" }).click();

    // Withdraw the stage 2 request (the signed-in admin filed it).
    const listed = await page.request.get(`/api/trpc/approvals.list?input=${encodeURIComponent(JSON.stringify({ json: { status: "pending", surface: "product-search" } }))}`);
    for (const r of (await listed.json()).result.data.json as Array<{ id: string }>) {
      expect((await page.request.post("/api/trpc/approvals.cancel", { headers: { origin: baseURL! }, data: { json: { id: r.id } } })).status()).toBe(200);
    }
  } finally {
    expect((await guard(false)).status()).toBe(200);
  }
});
