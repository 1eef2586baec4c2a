import { expect, fillSetPassword, invite, signedInAs, submitSignIn, test } from "./fixtures";
import { ROLES } from "../server/domain/access/permissions";

// Access control as people meet it: each role sees the console with the levers it may pull, a
// viewer none; an on-call engineer rolls back with a reason and the Audit page names them; a
// production change on a surface that requires approval waits for a second person.

const LEVERS = ["Kill switch", /^Roll back/, "Start canary…"];

for (const role of ROLES) {
  test(`signed in as ${role}: the On-call page enables exactly the levers of the role`, async ({ browser, baseURL }) => {
    const { page, email } = await signedInAs(browser, baseURL!, `e2e-${role}`, [role]);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto("/dashboards/oncall");
    const card = page.getByTestId("surface-search");
    await expect(card).toBeVisible();
    const kill = card.getByRole("button", { name: "Kill switch" });
    const canary = page.getByTestId("rollout-search").getByRole("button", { name: "Start canary…" });
    const mayKill = role === "oncall" || role === "admin";
    const mayCanary = role === "ml_engineer" || role === "admin";
    await (mayKill ? expect(kill).toBeEnabled() : expect(kill).toBeDisabled());
    await (mayCanary ? expect(canary).toBeEnabled() : expect(canary).toBeDisabled());
    if (!mayKill) await expect(kill).toHaveAttribute("data-disabled-reason", "Needs the On-call or Admin role to turn a surface's kill switch on or off");
    await page.getByTestId("user-menu").click();
    await expect(page.getByRole("menu")).toContainText(email);
    await page.keyboard.press("Escape");
    await page.screenshot({ path: `e2e/screenshots/access-${role}-oncall.png`, fullPage: true });
    if (role === "viewer") {
      // A viewer has no enabled lever anywhere on the page, and no admin pages in the navigation.
      for (const name of LEVERS) {
        for (const button of await page.getByRole("button", { name }).all()) await expect(button).toBeDisabled();
      }
      await expect(page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Users" })).toHaveCount(0);
      await page.goto("/experiments");
      await expect(page.getByRole("button", { name: "New experiment" })).toBeDisabled();
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto("/dashboards/oncall");
      await page.screenshot({ path: "e2e/screenshots/access-viewer-oncall-narrow.png", fullPage: true });
    }
    await page.context().close();
  });
}

test("a person invited with a one-time password sets their own before any page opens, and lands where they were going", async ({ browser, baseURL }) => {
  const email = `e2e-otp-${Date.now().toString(36)}@e2e.test`;
  const oneTime = await invite(browser, baseURL!, { email, name: "OTP", roles: ["viewer"] });
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/models");
  await submitSignIn(page, email, oneTime);
  await expect(page).toHaveURL(/\/account\/password\?next=%2Fmodels$/);
  await expect(page.getByRole("heading", { name: "Set your own password" })).toBeVisible();
  // Any console page sends them back here until they do (the front door's redirect), and the API refuses them.
  await page.goto("/experiments");
  await expect(page).toHaveURL(/\/account\/password\?next=%2Fexperiments$/);
  const refused = await page.request.get("/api/trpc/surfaces.list", { headers: { origin: baseURL! } });
  expect(refused.status()).toBe(403);
  expect(await refused.text()).toContain("one-time password");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: "e2e/screenshots/set-password-desktop.png" });
  await fillSetPassword(page, oneTime, "short");
  await page.getByRole("button", { name: "Set password and continue" }).click();
  await expect(page.getByRole("form", { name: "Set your password" }).getByRole("alert")).toContainText("at least 10 characters");
  await fillSetPassword(page, oneTime, "an e2e password of my own");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/set-password-narrow.png" });
  await page.getByRole("button", { name: "Set password and continue" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Experiments" })).toBeVisible();
  expect((await page.request.get("/api/trpc/surfaces.list")).status()).toBe(200);
  await context.close();
});

test("anonymous visitors go to the sign-in page and come back after signing in; sign-out ends the session", async ({ browser, baseURL }) => {
  const { email, password, page: first } = await signedInAs(browser, baseURL!, "e2e-returning", ["viewer"]);
  await first.context().close();
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/models");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fmodels$/);
  await page.screenshot({ path: "e2e/screenshots/sign-in-desktop.png" });
  await submitSignIn(page, email, "not the password");
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toContainText("do not match an active account");
  await page.getByRole("textbox", { name: "Password" }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Models" })).toBeVisible();
  const cookie = (await context.cookies()).find((c) => c.name.includes("session_token"));
  expect(cookie?.httpOnly).toBe(true);
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await page.goto("/models");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fmodels$/);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/sign-in-narrow.png" });
  await context.close();
});

test("on-call rolls back with a reason, and the Audit page names them", async ({ browser, baseURL, request }) => {
  // An ML engineer (the admin's key here) ships v3 to search's production alias.
  const model = (await (await request.get(`/api/trpc/models.get?input=${encodeURIComponent(JSON.stringify({ json: { name: "search-ranker" } }))}`)).json()).result.data.json;
  const v3 = model.versions.find((v: { version: number }) => v.version === 3).id;
  expect((await request.post("/api/trpc/models.setAlias", { data: { json: { versionId: v3, alias: "production", reason: "e2e access: ship v3" } } })).status()).toBe(200);

  const { page, email } = await signedInAs(browser, baseURL!, "e2e-rollback", ["oncall"]);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto("/dashboards/oncall");
  const card = page.getByTestId("surface-search");
  await card.getByRole("button", { name: "Roll back to v2" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("confirm-changes")).toContainText("search-ranker production: v3 → v2");
  await expect(dialog.getByRole("button", { name: "Roll back to v2" })).toBeDisabled();
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e access: CTR dropped after v3");
  await page.screenshot({ path: "e2e/screenshots/access-rollback-confirm.png" });
  await dialog.getByRole("button", { name: "Roll back to v2" }).click();
  await expect(card).toContainText("→ v2");

  await page.goto(`/audit?actor=${encodeURIComponent(email)}`);
  const row = page.getByTestId("audit-entry").first();
  await expect(row.getByTestId("audit-sentence")).toHaveText(`${email} moved search-ranker production from v3 to v2`);
  await expect(row.getByTestId("audit-reason")).toContainText("e2e access: CTR dropped after v3");
  await page.screenshot({ path: "e2e/screenshots/access-audit-rollback.png", fullPage: true });
  await page.context().close();
});

test("an approval end to end: one ML engineer requests an alias move, another approves it", async ({ page, browser, baseURL, request }) => {
  const set = (required: boolean) => page.request.post("/api/trpc/approvals.setRequired", { headers: { origin: baseURL! }, data: { json: { surface: "home-feed", required, reason: "e2e approvals" } } });
  expect((await set(true)).status()).toBe(200);
  try {
    const ana = await signedInAs(browser, baseURL!, "e2e-ana", ["ml_engineer"]);
    const bo = await signedInAs(browser, baseURL!, "e2e-bo", ["ml_engineer"]);
    await ana.page.setViewportSize({ width: 1280, height: 1000 });
    await ana.page.goto("/models/search-ranker");
    await ana.page.getByRole("combobox", { name: "Version", exact: true }).click();
    await ana.page.getByRole("option", { name: "v3", exact: true }).click();
    await ana.page.getByRole("combobox", { name: "Alias", exact: true }).click();
    await ana.page.getByRole("option", { name: "production", exact: true }).click();
    await ana.page.getByRole("button", { name: "Move alias…" }).click();
    const dialog = ana.page.getByRole("dialog");
    await expect(dialog).toContainText("home-feed requires approval");
    await expect(dialog.getByTestId("confirm-changes")).toContainText("search-ranker production: v2 → v3");
    await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: v3 won offline");
    await ana.page.screenshot({ path: "e2e/screenshots/access-approval-request.png" });
    await dialog.getByRole("button", { name: "Request approval" }).click();
    await expect(ana.page.getByText("Approval requested: search-ranker production: v2 → v3")).toBeVisible();
    await expect(ana.page.getByTestId("alias-production")).toHaveText("production → v2");

    // The requester cannot approve their own request.
    await ana.page.goto("/approvals");
    const own = ana.page.getByTestId("approval-row").first();
    await expect(own).toContainText("awaiting another person");
    await expect(own.getByRole("button", { name: "Approve…" })).toHaveCount(0);

    await bo.page.setViewportSize({ width: 1280, height: 1000 });
    await bo.page.goto("/approvals");
    const row = bo.page.getByTestId("approval-row").first();
    await expect(row).toContainText("search-ranker production: v2 → v3");
    await expect(row).toContainText(ana.email);
    await bo.page.screenshot({ path: "e2e/screenshots/approvals-pending-desktop.png", fullPage: true });
    await row.getByRole("button", { name: "Approve…" }).click();
    const decide = bo.page.getByRole("dialog");
    await decide.getByLabel("Reason (kept in the audit trail)").fill("e2e: looks good");
    await decide.getByRole("button", { name: "Approve and apply" }).click();
    await bo.page.getByRole("radiogroup").getByText("All", { exact: true }).click();
    await expect(bo.page.getByTestId("approval-row").first()).toContainText("applied");
    await expect(bo.page.getByTestId("approval-row").first()).toContainText(`by ${bo.email}`);
    await bo.page.setViewportSize({ width: 390, height: 844 });
    await bo.page.reload();
    await bo.page.getByRole("radiogroup").getByText("All", { exact: true }).click();
    await expect(bo.page.getByTestId("approval-row").first()).toContainText("applied");
    await bo.page.screenshot({ path: "e2e/screenshots/approvals-narrow.png", fullPage: true });

    await ana.page.goto("/models/search-ranker");
    await expect(ana.page.getByTestId("alias-production")).toHaveText("production → v3");
    await ana.page.context().close();
    await bo.page.context().close();
  } finally {
    expect((await set(false)).status()).toBe(200);
    // Put production back on v2 for the specs after this one.
    const model = (await (await request.get(`/api/trpc/models.get?input=${encodeURIComponent(JSON.stringify({ json: { name: "search-ranker" } }))}`)).json()).result.data.json;
    const v2 = model.versions.find((v: { version: number }) => v.version === 2).id;
    await request.post("/api/trpc/models.setAlias", { data: { json: { versionId: v2, alias: "production", reason: "e2e: restore" } } });
  }
});

test("disabling an admin revokes the API keys they issued, for good: the dialog says so, and enabling them again brings none back", async ({ page, browser, baseURL }) => {
  const holder = await signedInAs(browser, baseURL!, "e2e-keyholder", ["admin"]);
  const created = await holder.page.request.post("/api/trpc/apiKeys.create", { headers: { origin: baseURL! }, data: { json: { kind: "serving", name: `e2e keyholder ${Date.now().toString(36)}` } } });
  expect(created.status()).toBe(200);
  const key = (await created.json()).result.data.json.key as string;
  const rerank = () => page.request.post("/api/v1/rerank", { headers: { authorization: `Bearer ${key}` }, data: { surface: "search", topK: 1, candidates: [{ id: "sku-00001", retrievalScore: 1 }] } });
  expect((await rerank()).status()).toBe(200);
  await holder.page.context().close();

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/admin/users");
  const row = page.getByTestId(`user-row-${holder.email}`);
  await row.getByRole("button", { name: "Disable…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("confirm-changes")).toContainText(`${holder.email} is signed out everywhere and cannot sign in`);
  await expect(dialog.getByTestId("confirm-changes")).toContainText("their API key is revoked for good (a serving key: traffic sent with it is refused from the next request); enabling them again does not bring it back");
  await page.screenshot({ path: "e2e/screenshots/users-disable-desktop.png" });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/users-disable-narrow.png" });
  await page.setViewportSize({ width: 1280, height: 900 });
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: left the team");
  await dialog.getByRole("button", { name: "Disable" }).click();
  await expect(page.getByText(`${holder.email} disabled and signed out, 1 API key revoked`)).toBeVisible();
  expect((await rerank()).status()).toBe(401);

  await row.getByRole("button", { name: "Enable…" }).click();
  await expect(dialog.getByTestId("confirm-changes")).toContainText("API keys revoked when they were disabled stay revoked: they make new ones");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: back from leave");
  await dialog.getByRole("button", { name: "Enable" }).click();
  await expect(row).toContainText("active");
  expect((await rerank()).status()).toBe(401);
});

test("an admin limits a serving key's rate on the API keys page: past its burst the key gets 429 with Retry-After; lifting the limit serves it again", async ({ page }) => {
  const name = `e2e limited ${Date.now().toString(36)}`;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/admin/api-keys");
  await page.getByRole("button", { name: "Create a key" }).click();
  const create = page.getByRole("dialog");
  await create.getByLabel("Name").fill(name);
  // One request every 5 s, two at once: the third of three requests sent at once is refused.
  await create.getByTestId("rate-limit-rate").fill("0.2");
  await create.getByTestId("rate-limit-burst").fill("2");
  await create.getByRole("button", { name: "Create", exact: true }).click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  await page.getByRole("button", { name: "Done" }).click();
  const cell = page.getByTestId(`key-limit-${name}`);
  await expect(cell).toContainText("1 request every 5 s (bursts of 2)");
  await page.screenshot({ path: "e2e/screenshots/api-keys-rate-limit-desktop.png" });
  await page.setViewportSize({ width: 390, height: 844 });
  // At phone width the navigation slides away: shot once it has (mid-slide it covered the page).
  await expect(page.getByRole("navigation", { name: "Main navigation" })).not.toBeInViewport();
  await page.screenshot({ path: "e2e/screenshots/api-keys-rate-limit-narrow.png" });
  await page.setViewportSize({ width: 1280, height: 900 });

  const rerank = () => page.request.post("/api/v1/rerank", { headers: { authorization: `Bearer ${key}` }, data: { surface: "search", topK: 1, candidates: [{ id: "sku-00001", retrievalScore: 1 }] } });
  const answers = [await rerank(), await rerank(), await rerank()];
  expect(answers.map((a) => a.status())).toEqual([200, 200, 429]);
  expect(Number(answers[2]!.headers()["retry-after"])).toBeGreaterThanOrEqual(1);
  expect((await answers[2]!.json()).error).toMatchObject({ code: "TOO_MANY_REQUESTS", message: expect.stringMatching(new RegExp(`^rate limit: API key "${name}" may send 1 request every 5 s \\(bursts of 2\\)`)) });

  await cell.getByRole("button", { name: "Change…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByTestId("rate-limit-rate").fill("");
  await expect(dialog.getByTestId("confirm-changes")).toContainText("1 request every 5 s (bursts of 2) → no limit of its own");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: the load test is over");
  await dialog.getByRole("button", { name: "Set limit" }).click();
  await expect(cell).toContainText("none");
  for (let i = 0; i < 3; i++) expect((await rerank()).status()).toBe(200);
});
