import { afterAll, inject } from "vitest";
import { setEnv } from "../config";
import { disconnectDb } from "../db/client";

setEnv("DATABASE_URL", inject("databaseUrl"));
process.env.ORT_DISABLE_TELEMETRY = "1"; // for onnxruntime itself

afterAll(async () => {
  await disconnectDb();
});
