import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { systemActor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { subjects } from "../domain/audit/subject";
import { createApiKey } from "./apiKeys";
import { insertUser, newPassword } from "./users";

// On a database where nobody can sign in yet, `npm start` creates the first admin and a demo
// serving key, prints both once and writes them to a file (mode 600) that `npm run simulate`, the
// benchmarks and the end-to-end tests read. A new database later (a reset, another embedded folder
// or DATABASE_URL) gets a new file; the one before is kept once as `<name>.previous.json` (its
// password was shown only once and may still open that database), older ones are removed, and both
// are said in the start's log, so live admin passwords neither pile up nor vanish unnoticed.

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
  options: { adminEmail?: string; adminPassword?: string; credentialsFile?: string; log?: (line: string) => void } = {},
): Promise<FirstRunCredentials | null> {
  if ((await db.account.count({ where: { providerId: "credential" } })) > 0) return null;
  const adminEmail = (options.adminEmail ?? "admin@rerank.local").toLowerCase();
  const { password: adminPassword, hash } = await newPassword(options.adminPassword);
  const file = options.credentialsFile ?? path.join(".data", "first-run-credentials.json");
  // The admin, its key, its audit entry and the credentials file go together: the file is written
  // before the commit, so a file that cannot be written (a read-only folder) leaves nobody to sign in
  // and the next start tries again (break test: the admin was committed and its generated password
  // never shown nor stored: locked out). A commit that fails after the write leaves a file whose
  // admin does not exist; the next start writes new credentials and keeps that one as `.previous`.
  const { credentials, change } = await db.$transaction(async (tx) => {
    // A person of that email without a password (an older demo seed) is replaced by the admin.
    await tx.user.deleteMany({ where: { email: adminEmail, accounts: { none: {} } } });
    const user = await insertUser(tx, { email: adminEmail, name: "Admin", roles: ["admin"] }, hash);
    await recordAudit(tx, { action: "user.create", actor: systemActor("first-start"), subject: subjects.user(user.id, adminEmail), after: { email: adminEmail, roles: ["admin"] }, reason: "first start" });
    const { key } = await createApiKey(tx, { name: "demo", kind: "serving" }, user.id);
    const made = { adminEmail, adminPassword, apiKey: key };
    return { credentials: made, change: writeCredentialsFile(file, made) };
  });
  for (const line of credentialsFileNotice(change)) options.log?.(line);
  return credentials;
}

export interface CredentialsFileChange {
  /** Where the file it replaced (an earlier database's credentials) is kept, or null when there was none. */
  previous: string | null;
  /** Older copies removed: the previous `.previous` file and the dated copies earlier versions kept. */
  removed: string[];
}

/**
 * Writes the first start's credentials to `file` (mode 600). A file already there belongs to an
 * earlier database: it becomes `<name>.previous<ext>` (mode 600 kept), replacing the copy before it;
 * the dated copies earlier versions kept (`<name>.<ISO time><ext>`) are removed.
 * @returns what was kept and removed, for credentialsFileNotice.
 */
export function writeCredentialsFile(file: string, credentials: FirstRunCredentials): CredentialsFileChange {
  try {
    return replaceCredentialsFile(file, credentials);
  } catch (error) {
    if (error instanceof CredentialsFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CredentialsFileError(`cannot write the first-run credentials to ${file} (${code}): set FIRST_RUN_CREDENTIALS_FILE to a file in a writable folder`);
  }
}

/** The credentials file cannot be written there: one line naming the path and what to do. */
export class CredentialsFileError extends Error {}

/** Kernel file systems: no credentials file belongs there (and Node's recursive mkdir spins forever under /proc). */
const KERNEL_FOLDERS = ["/proc", "/sys", "/dev"];

/**
 * Makes `dir` and its missing parents one level at a time (fs.mkdirSync's recursive mode never
 * returns for a path under /proc). @throws CredentialsFileError for a path in a kernel file system.
 */
function makeFolder(dir: string, file: string): void {
  const absolute = path.resolve(dir);
  const kernel = KERNEL_FOLDERS.find((k) => absolute === k || absolute.startsWith(`${k}/`));
  if (kernel) throw new CredentialsFileError(`cannot write the first-run credentials to ${file}: ${kernel} is a kernel file system, not a folder for files: set FIRST_RUN_CREDENTIALS_FILE to a file in a writable folder`);
  const missing: string[] = [];
  for (let d = absolute; !existsSync(d) && d !== path.dirname(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
}

function replaceCredentialsFile(file: string, credentials: FirstRunCredentials): CredentialsFileChange {
  makeFolder(path.dirname(file), file);
  if (existsSync(file) && !statSync(file).isFile()) throw new CredentialsFileError(`cannot write the first-run credentials to ${file}: it exists and is not a regular file: set FIRST_RUN_CREDENTIALS_FILE to a file in a writable folder`);
  const { dir, name, ext } = path.parse(file);
  const previous = path.join(dir, `${name}.previous${ext}`);
  const removed: string[] = [];
  const dated = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.\\d{4}-\\d{2}-\\d{2}T[\\d-]+\\.\\d{3}Z${ext.replace(".", "\\.")}$`);
  for (const entry of readdirSync(dir)) {
    if (!dated.test(entry)) continue;
    rmSync(path.join(dir, entry), { force: true });
    removed.push(path.join(dir, entry));
  }
  let kept: string | null = null;
  if (existsSync(file)) {
    if (existsSync(previous)) removed.push(previous);
    renameSync(file, previous);
    kept = previous;
  }
  writeFileSync(file, JSON.stringify(credentials, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return { previous: kept, removed: removed.sort() };
}

/** The warning lines for the start's log about a replaced credentials file (none when nothing was replaced). */
export function credentialsFileNotice(change: CredentialsFileChange): string[] {
  const lines: string[] = [];
  if (change.previous) lines.push(`warning: the earlier first-run credentials (another database's admin password and API key) are kept in ${change.previous} (mode 600); delete it once that database is gone or its password changed`);
  if (change.removed.length) lines.push(`warning: removed ${change.removed.length} older first-run credentials file${change.removed.length === 1 ? "" : "s"}: ${change.removed.join(", ")}`);
  return lines;
}
