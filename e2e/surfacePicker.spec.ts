import { expect, test } from "./fixtures";

// The Shadow page and the Debug page's "Drift and freshness" pick one surface of many: tabs on a wide
// screen, a select on a phone (break test: at 390 px the tabs were clipped and the later surfaces
// could not be reached).

test("at 390 px every surface is reachable from a select; at 1280 px the tabs show them all", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/shadow");
  const picker = page.getByRole("combobox", { name: "Surface", exact: true });
  await expect(picker).toBeVisible();
  await expect(page.getByRole("radiogroup", { name: "Surface" })).toHaveCount(0);
  await picker.click();
  await page.getByRole("option", { name: "Product search (cascade)" }).click();
  await expect(picker).toHaveValue("Product search (cascade)");

  await page.goto("/dashboards/debug");
  const drift = page.getByTestId("feature-health").getByRole("combobox", { name: "Surface for drift" });
  await drift.scrollIntoViewIfNeeded();
  await drift.click();
  await page.getByRole("option", { name: "Home feed" }).click();
  await expect(drift).toHaveValue("Home feed");

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/shadow");
  const tabs = page.getByRole("radiogroup", { name: "Surface" });
  await expect(tabs).toBeVisible();
  await expect(page.getByRole("combobox", { name: "Surface", exact: true })).toBeHidden();
  for (const name of ["Home feed", "Product Q&A (text)", "Product search (cascade)", "Search results"]) await expect(tabs.getByText(name, { exact: true })).toBeInViewport();
});
