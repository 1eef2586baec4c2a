import type { Locator, Page } from "@playwright/test";
import { expect, test } from "./fixtures";

// The Shadow page and the Debug page's "Drift and freshness" pick one surface of many: tabs on a wide
// screen, a select on a phone (break test: at 390 px the tabs were clipped and the later surfaces
// could not be reached; a later one: the select was ~185 px wide, beside the window control, and
// cut the surface names).

/** The width the console's main column gives its content (px): the <main> box less its padding. */
async function contentWidth(page: Page): Promise<number> {
  return page.locator("main").evaluate((main) => {
    const style = getComputedStyle(main);
    return main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  });
}

/** Whether an input shows its whole value (nothing cut at its right edge). */
const showsWholeValue = (input: Locator) => input.evaluate((el: HTMLInputElement) => el.scrollWidth <= el.clientWidth);

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

test("at 390 px the surface select is as wide as the page's column, and shows the longest name whole", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/shadow");
  const picker = page.getByRole("combobox", { name: "Surface", exact: true });
  await picker.click();
  await page.getByRole("option", { name: "Product search (cascade)" }).click();
  const column = await contentWidth(page);
  const select = page.getByTestId("surface-select");
  // Before: ~185 px, the window control (1 h · 24 h · 7 d) beside it on the same row.
  expect((await select.boundingBox())!.width).toBeGreaterThanOrEqual(column - 1);
  expect(await showsWholeValue(picker)).toBe(true);
  // The window control is still on the page, below the select, and within the screen.
  const window = page.getByRole("radiogroup", { name: "Window" });
  await expect(window).toBeInViewport({ ratio: 1 });
  expect((await window.boundingBox())!.y).toBeGreaterThan((await select.boundingBox())!.y);
  await page.screenshot({ path: "e2e/screenshots/surface-picker-shadow-390.png" });

  await page.goto("/dashboards/debug");
  const health = page.getByTestId("feature-health");
  const drift = health.getByRole("combobox", { name: "Surface for drift" });
  await drift.scrollIntoViewIfNeeded();
  await drift.click();
  await page.getByRole("option", { name: "Product search (cascade)" }).click();
  const inner = await health.evaluate((card) => {
    const style = getComputedStyle(card);
    return card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  });
  expect((await health.getByTestId("surface-select").boundingBox())!.width).toBeGreaterThanOrEqual(inner - 1);
  expect(await showsWholeValue(drift)).toBe(true);
  await health.screenshot({ path: "e2e/screenshots/surface-picker-drift-390.png" });

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/shadow");
  await expect(page.getByRole("radiogroup", { name: "Surface" })).toBeVisible();
  await expect(page.getByText("Mirroring", { exact: true })).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/surface-picker-shadow-1280.png" });
  await page.goto("/dashboards/debug");
  await page.getByTestId("feature-health").scrollIntoViewIfNeeded();
  await page.getByTestId("feature-health").screenshot({ path: "e2e/screenshots/surface-picker-drift-1280.png" });
});
