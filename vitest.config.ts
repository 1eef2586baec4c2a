import os from "node:os";
import path from "node:path";
import { defineConfig } from "vitest/config";

// Two projects: "unit" (pure modules, no I/O) and "integration" (*.int.test.ts, real PostgreSQL: each
// test file on a database of its own, cloned from one migrated and seeded for the run; server/testing/).
export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    projects: [
      {
        extends: true,
        // CPU-bound property tests and simulations assert results, not time: on a loaded machine they need
        // more than vitest's 5 s default.
        test: { name: "unit", testTimeout: 60_000, include: ["server/**/*.test.ts", "app/**/*.test.ts"], exclude: ["**/*.int.test.ts", "node_modules/**"] },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["server/**/*.int.test.ts"],
          globalSetup: ["server/testing/integration-setup.ts"],
          setupFiles: ["server/testing/integration-env.ts"],
          testTimeout: 60_000,
          // Short breaker reset and config polling so the serving tests see state changes quickly.
          // A generous feature-read deadline: on a shared machine a first read can take longer than the default share of a 50 ms budget.
          env: { BREAKER_RESET_MS: "300", CONFIG_WATCH_INTERVAL_MS: "100", FEATURE_READ_BUDGET_SHARE: "10", TELEMETRY_SPILL_DIR: path.join(os.tmpdir(), `rerank-spill-${process.pid}`) },
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
