import { readFileSync } from "node:fs";
import { test as base, type Browser, type Page } from "@playwright/test";
import type { Role } from "../server/domain/access/permissions";
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

/** Invites a person as the signed-in first admin (through tRPC, as the Users page does); returns their one-time password. */
export async function invite(browser: Browser, baseURL: string, person: { email: string; name: string; roles: Role[] }): Promise<string> {
  const admin = await browser.newContext({ baseURL, storageState: "e2e/.auth/admin.json" });
  const invited = await admin.request.post("/api/trpc/users.invite", { headers: { origin: baseURL }, data: { json: person } });
  if (invited.status() !== 200) throw new Error(`invite ${person.email}: ${invited.status()} ${await invited.text()}`);
  const password = (await invited.json()).result.data.json.password as string;
  await admin.close();
  return password;
}

/** Fills the sign-in form on `page` and submits it. */
export async function submitSignIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByRole("textbox", { name: "Password" }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Fills the set-your-password form on `page` (the one-time password, the new one twice) without submitting it. */
export async function fillSetPassword(page: Page, oneTime: string, own: string): Promise<void> {
  await page.getByRole("textbox", { name: "One-time password" }).fill(oneTime);
  await page.getByRole("textbox", { name: "New password", exact: true }).fill(own);
  await page.getByRole("textbox", { name: "New password again" }).fill(own);
}

/**
 * Invites a person with `roles` as the signed-in first admin and returns a page signed in as them
 * through the real sign-in page, past the page that makes them replace the invite's one-time
 * password with their own (`password`); the email is made unique.
 */
export async function signedInAs(browser: Browser, baseURL: string, name: string, roles: Role[]): Promise<{ page: Page; email: string; password: string }> {
  const email = `${name}-${Date.now().toString(36)}@e2e.test`;
  const password = await invite(browser, baseURL, { email, name, roles });
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/sign-in");
  await submitSignIn(page, email, password);
  await page.waitForURL(/\/account\/password/);
  const own = `${password}-their-own`;
  await fillSetPassword(page, password, own);
  await page.getByRole("button", { name: "Set password and continue" }).click();
  await page.getByTestId("user-menu").waitFor();
  return { page, email, password: own };
}
