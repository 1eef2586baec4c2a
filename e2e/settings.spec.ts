import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { expect, test } from "./fixtures";

// Settings → Webhooks as an admin meets it: add a webhook to a receiver started here, copy the
// signing secret shown once, send a test message, pull a lever that notifies (the receiver fails
// one delivery with a 500: it is retried), and read every attempt in the log; the receiver checks
// every signature with the Standard Webhooks library.

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

test("an admin adds a webhook, sends a test and sees its deliveries in the log", async ({ page, request, baseURL }) => {
  const received: Received[] = [];
  const answers: number[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const status = answers.shift() ?? 204;
      if (status === 204) res.writeHead(204).end();
      else res.writeHead(status, { "content-type": "text/plain" }).end("receiver restarting");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/rerank-hooks`;
  const trpc = (path: string, json: unknown) => request.post(`/api/trpc/${path}`, { headers: { origin: baseURL! }, data: { json } });

  try {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto("/");
    await page.getByRole("navigation", { name: "Main navigation" }).getByRole("link", { name: "Webhooks" }).click();
    await expect(page.getByRole("heading", { level: 2, name: "Webhooks" })).toBeVisible();

    await page.getByRole("button", { name: "Add a webhook" }).click();
    const form = page.getByRole("dialog", { name: "Add a webhook" });
    await form.getByLabel("Name").fill("ops receiver");
    await form.getByLabel("URL").fill(url);
    await form.getByRole("button", { name: "Add", exact: true }).click();
    const secretDialog = page.getByRole("dialog", { name: 'Signing secret of "ops receiver"' });
    const secret = (await secretDialog.getByTestId("new-webhook-secret").innerText()).trim();
    expect(secret).toMatch(/^whsec_/);
    await page.screenshot({ path: "e2e/screenshots/settings-webhooks-secret.png" });
    await secretDialog.getByRole("button", { name: "Done" }).click();

    const row = page.getByTestId("webhook-row-ops receiver");
    // Masked to scheme, host and port: any part of the path may be the hook's token.
    await expect(row).toContainText(/http:\/\/127\.0\.0\.1:\d+\/…/);
    await expect(row).not.toContainText("rerank-hooks");
    await expect(row).toContainText("Kill switch");
    await row.getByRole("button", { name: "Send test" }).click();
    const log = page.getByTestId("deliveries-table");
    await expect(log.getByTestId("delivery-row").filter({ hasText: "webhook.test" })).toContainText("204");
    await expect.poll(() => received.length).toBe(1);
    const verify = (r: Received) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(verify(received[0]!)).toMatchObject({ type: "webhook.test", data: { endpoint: "ops receiver" } });

    // A lever that notifies: the kill switch on the demo surface, on and off again. The receiver
    // answers the first of those deliveries with a 500: the queue retries it after exp(1) s.
    answers.push(500);
    expect((await trpc("oncall.killSwitch", { surface: "search", on: true, reason: "e2e: webhook check" })).status()).toBe(200);
    expect((await trpc("oncall.killSwitch", { surface: "search", on: false, reason: "e2e: webhook check done" })).status()).toBe(200);
    await expect(log.getByTestId("delivery-row").filter({ hasText: "kill_switch" })).toHaveCount(3);
    await expect(log.getByTestId("delivery-row").filter({ hasText: "answered 500" })).toContainText("receiver restarting");
    await expect.poll(() => received.length).toBe(4);
    const delivered = received.slice(1).map((r) => verify(r)).map((b) => JSON.stringify([b.type, b.data.surface, b.data.on]));
    expect(new Set(delivered)).toEqual(new Set([JSON.stringify(["kill_switch", "search", true]), JSON.stringify(["kill_switch", "search", false])]));
    await expect(row).toContainText("204");
    await page.screenshot({ path: "e2e/screenshots/settings-webhooks-desktop.png", fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await expect(page.getByTestId("deliveries-list").getByTestId("delivery-item")).toHaveCount(4);
    await expect(page.getByTestId("deliveries-list").getByTestId("delivery-item").filter({ hasText: "answered 500" })).toContainText("Next retry");
    await page.screenshot({ path: "e2e/screenshots/settings-webhooks-narrow.png", fullPage: true });

    // The edit form keeps the URL unless it is retyped; deleting asks first.
    await page.setViewportSize({ width: 1280, height: 900 });
    await row.getByRole("button", { name: "More for ops receiver" }).click();
    await page.getByRole("menuitem", { name: "Edit…" }).click();
    const edit = page.getByRole("dialog", { name: 'Edit "ops receiver"' });
    await expect(edit.getByLabel("URL")).toHaveAttribute("placeholder", /^unchanged: http:\/\/127\.0\.0\.1:\d+\/…$/);
    await page.screenshot({ path: "e2e/screenshots/settings-webhooks-edit.png" });
    await edit.getByRole("button", { name: "Cancel" }).click();
    await row.getByRole("button", { name: "More for ops receiver" }).click();
    await page.getByRole("menuitem", { name: "Delete…" }).click();
    await page.getByRole("dialog", { name: 'Delete "ops receiver"' }).getByRole("button", { name: "Delete" }).click();
    await expect(page.getByTestId("webhook-row-ops receiver")).toHaveCount(0);
  } finally {
    // Leave no endpoint behind, and the kill switch off, for the specs that run after this one.
    const listed = await request.get("/api/trpc/webhooks.list");
    for (const e of ((await listed.json()).result?.data?.json ?? []) as Array<{ id: string }>) await trpc("webhooks.remove", { id: e.id });
    await trpc("oncall.killSwitch", { surface: "search", on: false, reason: "e2e: cleanup" });
    receiver.close();
  }
});
