import { readFileSync } from "node:fs";
import path from "node:path";
import type { Db } from "../db/client";
import { loadedModels, type LoadedModel } from "../inference/sessions";
import { withDeadline } from "../domain/time/deadline";
import { mapError } from "../errorMapping";
import { logInternalError } from "../redact";

export interface Health {
  status: "ok" | "degraded";
  version: string;
  uptimeSeconds: number;
  database: { reachable: boolean; latencyMs: number | null; error: string | null };
  migrationLevel: string | null;
  /** The models this process has open, for a signed-in caller only (names, versions and hashes are not the public's: a break test read them anonymously). */
  models?: LoadedModel[];
}

let version: string | undefined;
function appVersion(): string {
  version ??= (JSON.parse(readFileSync(path.join(process.cwd(), "package.json"), "utf8")) as { version: string }).version;
  return version;
}

const HEALTH_DB_TIMEOUT_MS = 2000;

/** The newest finished migration in _prisma_migrations (kept by server/db/migrate.ts). */
async function appliedLevel(db: Db): Promise<string | null> {
  const rows = await db.$queryRaw<Array<{ migration_name: string }>>`
    SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL
    ORDER BY migration_name DESC LIMIT 1`;
  return rows[0]?.migration_name ?? null;
}

const NO_ANSWER = `no answer within ${HEALTH_DB_TIMEOUT_MS} ms`;

/**
 * Why the database check failed, in plain words for anyone who may read /api/health (it is public:
 * load balancers probe it): no answer in time, or the mapped message (server/errorMapping.ts), never
 * a driver's text; the error itself goes to the server's log.
 */
function unreachableReason(error: unknown): string {
  if (error instanceof Error && error.message === NO_ANSWER) return NO_ANSWER;
  logInternalError("[health] database check", error);
  return mapError(error, "reading the migration level").message;
}

/**
 * This process's health: the database's reachability and latency, the migration level, and with
 * `withModels` (a signed-in caller) the models it has open. Never throws.
 */
export async function getHealth(db: Db, options: { withModels: boolean }): Promise<Health> {
  const started = performance.now();
  let database: Health["database"];
  let migrationLevel: string | null = null;
  try {
    migrationLevel = await withDeadline(appliedLevel(db), HEALTH_DB_TIMEOUT_MS, () => {
      throw new Error(NO_ANSWER);
    });
    database = { reachable: true, latencyMs: Math.round((performance.now() - started) * 100) / 100, error: null };
  } catch (error) {
    database = { reachable: false, latencyMs: null, error: unreachableReason(error) };
  }
  return {
    status: database.reachable ? "ok" : "degraded",
    version: appVersion(),
    uptimeSeconds: Math.round(process.uptime()),
    database,
    migrationLevel,
    ...(options.withModels ? { models: loadedModels() } : {}),
  };
}
