import { expect, test } from "./fixtures";

// An ML engineer mirrors all of search's traffic to the candidate, sends traffic, and reads how the
// candidate's rankings compare with what was served.

test("mirror search to the candidate and compare its rankings", async ({ page, request }) => {
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto("/shadow?surface=search");
  await expect(page.getByTestId("shadow-status")).toContainText("25% of requests also scored by shadow (search-ranker v3)");

  await page.getByLabel("Sample rate (%)").fill("100");
  await page.getByRole("button", { name: "Save" }).click();
  // Above 50 % the confirm dialog names the change and asks why.
  const dialog = page.getByRole("dialog", { name: "Mirror 100% of search" });
  await expect(dialog.getByTestId("confirm-changes")).toContainText("100% of requests also scored by shadow");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: compare v3 on all traffic");
  await dialog.getByRole("button", { name: "Mirror" }).click();
  await expect(page.getByTestId("shadow-status")).toContainText("100% of requests also scored by shadow");

  const ids = Array.from({ length: 60 }, (_, i) => `sku-${String(i + 1).padStart(5, "0")}`);
  for (let i = 0; i < 20; i++) {
    // A different retrieval order each time, so the requests differ.
    const candidates = [...ids.slice(i * 3), ...ids.slice(0, i * 3)].map((id, rank) => ({ id, retrievalScore: 1 - rank / 60 }));
    const response = await request.post("/api/v1/rerank", { data: { surface: "search", requestId: `e2e-shadow-${Date.now()}-${i}`, topK: 10, userKey: `e2e-shadow-${i}`, candidates } });
    expect(response.status()).toBe(200);
  }

  await expect(async () => {
    await page.reload();
    const mirrored = Number((await page.getByTestId("shadow-records").textContent())!.replaceAll(",", ""));
    expect(mirrored).toBeGreaterThanOrEqual(20);
  }).toPass({ timeout: 20_000 });
  const overlap = Number(await page.getByTestId("shadow-overlap").textContent());
  expect(overlap).toBeGreaterThanOrEqual(0);
  expect(overlap).toBeLessThanOrEqual(1);
  const tau = Number(await page.getByTestId("shadow-kendall").textContent());
  expect(tau).toBeGreaterThan(-1);
  expect(tau).toBeLessThanOrEqual(1);
  await expect(page.getByTestId("shadow-errors")).toHaveText("0");
  await expect(page.getByTestId("shadow-disagreements").locator("tbody tr")).toHaveCount(8);
  await expect(page.getByTestId("shadow-latency")).toContainText("ms");
  await expect(page.locator(".recharts-bar-rectangle").first()).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/shadow-compare.png", fullPage: true });

  // Back to the seeded quarter, so the change is visible as two audited edits.
  await page.getByLabel("Sample rate (%)").fill("25");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("shadow-status")).toContainText("25% of requests also scored");
});
