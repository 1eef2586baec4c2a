import { readFile } from "node:fs/promises";
import { expect, signedInAs, test } from "./fixtures";

// The audit trail as evidence: an on-call engineer pulls the home feed's kill switch and releases
// it, an ML engineer moves an alias over the API; the Audit page says both in words, filtered by
// action and actor, links to what they changed, and exports the filtered entries as CSV.
// Who acts is the signed-in person: each signs in through the sign-in page.

test("audited actions appear on the Audit page in words, filter, link and export", async ({ browser, baseURL, request }) => {
  const oncall = await signedInAs(browser, baseURL!, "e2e-oncall", ["oncall"]);
  const ml = await signedInAs(browser, baseURL!, "e2e-ml", ["ml_engineer"]);
  const ONCALL = oncall.email;
  const ML = ml.email;
  const page = oncall.page;
  // Through the UI, as the on-call engineer.
  await page.setExtraHTTPHeaders({ "x-request-id": "e2e-audit-request" });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto("/dashboards/oncall");
  const card = page.getByTestId("surface-home-feed");
  const dialog = page.getByRole("dialog");
  await card.getByRole("button", { name: "Kill switch" }).click();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e audit: drill, INC-77");
  await dialog.getByRole("button", { name: "Turn kill switch on" }).click();
  await expect(card.getByTestId("kill-switch-on")).toBeVisible();
  await card.getByRole("button", { name: "Turn kill switch off" }).click();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e audit: drill over");
  await dialog.getByRole("button", { name: "Turn kill switch off" }).click();
  await expect(card.getByTestId("kill-switch-on")).toHaveCount(0);

  // Over tRPC, as the ML engineer: a custom alias of search-ranker onto v1, then v3.
  const model = (await (await request.get(`/api/trpc/models.get?input=${encodeURIComponent(JSON.stringify({ json: { name: "search-ranker" } }))}`)).json()).result.data.json;
  const version = (n: number) => model.versions.find((v: { version: number }) => v.version === n).id;
  for (const [n, reason] of [[1, "e2e audit: staging on v1"], [3, "=1+1 e2e audit: try v3"]] as const) {
    const moved = await ml.page.request.post("/api/trpc/models.setAlias", { headers: { origin: baseURL! }, data: { json: { versionId: version(n), alias: "e2e-audit", reason } } });
    expect(moved.status()).toBe(200);
  }

  // The Audit page, filtered by action and actor.
  await page.goto("/audit");
  await expect(page.getByRole("heading", { level: 2, name: "Audit" })).toBeVisible();
  await page.getByRole("combobox", { name: "Action", exact: true }).click();
  await page.getByRole("option", { name: "Kill switch", exact: true }).click();
  await page.getByRole("combobox", { name: "Actor", exact: true }).click();
  await page.getByRole("option", { name: ONCALL, exact: true }).click();
  await expect(page).toHaveURL(/action=surface\.kill_switch/);
  const rows = page.getByTestId("audit-entry");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).getByTestId("audit-sentence")).toHaveText(`${ONCALL} turned off the kill switch of home-feed`);
  await expect(rows.nth(1).getByTestId("audit-sentence")).toHaveText(`${ONCALL} turned on the kill switch of home-feed`);
  await expect(rows.nth(1).getByTestId("audit-reason")).toHaveText("Reason: e2e audit: drill, INC-77");
  await expect(rows.nth(1).getByRole("link", { name: "home-feed" })).toHaveAttribute("href", "/dashboards/oncall#surface-home-feed");
  await rows.nth(1).getByRole("button", { name: "Show details" }).click();
  const details = page.getByTestId("audit-details");
  await expect(details.getByRole("row", { name: "kill switch off on" })).toBeVisible();
  await expect(details).toContainText("request e2e-audit-request");
  await page.screenshot({ path: "e2e/screenshots/audit-filtered-desktop.png", fullPage: true });

  // The CSV of this filter: the header, and the two rows in words.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export CSV" }).click()]);
  expect(download.suggestedFilename()).toMatch(/^audit-\d{8}-\d{4}\.csv$/);
  const csv = await readFile((await download.path())!, "utf8");
  const lines = csv.trimEnd().split("\r\n");
  expect(lines[0]).toBe("id,time,actor,actor kind,actor id,action,subject kind,subject id,subject,surfaces,what happened,reason,changes,before,after,request id,client address");
  expect(lines).toHaveLength(3);
  expect(lines[2]).toMatch(new RegExp(`,${ONCALL.replaceAll(".", "\\.")},user,[^,]+,surface\\.kill_switch,surface,`));
  expect(lines[2]).toContain(`,home-feed,home-feed,${ONCALL} turned on the kill switch of home-feed,"e2e audit: drill, INC-77",kill switch: off → on,`);
  expect(lines[2]).toContain(",e2e-audit-request,");

  // Another filter: the alias moves, linked to the versions they name.
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.getByRole("combobox", { name: "Action", exact: true }).click();
  await page.getByRole("option", { name: "Alias moved", exact: true }).click();
  await page.getByRole("combobox", { name: "Surface", exact: true }).click();
  await page.getByRole("option", { name: "search", exact: true }).click();
  await page.getByRole("combobox", { name: "Actor", exact: true }).click();
  await page.getByRole("option", { name: ML, exact: true }).click();
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).getByTestId("audit-sentence")).toHaveText(`${ML} moved search-ranker e2e-audit from v1 to v3`);
  await expect(rows.nth(1).getByTestId("audit-sentence")).toHaveText(`${ML} pointed search-ranker e2e-audit at v1`);
  await expect(rows.nth(0).getByTestId("audit-reason")).toHaveText("Reason: =1+1 e2e audit: try v3");

  // A time range: from an hour ahead nothing matches; from an hour ago both entries do.
  const local = (ms: number) => new Date(ms - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await page.getByLabel("From", { exact: true }).fill(local(Date.now() + 3_600_000));
  await expect(page.getByText("No entries match these filters.")).toBeVisible();
  await expect(page).toHaveURL(/from=\d{4}-\d\d-\d\dT/);
  await page.getByLabel("From", { exact: true }).fill(local(Date.now() - 3_600_000));
  await expect(rows).toHaveCount(2);

  // The formula-looking reason leaves the export neutralised.
  const exported = await request.get(`/api/v1/audit.csv?action=model.alias.set&actor=${encodeURIComponent(ML)}`);
  expect(exported.status()).toBe(200);
  expect(exported.headers()["content-type"]).toContain("text/csv");
  expect(await exported.text()).toContain(",'=1+1 e2e audit: try v3,");
  expect((await request.get("/api/v1/audit.csv?action=surface.delete")).status()).toBe(400);

  // At phone width: the same rows, nothing sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(rows.nth(0)).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
  await rows.nth(0).getByRole("button", { name: "Show details" }).click();
  await page.screenshot({ path: "e2e/screenshots/audit-filtered-narrow.png", fullPage: true });
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.screenshot({ path: "e2e/screenshots/audit-alias-desktop.png", fullPage: true });

  // Sign-ins are in the trail too, read by admins only: the on-call engineer does not see their own here.
  await page.goto(`/audit?action=user.sign_in&actor=${encodeURIComponent(ONCALL)}`);
  await expect(page.getByText("No entries match these filters.")).toBeVisible();
  // The admin sees it, through the sign-in page, with the address it came from.
  const admin = await (await browser.newContext({ baseURL, storageState: "e2e/.auth/admin.json" })).newPage();
  await admin.setViewportSize({ width: 1280, height: 900 });
  await admin.goto(`/audit?action=user.sign_in&actor=${encodeURIComponent(ONCALL)}`);
  const adminRows = admin.getByTestId("audit-entry");
  await expect(adminRows).toHaveCount(1);
  await expect(adminRows.nth(0).getByTestId("audit-sentence")).toHaveText(`${ONCALL} signed in`);
  await adminRows.nth(0).getByRole("button", { name: "Show details" }).click();
  await expect(admin.getByTestId("audit-details")).toContainText("from 127.0.0.1");
  await admin.screenshot({ path: "e2e/screenshots/audit-sign-in-desktop.png", fullPage: true });
  await admin.setViewportSize({ width: 390, height: 844 });
  await admin.screenshot({ path: "e2e/screenshots/audit-sign-in-narrow.png", fullPage: true });
  await admin.context().close();
  await page.goto(`/audit?action=model.alias.set&actor=${encodeURIComponent(ML)}`);

  // The link to a version opens its card.
  await rows.nth(0).getByRole("link", { name: "v3" }).click();
  await expect(page).toHaveURL(/\/models\/search-ranker\/v\/3$/);
  await expect(page.getByRole("heading", { level: 2, name: "search-ranker v3" })).toBeVisible();
});
