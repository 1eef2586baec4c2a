import { afterAll, inject } from "vitest";
import { setEnv } from "../config";
import { disconnectDb } from "../db/client";
import { closeTelemetry } from "../telemetry/streams";
import { startSpare, takeClone } from "./postgres";

// Each integration test file runs on a database of its own: a clone of the run's migrated and seeded
// template (server/testing/integration-setup.ts), dropped after the file. The next file's clone is
// made while this one runs (its copy then costs the next file nothing).
const template = inject("templateDatabaseUrl");
const own = await takeClone(template);
const spare = startSpare(template).catch(() => undefined); // without a spare, the next file makes its own copy
setEnv("DATABASE_URL", own.url);
process.env.ORT_DISABLE_TELEMETRY = "1"; // for onnxruntime itself

// Registered first, so it runs after the file's own afterAll hooks (vitest runs them as a stack).
afterAll(async () => {
  // Rows still buffered go to this file's database before it is dropped (not to a database that is gone).
  await Promise.race([closeTelemetry().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  await disconnectDb();
  await Promise.all([own.drop(), spare]);
});
