import { ConfigError, takeSettings } from "../config";
import type { Db } from "../db/client";

// ADMIN_EMAIL and ADMIN_PASSWORD choose the first admin of an empty database and nothing else. Parsed
// with the rest of the configuration, a bad one (ADMIN_PASSWORD=short) stopped every command at once,
// even `npm start` on a database that already has its admin, where the value is ignored (break test:
// the start refused; the line saying it is ignored never came). So the commands take them out of the
// environment before the configuration is parsed (their children — the server, the migration runner
// — never see them either), and a bad value stops a command only where it would be used: on a
// database where nobody can sign in yet.

/** ADMIN_EMAIL and ADMIN_PASSWORD as the operator set them (takeAdminSettings). */
export interface AdminSettings {
  /** The values when both are valid (unset ones undefined); both undefined when `problem` is set. */
  adminEmail?: string;
  adminPassword?: string;
  /** Which of the two were set (even to a bad value), for the line saying they are ignored. */
  set: { adminEmail: boolean; adminPassword: boolean };
  /** What is wrong with them, as the configuration says it ("ADMIN_PASSWORD must be 8 to 128 characters, got a value of 5 characters"); null when nothing is. */
  problem: string | null;
}

/**
 * Takes ADMIN_EMAIL and ADMIN_PASSWORD out of this process's environment and returns them checked as
 * the configuration checks them (server/config.ts takeSettings). Call before loadConfigOrExit. A bad
 * value is returned as `problem`, not thrown (refuseBadAdminSettings decides).
 */
export function takeAdminSettings(): AdminSettings {
  const taken = takeSettings(["ADMIN_EMAIL", "ADMIN_PASSWORD"]);
  return {
    adminEmail: taken.values.ADMIN_EMAIL,
    adminPassword: taken.values.ADMIN_PASSWORD,
    set: { adminEmail: taken.set.ADMIN_EMAIL, adminPassword: taken.set.ADMIN_PASSWORD },
    problem: taken.problems.length > 0 ? taken.problems.join("; ") : null,
  };
}

/** Whether nobody can sign in to `db` yet (no password account): the database the first admin is created on, as ensureFirstAdmin (server/auth/firstRun.ts) decides it. */
export async function needsFirstAdmin(db: Db): Promise<boolean> {
  return (await db.account.count({ where: { providerId: "credential" } })) === 0;
}

/**
 * Throws the configuration's error for a bad ADMIN_EMAIL or ADMIN_PASSWORD when it would be used:
 * `db` has nobody who signs in yet (the first admin would be made of it). On a database that has its
 * people, a bad value is ignored like a good one (the caller says so: ignoredAdminSettingsLine).
 * @throws ConfigError (`Configuration: ADMIN_PASSWORD must be …`).
 */
export async function refuseBadAdminSettings(settings: AdminSettings, db: Db): Promise<void> {
  if (settings.problem === null) return;
  if (await needsFirstAdmin(db)) throw new ConfigError([`${settings.problem} (this database has nobody who signs in yet: it would be its first admin's)`]);
}
