import { afterAll, inject } from "vitest";
import { setEnv } from "../config";
import { disconnectDb } from "../db/client";
import { cloneDatabase } from "./postgres";

// Each integration test file runs on a database of its own: a clone of the run's migrated and seeded
// template (server/testing/integration-setup.ts), dropped after the file.
const own = await cloneDatabase(inject("templateDatabaseUrl"));
setEnv("DATABASE_URL", own.url);
process.env.ORT_DISABLE_TELEMETRY = "1"; // for onnxruntime itself

// Registered first, so it runs after the file's own afterAll hooks (vitest runs them as a stack).
afterAll(async () => {
  await disconnectDb();
  await own.drop();
});
