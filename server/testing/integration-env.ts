import { afterAll, inject } from "vitest";
import { disconnectDb } from "../db/client";

process.env.DATABASE_URL = inject("databaseUrl");
process.env.ORT_DISABLE_TELEMETRY = "1";

afterAll(async () => {
  await disconnectDb();
});
