import { expect, test } from "./fixtures";

// A product lead opens the executive view after some traffic with outcomes.

test("the executive view shows a surface's requests, CTR, conversion and revenue per unit", async ({ page, request }) => {
  const candidates = Array.from({ length: 30 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 30 }));
  const stamp = Date.now().toString(36);
  for (let i = 0; i < 10; i++) {
    const served = await (await request.post("/api/v1/rerank", { data: { surface: "home-feed", topK: 5, userKey: `exec-${stamp}-${i % 4}`, candidates } })).json();
    const events = served.items.map((item: { id: string; position: number }) => ({ eventId: `exec-${stamp}-${i}-${item.id}`, requestId: served.requestId, type: "impression", itemId: item.id, position: item.position }));
    if (i < 3) events.push({ eventId: `exec-${stamp}-${i}-click`, requestId: served.requestId, type: "click", itemId: served.items[0].id, position: 1 });
    // Every request of one user ends in a purchase: conversion is the share of units that bought, never over 100 %.
    if (i % 4 === 0) events.push({ eventId: `exec-${stamp}-${i}-buy`, requestId: served.requestId, type: "purchase", itemId: served.items[0].id, position: 1, revenue: 40 });
    expect((await (await request.post("/api/v1/events", { data: { events } })).json()).rejected).toEqual([]);
  }
  // A client that sends clicks and no impressions: its clicks are no click-throughs (CTR read 200 % with them).
  for (let i = 0; i < 3; i++) {
    const served = await (await request.post("/api/v1/rerank", { data: { surface: "home-feed", topK: 5, userKey: `exec-${stamp}-clicks-only`, candidates } })).json();
    const events = served.items.slice(0, 3).map((item: { id: string; position: number }) => ({ eventId: `exec-${stamp}-only-${i}-${item.id}`, requestId: served.requestId, type: "click", itemId: item.id, position: item.position }));
    expect((await (await request.post("/api/v1/events", { data: { events } })).json()).rejected).toEqual([]);
  }
  await page.setViewportSize({ width: 1280, height: 1000 });
  await expect(async () => {
    await page.goto("/dashboards/executive");
    const card = page.getByTestId("exec-home-feed");
    expect(Number((await card.getByTestId("kpi-requests").textContent())!.replaceAll(",", ""))).toBeGreaterThanOrEqual(10);
    const ctr = (await card.getByTestId("kpi-ctr").textContent())!;
    expect(ctr).toMatch(/^\d+\.\d{2}%$/);
    expect(Number(ctr.replace("%", ""))).toBeLessThanOrEqual(100);
    expect(Number(await card.getByTestId("kpi-rps").textContent())).toBeGreaterThan(0);
    const conversion = Number((await card.getByTestId("kpi-conversion").textContent())!.replace("%", ""));
    expect(conversion).toBeGreaterThan(0);
    expect(conversion).toBeLessThanOrEqual(100);
  }).toPass({ timeout: 20_000 });
  await expect(page.getByTestId("exec-home-feed")).toContainText("Revenue per unit");
  await page.screenshot({ path: "e2e/screenshots/executive.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "e2e/screenshots/executive-narrow.png", fullPage: true });
});
