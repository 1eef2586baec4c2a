import { existsSync } from "node:fs";
import { defineConfig } from "@playwright/test";
import { ADMIN_STATE, E2E_ADMIN, FIRST_RUN_FILE } from "./e2e/credentials";
import { env } from "./server/config";

// End-to-end tests run the real production build behind the console's server (what `npm start`
// runs) against a fresh database that the start script creates and drops (--ephemeral), in real Chromium: Debian's /usr/bin/chromium
// when present (Playwright cannot download its own browsers offline), else Playwright's own.

const port = env().E2E_PORT;
const baseURL = `http://127.0.0.1:${port}`;
const systemChromium = "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"]] : [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: existsSync(systemChromium) ? systemChromium : undefined,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "setup", testMatch: /auth\.setup\.ts/, use: { browserName: "chromium" } },
    { name: "chromium", dependencies: ["setup"], use: { browserName: "chromium", storageState: ADMIN_STATE } },
  ],
  webServer: {
    command: `npx tsx server/cli/start.ts --ephemeral --port ${port}`,
    // The specs sign in as a dozen people from one address within a minute. One server process
    // (WORKERS=1): specs that repeat a requestId expect the process that served it (WORKERS=2 is
    // covered by server/http/lifecycle.int.test.ts).
    env: { ADMIN_EMAIL: E2E_ADMIN.email, ADMIN_PASSWORD: E2E_ADMIN.password, FIRST_RUN_CREDENTIALS_FILE: FIRST_RUN_FILE, SIGN_IN_ATTEMPTS_PER_MINUTE: "1000", WORKERS: "1" },
    url: `${baseURL}/api/health`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
  },
});
