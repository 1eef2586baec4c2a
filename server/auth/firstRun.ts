import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { systemActor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { subjects } from "../domain/audit/subject";
import { createApiKey } from "./apiKeys";
import { createUser, generatePassword } from "./users";

// On a database where nobody can sign in yet, `npm start` creates the first admin and a demo
// serving key, prints both once and writes them to a file (mode 600) that `npm run simulate`, the
// benchmarks and the end-to-end tests read.

export interface FirstRunCredentials {
  adminEmail: string;
  adminPassword: string;
  apiKey: string;
}

/**
 * Creates the first admin (ADMIN_EMAIL / ADMIN_PASSWORD, else admin@rerank.local and a generated
 * password) and a serving key named "demo", unless some person can already sign in.
 * @returns the credentials when it created them, else null.
 */
export async function ensureFirstAdmin(
  db: Db,
  options: { adminEmail?: string; adminPassword?: string; credentialsFile?: string } = {},
): Promise<FirstRunCredentials | null> {
  if ((await db.account.count({ where: { providerId: "credential" } })) > 0) return null;
  const adminEmail = (options.adminEmail ?? "admin@rerank.local").toLowerCase();
  const adminPassword = options.adminPassword ?? generatePassword();
  // A person of that email without a password (an older demo seed) is replaced by the admin.
  await db.user.deleteMany({ where: { email: adminEmail, accounts: { none: {} } } });
  const { user } = await createUser(db, { email: adminEmail, name: "Admin", roles: ["admin"], password: adminPassword });
  const { key } = await createApiKey(db, { name: "demo", kind: "serving" }, user.id);
  await recordAudit(db, { action: "user.create", actor: systemActor("first-start"), subject: subjects.user(user.id, adminEmail), after: { email: adminEmail, roles: ["admin"] }, reason: "first start" });
  const credentials = { adminEmail, adminPassword, apiKey: key };
  writeCredentialsFile(options.credentialsFile ?? path.join(".data", "first-run-credentials.json"), credentials);
  return credentials;
}

/**
 * Writes the first start's credentials to `file` (mode 600). A file already there belongs to an
 * earlier database (another embedded folder, a reset): its password was shown once, so it is kept
 * beside, renamed `<name>.<ISO time>.json`, never overwritten. @returns the kept file's path, or null.
 */
export function writeCredentialsFile(file: string, credentials: FirstRunCredentials, now: Date = new Date()): string | null {
  mkdirSync(path.dirname(file), { recursive: true });
  let kept: string | null = null;
  if (existsSync(file)) {
    const { dir, name, ext } = path.parse(file);
    kept = path.join(dir, `${name}.${now.toISOString().replaceAll(":", "-")}${ext}`);
    renameSync(file, kept);
  }
  writeFileSync(file, JSON.stringify(credentials, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return kept;
}
