import { expect, test } from "./fixtures";

// A console page about one thing the URL names (a model, a version, an experiment, a shadow
// comparison) that does not exist answers 404 with a page saying what was not found, inside the
// console's shell (break test: each answered 500, "This page couldn't load").

const MISSING = [
  { path: "/models/nope", title: "Model “nope” does not exist" },
  { path: "/experiments/nope", title: "Experiment “nope” does not exist" },
  { path: "/experiments/nope/edit", title: "Experiment “nope” does not exist" },
  { path: "/models/search-ranker/v/99", title: "Version 99 of “search-ranker” does not exist" },
  { path: "/models/search-ranker/v/abc", title: "“abc” is not a version number" },
  { path: "/models/nope/v/1", title: "Version 1 of “nope” does not exist" },
  { path: "/shadow/compare?request=nope&version=nope", title: "No shadow comparison of request “nope”" },
];

for (const { path, title } of MISSING) {
  test(`${path} answers 404 saying what was not found`, async ({ page }) => {
    const response = await page.goto(path);
    expect(response?.status()).toBe(404);
    await expect(page.getByTestId("not-found-title")).toHaveText(title);
    // In the console's shell: the navigation is there to go on from.
    await expect(page.getByRole("link", { name: "Models" }).first()).toBeAttached();
  });
}

test("pages of things that exist still answer 200", async ({ page }) => {
  for (const path of ["/models/search-ranker", "/models/search-ranker/v/1"]) {
    const response = await page.goto(path);
    expect([path, response?.status()]).toEqual([path, 200]);
    await expect(page.getByTestId("not-found")).toHaveCount(0);
  }
});

test("the 404 pages at 1280 and 390 px", async ({ page }) => {
  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    for (const [name, path] of [["model", "/models/nope"], ["version", "/models/search-ranker/v/abc"], ["experiment", "/experiments/nope/edit"]] as const) {
      await page.goto(path);
      await expect(page.getByTestId("not-found-title")).toBeVisible();
      await page.screenshot({ path: `e2e/screenshots/not-found-${name}${width === 390 ? "-390" : ""}.png`, fullPage: true });
    }
  }
});
