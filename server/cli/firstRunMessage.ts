import type { FirstRunCredentials } from "../auth/firstRun";

/**
 * What `npm start` and `npm run db:migrate -- --first-admin` print about a first admin they just
 * created. Secrets the operator supplied (ADMIN_PASSWORD) are never printed; generated ones (the
 * password when ADMIN_PASSWORD is unset, the demo serving key) only in an interactive terminal. In
 * a container, a CI job or a Kubernetes Job the output ends up in logs others read, so the lines
 * say where the secrets are (the credentials file, mode 600) instead.
 * @param options.operatorPassword whether ADMIN_PASSWORD was set by the operator.
 * @param options.interactive whether stdout is a terminal (process.stdout.isTTY).
 * @param options.file FIRST_RUN_CREDENTIALS_FILE, where ensureFirstAdmin wrote them.
 * @returns the lines to print.
 */
export function firstRunLines(credentials: FirstRunCredentials, options: { operatorPassword: boolean; interactive: boolean; file: string }): string[] {
  const password = options.operatorPassword ? "the ADMIN_PASSWORD you set" : options.interactive ? credentials.adminPassword : `(generated; in ${options.file})`;
  const key = options.interactive ? credentials.apiKey : `(in ${options.file}; or create one on the API keys page)`;
  return [
    "",
    `  First start: an admin and a demo serving key were created (${options.interactive ? "shown once; also" : "not shown in logs: only"} in ${options.file}, mode 600)`,
    `    sign in as   ${credentials.adminEmail}`,
    `    password     ${password}`,
    `    API key      ${key}   (Authorization: Bearer <key> on /api/v1/rerank and /api/v1/events)`,
    "",
  ];
}

/**
 * The hint `npm start` and `db:migrate -- --first-admin` print when ADMIN_EMAIL or ADMIN_PASSWORD is
 * set but the database already has people who sign in with a password, so the settings choose
 * nothing (they were silently ignored: break test). Null when neither is set.
 * @param options.credentialsFile FIRST_RUN_CREDENTIALS_FILE when it exists (named as where an earlier
 *   first start's sign-in is), else null.
 */
export function ignoredAdminSettingsLine(options: { adminEmail: boolean; adminPassword: boolean; credentialsFile: string | null }): string | null {
  const set = [options.adminEmail && "ADMIN_EMAIL", options.adminPassword && "ADMIN_PASSWORD"].filter(Boolean);
  if (set.length === 0) return null;
  const which = `${set.join(" and ")} ${set.length === 1 ? "is" : "are"}`;
  const signIn = options.credentialsFile ? ` (the first start's sign-in is in ${options.credentialsFile})` : "";
  return `${which} ignored: this database already has people who sign in with a password, and they choose only the first admin of an empty database; sign in as an existing admin${signIn} and add or reset people on the Users page, or use an empty database (another DATABASE_URL, or "npm start -- --ephemeral" for a throwaway one)`;
}
