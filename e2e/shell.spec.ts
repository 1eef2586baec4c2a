import { readdirSync } from "node:fs";
import { expect, test } from "./fixtures";

// The console shell: every page renders with its navigation and empty state, at desktop and
// phone widths, and the screenshots are kept in e2e/screenshots/ to look at.

const PAGES = [
  { path: "/", heading: "Overview", expectText: "Surfaces" },
  { path: "/experiments", heading: "Experiments", expectText: "with honest statistics" },
  { path: "/shadow", heading: "Shadow", expectText: "Mirroring" },
  { path: "/models", heading: "Models", expectText: "search-ranker" },
  { path: "/audit", heading: "Audit", expectText: "Newest first" },
  { path: "/dashboards/executive", heading: "Executive", expectText: "Shipped experiments" },
  { path: "/dashboards/oncall", heading: "On-call", expectText: "Recent changes" },
  { path: "/dashboards/debug", heading: "Debug", expectText: "Send a test request" },
  { path: "/approvals", heading: "Approvals", expectText: "Surfaces that require approval" },
  { path: "/admin/users", heading: "Users", expectText: "Invite a person" },
  { path: "/admin/api-keys", heading: "API keys", expectText: "Create a key" },
];

const slug = (path: string) => (path === "/" ? "overview" : path.slice(1).replaceAll("/", "-"));

for (const viewport of [{ name: "desktop", width: 1280, height: 800 }, { name: "narrow", width: 390, height: 844 }]) {
  test.describe(`${viewport.name} (${viewport.width}px)`, () => {
    test.use({ viewport: { width: viewport.width, height: viewport.height } });

    for (const page of PAGES) {
      test(`${page.path} renders`, async ({ page: tab }) => {
        const errors: string[] = [];
        tab.on("pageerror", (e) => errors.push(e.message));
        const response = await tab.goto(page.path);
        expect(response?.status()).toBe(200);
        await expect(tab.getByRole("heading", { level: 2, name: page.heading })).toBeVisible();
        await expect(tab.getByText(page.expectText).first()).toBeVisible();
        // The tRPC client in the browser reached the server: the header badge turns healthy.
        await expect(tab.getByTestId("status-badge")).toContainText("healthy");
        // Nothing overflows the viewport sideways.
        const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(1);
        await tab.screenshot({ path: `e2e/screenshots/${slug(page.path)}-${viewport.name}.png`, fullPage: true });
        expect(errors).toEqual([]);
      });
    }
  });
}

test("the navigation reaches every area", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto("/");
  for (const { heading } of PAGES.slice(1)) {
    await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: heading, exact: true }).click();
    await expect(page.getByRole("heading", { level: 2, name: heading })).toBeVisible();
  }
});

test("on a narrow screen the menu opens from the burger", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/");
  const nav = page.getByRole("navigation", { name: "Main navigation" });
  await expect(nav.getByRole("link", { name: "Models" })).not.toBeInViewport();
  await page.getByRole("button", { name: "Toggle navigation" }).click();
  await expect(nav.getByRole("link", { name: "Models" })).toBeInViewport();
  await page.screenshot({ path: "e2e/screenshots/navigation-open-narrow.png" });
  await nav.getByRole("link", { name: "Models" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Models" })).toBeVisible();
});

test("the overview shows live health and the seeded surfaces", async ({ page, request }) => {
  await page.goto("/");
  await expect(page.getByTestId("db-status")).toContainText("reachable");
  const latest = readdirSync("prisma/migrations", { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort().at(-1)!;
  await expect(page.getByTestId("migration-level")).toHaveText(latest);
  await expect(page.getByTestId("surfaces-table")).toContainText("Search results");
  const health = await (await request.get("/api/health")).json();
  expect(health).toMatchObject({ status: "ok", database: { reachable: true } });
  const ping = await request.get("/api/v1/ping");
  expect(ping.status()).toBe(200);
  expect(await ping.text()).toBe("ok");
});

test("tRPC names the unknown field in a 400", async ({ request }) => {
  const input = encodeURIComponent(JSON.stringify({ json: { key: "search", colour: "red" } }));
  const response = await request.get(`/api/trpc/surfaces.get?input=${input}`);
  expect(response.status()).toBe(400);
  const body = await response.json();
  expect(body.error.json.message).toContain('unknown field "colour"');
});
