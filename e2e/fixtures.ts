import { readFileSync } from "node:fs";
import { test as base } from "@playwright/test";
import { KEYS_FILE } from "./credentials";

// Specs import `test` from here: pages run signed in as the first admin (storageState), and the
// `request` fixture calls the APIs with an automation key that holds the admin role.

export const keys = () => JSON.parse(readFileSync(KEYS_FILE, "utf8")) as { adminKey: string; servingKey: string };

export const test = base.extend({
  request: async ({ playwright, baseURL }, provide) => {
    const context = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { authorization: `Bearer ${keys().adminKey}` } });
    await provide(context);
    await context.dispose();
  },
});

export { expect } from "@playwright/test";
