import { readFileSync } from "node:fs";
import { expect, test } from "./fixtures";

// An ML engineer registers a model, uploads a version (first with a spec that does not match, which
// is refused with the reason), reads its card and metrics, and points the canary alias at it.

test("register, upload, read the card, set canary", async ({ page }) => {
  const name = `e2e-ranker-${Date.now().toString(36)}`;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/models");
  await page.getByRole("button", { name: "Register model" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Owner").fill("ml@rerank.local");
  await page.getByLabel("Description").fill("Uploaded by the e2e test");
  await page.getByRole("dialog").getByRole("button", { name: "Register" }).click();
  await expect(page.getByRole("heading", { level: 2, name })).toBeVisible();

  await page.locator('input[type="file"]').setInputFiles("models/demo/search-linear-v2.onnx");
  await page.getByRole("button", { name: "Upload and check" }).click();
  await expect(page.getByTestId("upload-error")).toContainText("takes 7 features but the feature spec declares 1");
  await page.screenshot({ path: "e2e/screenshots/model-upload-refused.png", fullPage: true });

  await page.getByLabel("Feature spec (JSON)").fill(readFileSync("models/demo/feature-spec.json", "utf8"));
  await page.getByLabel("Offline metrics (JSON)").fill('{"ndcg@10": 0.7312, "mrr": 0.8421}');
  await page.getByRole("button", { name: "Upload and check" }).click();
  await expect(page.getByRole("heading", { level: 2, name: `${name} v1` })).toBeVisible();
  await expect(page.getByTestId("version-metrics")).toContainText("0.7312");
  await expect(page.getByTestId("feature-spec").locator("tbody tr")).toHaveCount(7);
  await page.screenshot({ path: "e2e/screenshots/model-version-card.png", fullPage: true });

  await page.goto(`/models/${name}`);
  await expect(page.getByRole("combobox", { name: "Alias", exact: true })).toHaveValue("canary");
  await page.getByRole("button", { name: "Move alias…" }).click();
  const dialog = page.getByRole("dialog", { name: `Move ${name} canary` });
  await expect(dialog.getByTestId("confirm-changes")).toContainText(`${name} canary: unset → v1`);
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: first canary");
  await dialog.getByRole("button", { name: "Move alias" }).click();
  await expect(page.getByTestId("alias-canary")).toHaveText("canary → v1");
  await expect(page.getByTestId("versions-table")).toContainText("0.7312");
  await page.screenshot({ path: "e2e/screenshots/model-page.png", fullPage: true });
});

test("an offline evaluation is stored with the version and shown again later", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/models/letor-lambdamart/v/1");
  await page.getByRole("button", { name: "Evaluate on LETOR test" }).click();
  const table = page.getByTestId("letor-evaluation");
  await expect(table).toContainText("NDCG@10");
  await expect(table).toContainText("768 · 50");
  const ndcg10 = await table.getByRole("row", { name: /NDCG@10/ }).textContent();
  // Stored: a fresh page load shows the same figures without running it again.
  await page.reload();
  await expect(page.getByTestId("letor-evaluation").getByRole("row", { name: /NDCG@10/ })).toHaveText(ndcg10!);
  await expect(page.getByText(/^Run .* by /).first()).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/model-evaluation.png", fullPage: true });
});

test("a cross-encoder version shows its kind and config (the seeded demo text model)", async ({ page }) => {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto("/models/demo-cross-encoder");
    await expect(page.getByTestId("kind-v1")).toHaveText("cross-encoder");
    await expect(page.getByTestId("alias-production")).toHaveText("production → v1");
    await expect(page.getByRole("textbox", { name: "Feature spec (JSON)" })).toHaveCount(0); // a cross-encoder model uploads bundles
    await page.screenshot({ path: `e2e/screenshots/model-cross-encoder-${width}.png`, fullPage: true });
    await page.goto("/models/demo-cross-encoder/v/1");
    await expect(page.getByTestId("version-kind")).toHaveText("cross-encoder");
    const config = page.getByTestId("cross-encoder-config");
    await expect(config).toContainText("32 tokens per pair");
    await expect(config).toContainText("title, category");
    await expect(config).toContainText("input_ids, attention_mask, token_type_ids");
    await expect(page.getByRole("link", { name: "Download bundle (.tar)" })).toBeVisible();
    await expect(page.getByTestId("feature-spec")).toHaveCount(0);
    await page.screenshot({ path: `e2e/screenshots/model-cross-encoder-version-${width}.png`, fullPage: true });
  }
});
