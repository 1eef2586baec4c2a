import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { expect, test as setup } from "@playwright/test";
import { ADMIN_STATE, AUTH_DIR, E2E_ADMIN, FIRST_RUN_FILE, KEYS_FILE } from "./credentials";
import { submitSignIn } from "./fixtures";

// Signs in as the first admin through the real sign-in page, keeps the session for the other
// specs, and creates an automation key with the admin role for the specs' API calls.

setup("sign in as the first admin and create an API key for the specs", async ({ page, baseURL }) => {
  mkdirSync(AUTH_DIR, { recursive: true });
  const firstRun = JSON.parse(readFileSync(FIRST_RUN_FILE, "utf8")) as { adminEmail: string; apiKey: string };
  expect(firstRun.adminEmail).toBe(E2E_ADMIN.email);

  await page.goto("/experiments");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fexperiments$/);
  await submitSignIn(page, E2E_ADMIN.email, E2E_ADMIN.password);
  await expect(page.getByRole("heading", { level: 2, name: "Experiments" })).toBeVisible();
  await page.context().storageState({ path: ADMIN_STATE });

  const created = await page.request.post("/api/trpc/apiKeys.create", {
    headers: { origin: baseURL! },
    data: { json: { kind: "automation", name: "e2e specs", roles: ["admin"], expiresAt: null } },
  });
  expect(created.status()).toBe(200);
  const adminKey = (await created.json()).result.data.json.key as string;
  writeFileSync(KEYS_FILE, JSON.stringify({ adminKey, servingKey: firstRun.apiKey }));
});
