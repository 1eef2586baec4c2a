import { expect, signedInAs, test } from "./fixtures";

// Approvals reach every way a guarded surface's ranking can change (review s11 item 1, issue #14):
// stage 2 of a guarded surface's cascade is a change request, and the Models page's alias dialog
// lists every surface an alias reaches (serving, stage 2, …) before the press. A started experiment's
// restart with changes is a request too, filed from its restart dialog.

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

test("a restart with changes of a running experiment on a guarded surface is requested from its restart dialog, listed with each change, and applied by another person's approval", async ({ page, baseURL, browser }) => {
  test.setTimeout(120_000);
  const key = `e2e-rst-${Date.now().toString(36)}`;
  const trpc = (path: string, json: unknown) => page.request.post(`/api/trpc/${path}`, { headers: { origin: baseURL! }, data: { json } });
  const guard = (required: boolean) => trpc("approvals.setRequired", { surface: "home-feed", required, reason: "e2e restart approvals" });
  const experiment = {
    key, name: "Restart me", surface: "home-feed", owner: "pm@rerank.local", hypothesis: "",
    variants: [{ key: "control", name: "Current model", weight: 0.5, isControl: true, modelAlias: "fallback" }, { key: "treatment", name: "New model", weight: 0.5, modelAlias: "production" }],
  };
  expect((await trpc("experiments.create", experiment)).status()).toBe(200);
  expect((await trpc("experiments.start", { key })).status()).toBe(200);
  expect((await guard(true)).status()).toBe(200);
  try {
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto(`/experiments/${key}/edit`);
    await page.getByRole("textbox", { name: "variant 1 weight" }).fill("20");
    await page.getByRole("textbox", { name: "variant 2 weight" }).fill("80");
    await page.getByRole("button", { name: "Restart with changes…" }).click();
    const dialog = page.getByRole("dialog", { name: "Request restart with changes" });
    await expect(dialog.getByTestId("restart-approval")).toContainText("home-feed requires approval");
    await dialog.getByRole("textbox", { name: "Reason (kept in the audit log)" }).fill("e2e: ramp treatment to 80 %");
    await dialog.getByRole("button", { name: "Request restart" }).click();
    await expect(page.getByText(`Approval requested: restart experiment ${key} with changes on home-feed`)).toBeVisible();
    // Nothing changed yet: still phase 1.
    await expect(page.getByTestId("experiment-status")).toHaveText("running");
    await expect(page.getByText("phase 1", { exact: true })).toBeVisible();

    await page.goto("/approvals");
    const row = page.getByTestId("approval-row").filter({ hasText: key });
    await expect(row).toContainText("experiment restart");
    await expect(row.getByTestId("approval-summary")).toContainText(`restart experiment ${key} with changes on home-feed: phase 1 ends and phase 2 starts, running`);
    await expect(row.getByTestId("approval-summary")).toContainText(/variants: control 50 % \(control, fallback, search-ranker v\d+\), treatment 50 % \(production, search-ranker v\d+\) → control 20 % .*, treatment 80 %/);
    await expect(row).toContainText("awaiting another person");
    await page.screenshot({ path: "e2e/screenshots/approvals-experiment-restart.png", fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: "e2e/screenshots/approvals-experiment-restart-390.png", fullPage: true });

    // A competing restart (other weights), filed meanwhile: both wait, side by side.
    const competing = await trpc("approvals.request", {
      change: { kind: "experiment_restart", key, experiment: { ...experiment, variants: [{ ...experiment.variants[0], weight: 0.7 }, { ...experiment.variants[1], weight: 0.3 }] } },
      reason: "e2e: a gentler ramp",
    });
    expect(competing.status()).toBe(200);
    const competingId = ((await competing.json()) as { result: { data: { json: { id: string } } } }).result.data.json.id;

    // Another product manager approves it: phase 2 runs with the new weights.
    const pm = await signedInAs(browser, baseURL!, "e2e-rst-pm", ["pm"]);
    await pm.page.setViewportSize({ width: 1280, height: 1000 });
    await pm.page.goto("/approvals");
    const pending = pm.page.getByTestId("approval-row").filter({ hasText: key }).filter({ hasText: "e2e: ramp treatment to 80 %" });
    await pending.getByRole("button", { name: "Approve…" }).click();
    const decide = pm.page.getByRole("dialog");
    await expect(decide.getByTestId("confirm-changes")).toContainText("treatment 80 %");
    await decide.getByLabel("Reason (kept in the audit trail)").fill("e2e: ramp checked");
    await decide.getByRole("button", { name: "Approve and apply" }).click();
    await expect(pm.page.getByText("Request applied")).toBeVisible();
    // The competing request now says why it cannot be approved (what its approval's 409 would say), and its Approve… is off.
    const stale = pm.page.getByTestId("approval-row").filter({ hasText: "e2e: a gentler ramp" });
    await expect(stale.getByTestId("approval-stale")).toHaveText(`Cannot be approved now: experiment "${key}" changed since the request was filed (phase 1 → 2, variants): not restarted; file a new request for it as it is now`);
    await expect(stale.getByRole("button", { name: "Approve…" })).toBeDisabled();
    await stale.scrollIntoViewIfNeeded();
    await pm.page.screenshot({ path: "e2e/screenshots/approvals-stale.png" });
    await pm.page.setViewportSize({ width: 390, height: 844 });
    await stale.getByTestId("approval-stale").scrollIntoViewIfNeeded();
    await expect(stale.getByTestId("approval-stale")).toBeInViewport();
    await pm.page.screenshot({ path: "e2e/screenshots/approvals-stale-390.png" });
    await pm.page.setViewportSize({ width: 1280, height: 1000 });
    expect((await trpc("approvals.cancel", { id: competingId })).status()).toBe(200);
    await pm.page.goto(`/experiments/${key}`);
    await expect(pm.page.getByRole("combobox", { name: "phase to show" })).toHaveValue("phase 2 (current)");
    await expect(pm.page.getByTestId("experiment-status")).toHaveText("running");
    await pm.page.context().close();
  } finally {
    expect((await guard(false)).status()).toBe(200);
    await trpc("experiments.stop", { key, reason: "e2e over" });
  }
});

test("Request start… on a guarded surface pins what its dialog showed: an allocation changed since is refused when filed, naming it; as it is now, it is filed", async ({ page, baseURL }) => {
  const key = `e2e-rqs-${Date.now().toString(36)}`;
  const trpc = (path: string, json: unknown) => page.request.post(`/api/trpc/${path}`, { headers: { origin: baseURL! }, data: { json } });
  const guard = (required: boolean) => trpc("approvals.setRequired", { surface: "home-feed", required, reason: "e2e start approvals" });
  const experiment = (weights: [number, number]) => ({
    key, name: "Start me", surface: "home-feed", owner: "pm@rerank.local", hypothesis: "",
    variants: [{ key: "control", name: "Current model", weight: weights[0], isControl: true, modelAlias: "fallback" }, { key: "treatment", name: "New model", weight: weights[1], modelAlias: "production" }],
  });
  expect((await trpc("experiments.create", experiment([0.5, 0.5]))).status()).toBe(200);
  expect((await guard(true)).status()).toBe(200);
  try {
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.goto(`/experiments/${key}`);
    await page.getByRole("button", { name: "Request start…" }).click();
    const dialog = page.getByRole("dialog", { name: `Request to start ${key}` });
    await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: ready");
    // Another tab moves the split to 10/90 while this dialog shows 50/50.
    expect((await trpc("experiments.update", experiment([0.1, 0.9]))).status()).toBe(200);
    await dialog.getByRole("button", { name: "Request approval" }).click();
    await expect(page.getByText(`experiment "${key}" changed since it was shown (variants): no request filed; look at it again and decide`)).toBeVisible();
    await page.screenshot({ path: "e2e/screenshots/experiment-request-start-stale.png" });
    // Opened again, the dialog shows the experiment as it is now, and the request is filed.
    await page.reload();
    await page.getByRole("button", { name: "Request start…" }).click();
    const again = page.getByRole("dialog", { name: `Request to start ${key}` });
    await again.getByLabel("Reason (kept in the audit trail)").fill("e2e: ready, 10/90");
    await again.getByRole("button", { name: "Request approval" }).click();
    await expect(page.getByText(`Approval requested: start experiment ${key}`)).toBeVisible();
    await expect(page.getByText(/control 10 %/).first()).toBeVisible();
  } finally {
    expect((await guard(false)).status()).toBe(200);
  }
});
