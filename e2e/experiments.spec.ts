import type { APIRequestContext } from "@playwright/test";
import { assignVariant } from "../server/domain/assignment/assign";
import { experimentInputSchema } from "../server/experiments/schema";
import { expect, signedInAs, test } from "./fixtures";

// A product manager creates an experiment between the two demo rankers, starts it, traffic with
// clicks arrives, and the results page shows per-variant metrics with confidence intervals.

async function sendTraffic(request: APIRequestContext, users: number) {
  const candidates = Array.from({ length: 40 }, (_, i) => ({ id: `sku-${String(i * 7 + 3).padStart(5, "0")}`, retrievalScore: 1 - i / 40 }));
  for (let u = 0; u < users; u++) {
    const response = await request.post("/api/v1/rerank", { data: { surface: "home-feed", topK: 10, userKey: `e2e-user-${u}`, candidates } });
    expect(response.status()).toBe(200);
    const body = await response.json();
    // Users click the first item more often under the treatment.
    const clicks = body.variant?.key === "treatment" ? u % 3 !== 0 : u % 3 === 0;
    const events = [
      ...body.items.slice(0, 5).map((item: { id: string; position: number }) => ({ eventId: `${body.requestId}-i${item.position}`, requestId: body.requestId, type: "impression", itemId: item.id, position: item.position })),
      ...(clicks ? [{ eventId: `${body.requestId}-c`, requestId: body.requestId, type: "click", itemId: body.items[0].id, position: 1 }] : []),
    ];
    expect((await request.post("/api/v1/events", { data: { events } })).status()).toBe(200);
  }
}

test("create, start, collect traffic and read the results; a product manager ships it", async ({ page, request, browser, baseURL }) => {
  test.setTimeout(120_000);
  const key = `e2e-exp-${Date.now().toString(36)}`;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/experiments");
  await page.getByRole("link", { name: "New experiment" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "New experiment" })).toBeVisible();
  await page.getByRole("textbox", { name: "Key", exact: true }).fill(key);
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Linear vs popularity on the home feed");
  await page.getByLabel("Hypothesis").fill("The linear ranker raises CTR");
  await page.getByRole("combobox", { name: "Surface" }).click();
  await page.getByRole("option", { name: "Home feed" }).click();
  await expect(page.getByRole("combobox", { name: "variant 1 model" })).toHaveValue(/fallback/);
  // Guardrails: two defaults (fallback rate, p95 latency), and the PM adds a CTR floor.
  await expect(page.getByTestId("guardrail-row")).toHaveCount(2);
  await page.getByRole("button", { name: "Add guardrail" }).click();
  await expect(page.getByTestId("guardrail-row")).toHaveCount(3);
  await expect(page.getByRole("textbox", { name: "guardrail 3 threshold %" })).toHaveValue("5%");
  await page.screenshot({ path: "e2e/screenshots/experiment-new.png", fullPage: true });
  await page.getByRole("button", { name: "Create experiment" }).click();

  await expect(page.getByRole("heading", { level: 2, name: "Linear vs popularity on the home feed" })).toBeVisible();
  await expect(page.getByTestId("experiment-status")).toHaveText("draft");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("running");
  // Replicas pick up the running experiment within a second.
  await page.waitForTimeout(1500);

  await sendTraffic(request, 240);
  await page.waitForTimeout(1000); // the telemetry writer flushes every 200 ms
  await page.reload();
  await expect(page.getByTestId("units-control")).not.toHaveText("0 units");
  const table = page.getByTestId("metrics-table");
  await expect(table).toContainText("CTR");
  await expect(table).toContainText("treatment");
  await expect(table.getByLabel(/95% CI/).first()).toBeVisible();
  // One verdict, from the configured (sequential) engine; the others are secondary and labelled.
  await expect(page.getByTestId("experiment-summary")).toContainText("CTR");
  await expect(page.getByTestId("experiment-summary")).toContainText("decided by the sequential");
  await expect(page.getByTestId("verdict-decision")).toBeVisible();
  await expect(table).toContainText("not used for the decision");
  await expect(table).toContainText("bayesian: P(better)");
  // What each variant served, and since when.
  await expect(page.getByTestId("served-control")).toContainText("alias fallback →");
  await expect(page.getByTestId("served-treatment")).toContainText(/alias production → \S+ v\d/);
  await expect(page.getByTestId("experiment-dates")).toContainText("running for");
  await expect(page.getByTestId("guardrails")).toContainText("p95 latency must not rise by more than 20%");
  await expect(page.getByTestId("multiple-exposures")).toContainText("0 units in more than one arm");
  await expect(page.locator("body")).not.toContainText("NaN");
  // The lift over time loads as a panel of its own (its own query, every minute) and draws the treatment's lift.
  await expect(page.getByTestId("lift-over-time").getByText("treatment lift")).toBeVisible();
  await expect(page.getByText("the chart refreshes every minute, the table every 10 seconds", { exact: false })).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/experiment-results.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/experiment-results-narrow.png", fullPage: true });
  // Leave the home feed to the next experiment: the first running experiment enrols its traffic.
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("stopped");

  // A product manager ships the treatment (production's own version: nothing else moves) through the
  // confirm dialog, which names the change and asks why.
  const pm = await signedInAs(browser, baseURL!, "e2e-pm-ship", ["pm"]);
  await pm.page.setViewportSize({ width: 1280, height: 900 });
  await pm.page.goto(`/experiments/${key}`);
  await pm.page.getByRole("combobox", { name: "variant to ship" }).click();
  await pm.page.getByRole("option", { name: "treatment", exact: true }).click();
  await pm.page.getByRole("button", { name: "Ship…" }).click();
  const dialog = pm.page.getByRole("dialog");
  await expect(dialog.getByTestId("confirm-changes")).toContainText(/home-feed: production v2 → search-ranker v\d+ \(what treatment served in phase 1\)/);
  const override = dialog.getByTestId("ship-override");
  if (await override.count()) await override.check(); // small samples can trip a guardrail
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: treatment wins on CTR");
  await pm.page.screenshot({ path: "e2e/screenshots/experiment-ship-confirm.png" });
  await dialog.getByRole("button", { name: /Ship|Override and ship/ }).click();
  await expect(pm.page.getByTestId("experiment-status")).toHaveText("shipped");
  // The page says it shipped, when and by whom.
  await expect(pm.page.getByTestId("shipped-by")).toContainText(`by ${pm.email}`);
  await pm.page.getByRole("radiogroup", { name: "Lift chart points" }).getByText("Hourly", { exact: true }).click();
  await expect(pm.page.getByText("(hourly)", { exact: true })).toBeVisible();
  await pm.page.context().close();
});

test("edit a running experiment: metrics save, an allocation change needs a restart into a new phase", async ({ page }) => {
  test.setTimeout(90_000);
  const key = `e2e-edit-${Date.now().toString(36)}`;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/experiments/new");
  await page.getByRole("textbox", { name: "Key", exact: true }).fill(key);
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Edit me");
  // On the home feed: the serving spec expects the search surface's production model.
  await page.getByRole("combobox", { name: "Surface" }).click();
  await page.getByRole("option", { name: "Home feed" }).click();
  await expect(page.getByRole("combobox", { name: "variant 1 model" })).toHaveValue(/fallback/);
  await page.getByRole("button", { name: "Create experiment" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("draft");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("running");

  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Edit Edit me" })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Key", exact: true })).toBeDisabled();
  await expect(page.getByTestId("locked-fields")).toContainText("This experiment is running (phase 1): some fields are locked");
  // A change outside the allocation and the decision rule (the hypothesis) saves while running.
  await page.getByLabel("Hypothesis").fill("Rating-aware ranking lifts CTR");
  await page.screenshot({ path: "e2e/screenshots/experiment-edit.png", fullPage: true });
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Hypothesis: Rating-aware ranking lifts CTR", { exact: false })).toBeVisible();
  await expect(page.getByTestId("experiment-status")).toHaveText("running");
  await expect(page.getByText("phase 1", { exact: true })).toBeVisible();

  // A weight change is refused by "Save" (naming what changed) and applied by a restart.
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByRole("textbox", { name: "variant 1 weight" }).fill("80");
  await page.getByRole("textbox", { name: "variant 2 weight" }).fill("20");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByTestId("experiment-error")).toContainText("changing variants needs a restart");
  await page.getByRole("button", { name: "Restart with changes…" }).click();
  await page.getByRole("textbox", { name: "Reason (kept in the audit log)" }).fill("ramp control to 80%");
  await page.getByRole("button", { name: "Restart", exact: true }).click();
  // With an earlier phase, the phase badge becomes the picker of the phase shown.
  await expect(page.getByRole("combobox", { name: "phase to show" })).toHaveValue("phase 2 (current)");
  await expect(page.getByTestId("experiment-status")).toHaveText("running");
  await page.screenshot({ path: "e2e/screenshots/experiment-restarted.png", fullPage: true });
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("stopped");
  // Starting a stopped experiment resumes it in a new phase: a confirm dialog says so first.
  await page.getByRole("button", { name: "Start…" }).click();
  const resume = page.getByRole("dialog", { name: "Resume" });
  await expect(page.getByTestId("confirm-changes")).toContainText("phase 2's results");
  await expect(page.getByTestId("confirm-changes")).toContainText("this page will show phase 3");
  await page.getByRole("textbox", { name: "Reason (kept in the audit trail)" }).fill("resume after the review");
  await page.getByRole("button", { name: "Resume in phase 3" }).click();
  await expect(resume).toHaveCount(0);
  await expect(page.getByTestId("experiment-status")).toHaveText("running");
  // The earlier phases stay readable.
  await page.getByRole("combobox", { name: "phase to show" }).click();
  await page.getByRole("option", { name: "phase 2", exact: true }).click();
  await expect(page.getByTestId("earlier-phase")).toContainText("Showing phase 2 of 3");
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("stopped");
});

test("an interleaving experiment has its own results: wins, sign test, credit by position", async ({ page, request }) => {
  test.setTimeout(120_000);
  const key = `e2e-il-${Date.now().toString(36)}`;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/experiments/new");
  await page.getByRole("textbox", { name: "Key", exact: true }).fill(key);
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Interleaved linear vs popularity");
  await page.getByRole("combobox", { name: "Surface" }).click();
  await page.getByRole("option", { name: "Home feed" }).click();
  await expect(page.getByRole("combobox", { name: "variant 1 model" })).toHaveValue(/fallback/);
  await page.getByText("Interleaving", { exact: true }).click();
  await page.getByRole("button", { name: "Create experiment" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("draft");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("running");
  await page.waitForTimeout(1500);

  // Users click the treatment ranker's first item in every interleaved list.
  const candidates = Array.from({ length: 40 }, (_, i) => ({ id: `sku-${String(i * 7 + 3).padStart(5, "0")}`, retrievalScore: 1 - i / 40 }));
  let clicked = 0;
  for (let u = 0; u < 40; u++) {
    const body = await (await request.post("/api/v1/rerank", { data: { surface: "home-feed", topK: 10, userKey: `e2e-il-${key}-${u}`, candidates } })).json();
    const mine = body.items.find((i: { reasons: string[] }) => i.reasons.includes("interleaving:treatment"));
    if (!mine) continue;
    clicked++;
    const events = [{ eventId: `${body.requestId}-c`, requestId: body.requestId, type: "click", itemId: mine.id, position: mine.position }];
    expect((await (await request.post("/api/v1/events", { data: { events } })).json()).rejected).toEqual([]);
  }
  expect(clicked).toBeGreaterThan(10);
  await page.waitForTimeout(1000);
  await page.reload();
  const card = page.getByTestId("interleaving-results");
  await expect(card).toContainText(`treatment: ${clicked} wins`);
  await expect(card).toContainText("sign test p =");
  await expect(page.getByTestId("credit-by-position")).toBeVisible();
  await expect(page.getByTestId("verdict-decision")).toHaveText("ship treatment");
  // Not the A/B table with empty panels: no metrics table, no guardrail or sample-ratio card.
  await expect(page.getByTestId("metrics-table")).toHaveCount(0);
  await expect(page.getByTestId("guardrails")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText("NaN");
  await page.screenshot({ path: "e2e/screenshots/experiment-interleaving.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/experiment-interleaving-narrow.png", fullPage: true });
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByTestId("experiment-status")).toHaveText("stopped");
});

test("a ship blocked by the sample-ratio banner goes through with an override and a reason", async ({ page, request, browser, baseURL }) => {
  test.setTimeout(120_000);
  const key = `e2e-srm-${Date.now().toString(36)}`;
  const seed = `${key}-seed`;
  const input = experimentInputSchema.parse({
    key, name: "A broken split", surface: "home-feed", owner: "pm@e2e.test", hypothesis: "logging loses the treatment arm", seed,
    variants: [
      { key: "control", name: "popularity", weight: 0.5, isControl: true, modelAlias: "fallback" },
      { key: "treatment", name: "linear", weight: 0.5, modelAlias: "production" },
    ],
  });
  expect((await request.post("/api/trpc/experiments.create", { data: { json: input } })).status()).toBe(200);
  expect((await request.post("/api/trpc/experiments.start", { data: { json: { key } } })).status()).toBe(200);
  await page.waitForTimeout(1500); // replicas pick the experiment up within a second
  // Only users the hash sends to control get served: 40 vs 0 at 50/50, a sample-ratio mismatch.
  const def = { key, seed, hashVersion: 2 as const, hashAttribute: "userKey" as const, coverage: 1, variants: [{ key: "control", weight: 0.5 }, { key: "treatment", weight: 0.5 }], namespace: null, targeting: [], phase: 1 };
  const candidates = Array.from({ length: 20 }, (_, i) => ({ id: `sku-${String(i * 7 + 3).padStart(5, "0")}`, retrievalScore: 1 - i / 20 }));
  let sent = 0;
  for (let u = 0; sent < 40; u++) {
    const userKey = `${key}-u${u}`;
    const a = assignVariant(def, { userKey, attributes: {} });
    if (!a.inExperiment || a.variant !== "control") continue;
    const body = await (await request.post("/api/v1/rerank", { data: { surface: "home-feed", topK: 5, userKey, candidates } })).json();
    expect(body.variant?.key).toBe("control");
    sent++;
  }
  await page.waitForTimeout(1000); // the request log flushes every 200 ms

  const pm = await signedInAs(browser, baseURL!, "e2e-pm-srm", ["pm"]);
  await pm.page.setViewportSize({ width: 1280, height: 900 });
  await pm.page.goto(`/experiments/${key}`);
  await expect(pm.page.getByTestId("verdict-decision")).toBeVisible();
  await expect(pm.page.getByTestId("srm-banner")).toBeVisible();
  await pm.page.getByRole("combobox", { name: "variant to ship" }).click();
  await pm.page.getByRole("option", { name: "treatment", exact: true }).click();
  await pm.page.getByRole("button", { name: "Ship…" }).click();
  const dialog = pm.page.getByRole("dialog");
  await expect(dialog).toContainText("Blocked: sample-ratio mismatch: the split does not match the weights (χ² = 40.0");
  await dialog.getByLabel("Reason (kept in the audit trail)").fill("e2e: the treatment's logging was broken, INC-5");
  // Without the override the server refuses; with it, the ship goes through.
  await dialog.getByRole("button", { name: "Override and ship" }).click();
  await expect(pm.page.getByText("Tick the override to ship past the checks")).toBeVisible();
  await dialog.getByTestId("ship-override").check();
  await pm.page.screenshot({ path: "e2e/screenshots/experiment-ship-override.png" });
  await dialog.getByRole("button", { name: "Override and ship" }).click();
  await expect(pm.page.getByTestId("experiment-status")).toHaveText("shipped");
  await pm.page.goto(`/audit?action=experiment.ship`);
  await expect(pm.page.getByTestId("audit-entry").first().getByTestId("audit-reason")).toContainText("override of sample-ratio mismatch");
  await pm.page.context().close();
});
