// The accounts the end-to-end tests use: the first admin is created by `npm start` from these
// (ADMIN_EMAIL / ADMIN_PASSWORD), and auth.setup.ts signs in with them once per run.

export const E2E_ADMIN = { email: "admin@e2e.test", password: "e2e admin password 1" };
export const AUTH_DIR = "e2e/.auth";
export const ADMIN_STATE = `${AUTH_DIR}/admin.json`;
export const KEYS_FILE = `${AUTH_DIR}/keys.json`;
/** Where `npm start` writes the first-run credentials of the e2e server (its demo serving key). */
export const FIRST_RUN_FILE = `${AUTH_DIR}/first-run-credentials.json`;
