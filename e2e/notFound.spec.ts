import type { Browser } from "@playwright/test";
import { ADMIN_STATE } from "./credentials";
import { expect, test } from "./fixtures";

// A console page about one thing the URL names (a model, a version, an experiment, a shadow
// comparison) that does not exist answers 404 with a page saying what was not found, inside the
// console's shell (break test: each answered 500, "This page couldn't load"). An address no page
// answers does too (a later break test: Next's bare "404 This page could not be found.", outside the
// console), and its page is rendered on the server: readable without JavaScript.

const MISSING = [
  { path: "/models/nope", title: "Model “nope” does not exist" },
  { path: "/experiments/nope", title: "Experiment “nope” does not exist" },
  { path: "/experiments/nope/edit", title: "Experiment “nope” does not exist" },
  { path: "/models/search-ranker/v/99", title: "Version 99 of “search-ranker” does not exist" },
  { path: "/models/search-ranker/v/abc", title: "“abc” is not a version number" },
  { path: "/models/nope/v/1", title: "Version 1 of “nope” does not exist" },
  { path: "/shadow/compare?request=nope&version=nope", title: "No shadow comparison of request “nope”" },
];

/** Addresses no page answers. */
const UNMATCHED = ["/nope", "/experiments/x/y/z", "/models/search-ranker/v/1/extra", "/dashboards/nope"];

for (const { path, title } of MISSING) {
  test(`${path} answers 404 saying what was not found`, async ({ page }) => {
    const response = await page.goto(path);
    expect(response?.status()).toBe(404);
    await expect(page.getByTestId("not-found-title")).toHaveText(title);
    // In the console's shell: the navigation is there to go on from.
    await expect(page.getByRole("link", { name: "Models" }).first()).toBeAttached();
  });
}

for (const path of UNMATCHED) {
  test(`${path}, which no page answers, answers 404 inside the console with a way home`, async ({ page }) => {
    const response = await page.goto(path);
    expect(response?.status()).toBe(404);
    await expect(page.getByTestId("not-found-title")).toHaveText(`Nothing at ${path}`);
    await expect(page.getByText("This page could not be found.")).toHaveCount(0);
    await expect(page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Experiments" })).toBeAttached();
    await expect(page.getByTestId("user-menu")).toBeVisible();
    await expect(page).toHaveTitle("Not found · Rerank Console");
    await page.getByRole("link", { name: "Back to the overview" }).click();
    await expect(page).toHaveURL(/\/$/);
  });
}

test("the 404 names a percent-encoded address as it reads (break test: /%E2%98%83 was shown encoded)", async ({ page }) => {
  const response = await page.goto("/caf%C3%A9/%E2%98%83");
  expect(response?.status()).toBe(404);
  await expect(page.getByTestId("not-found-title")).toHaveText("Nothing at /café/☃");
});

/** A page signed in as the first admin with JavaScript off: only what the server rendered. */
async function withoutJavaScript(browser: Browser, baseURL: string | undefined) {
  const context = await browser.newContext({ baseURL, storageState: ADMIN_STATE, javaScriptEnabled: false });
  return { context, page: await context.newPage() };
}

test("an unmatched address's 404 is rendered on the server: its message, the navigation and the way home, without JavaScript", async ({ browser, baseURL }) => {
  const { context, page } = await withoutJavaScript(browser, baseURL);
  try {
    for (const path of UNMATCHED) {
      const response = await page.goto(path);
      expect(response?.status()).toBe(404);
      await expect(page.getByTestId("not-found-title")).toHaveText(`Nothing at ${path}`);
      await expect(page.getByRole("link", { name: "Back to the overview" })).toHaveAttribute("href", "/");
      await expect(page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Models" })).toBeAttached();
    }
  } finally {
    await context.close();
  }
});

test("without JavaScript at 390 px, the shell's status badge is whole and the user menu beside it on the page (it read a cut 'CHEC…')", async ({ browser, baseURL }) => {
  const { context, page } = await withoutJavaScript(browser, baseURL);
  try {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/models");
    const badge = page.getByTestId("status-badge");
    await expect(badge).toHaveText("checking…");
    // The label is not cut (a shrunk badge ellipsed it to "CHEC…": its text wider than its box), and the badge is inside the page.
    const label = badge.locator(".mantine-Badge-label");
    expect(await label.evaluate((el) => [el.scrollWidth, el.clientWidth])).toEqual(await label.evaluate((el) => [el.clientWidth, el.clientWidth]));
    // Both the badge and the user menu beside it are inside the page.
    for (const box of [await badge.boundingBox(), await page.getByTestId("user-menu").boundingBox()]) expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: "e2e/screenshots/shell-no-js-390.png" });
  } finally {
    await context.close();
  }
});

test("an unmatched API address answers 404 too, without the console's shell", async ({ request }) => {
  const response = await request.get("/api/v1/nope");
  expect(response.status()).toBe(404);
});

test("pages of things that exist still answer 200", async ({ page }) => {
  for (const path of ["/models/search-ranker", "/models/search-ranker/v/1"]) {
    const response = await page.goto(path);
    expect([path, response?.status()]).toEqual([path, 200]);
    await expect(page.getByTestId("not-found")).toHaveCount(0);
  }
});

test("the 404 pages at 1280 and 390 px", async ({ page, browser, baseURL }) => {
  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    for (const [name, path] of [["model", "/models/nope"], ["version", "/models/search-ranker/v/abc"], ["experiment", "/experiments/nope/edit"], ["unmatched", "/experiments/x/y/z"]] as const) {
      await page.goto(path);
      await expect(page.getByTestId("not-found-title")).toBeVisible();
      await page.screenshot({ path: `e2e/screenshots/not-found-${name}${width === 390 ? "-390" : ""}.png`, fullPage: true });
    }
  }
  const { context, page: bare } = await withoutJavaScript(browser, baseURL);
  try {
    for (const [width, height] of [[1280, 900], [390, 844]] as const) {
      await bare.setViewportSize({ width, height });
      await bare.goto("/experiments/x/y/z");
      await bare.screenshot({ path: `e2e/screenshots/not-found-unmatched-no-js${width === 390 ? "-390" : ""}.png`, fullPage: true });
    }
  } finally {
    await context.close();
  }
});

test("an address that cannot be read (/%) answers 400 with a page saying why and a way back (it was a JSON error)", async ({ page }) => {
  for (const [width, name] of [[1280, "desktop"], [390, "narrow"]] as const) {
    await page.setViewportSize({ width, height: 700 });
    const response = await page.goto("/%");
    expect(response?.status()).toBe(400);
    await expect(page.getByRole("heading", { name: "Not a valid address" })).toBeVisible();
    await expect(page.getByText('path: "%" at character 1 is not a %-escape of UTF-8')).toBeVisible();
    await page.screenshot({ path: `e2e/screenshots/bad-address-${name}.png` });
  }
  await page.getByRole("link", { name: "Back to the console" }).click();
  await expect(page).toHaveURL(/\/$/);
});
