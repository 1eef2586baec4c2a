import { randomBytes } from "node:crypto";
import pg from "pg";
import { adminUrlOf, dropDatabase, ensureDatabase } from "../db/embedded";

// Plain PostgreSQL access for integration tests that work below Prisma: raw SQL with the driver's
// own errors, and empty databases beside the run's own.

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A second, empty database on the server of `baseUrl`, named after it and `label`; drop() removes it. */
export async function scratchDatabase(baseUrl: string, label: string) {
  const name = `${new URL(baseUrl).pathname.slice(1)}_${label}`;
  await ensureDatabase(adminUrlOf(baseUrl), name);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => dropDatabase(adminUrlOf(baseUrl), name) };
}

const databaseOf = (url: string) => new URL(url).pathname.slice(1);
const withDatabase = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString();

const spareOf = (template: string) => `${template}_s`;

/**
 * A copy of the database at `templateUrl` for one test file, named after it with a random suffix;
 * drop() removes it. A spare copy made while the previous file ran (startSpare) is taken when there
 * is one (renamed: instant), else one is made now (CREATE DATABASE … TEMPLATE: a file copy, far
 * faster than migrating and seeding again; the template must have no other connection meanwhile).
 */
export async function takeClone(templateUrl: string) {
  const template = databaseOf(templateUrl);
  const name = `${template}_f${randomBytes(3).toString("hex")}`;
  await withClient(adminUrlOf(templateUrl), async (c) => {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", [spareOf(template)]);
    for (const { datname } of rows) {
      // Atomic: of two files taking one spare, one renames it and the other gets an error and goes on.
      if (await c.query(`ALTER DATABASE "${datname}" RENAME TO "${name}"`).then(() => true, () => false)) return;
    }
    await c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  });
  return { url: withDatabase(templateUrl, name), drop: () => dropDatabase(adminUrlOf(templateUrl), name) };
}

/**
 * Makes a spare copy of the template for the next file to take (takeClone). Await it before the
 * process ends: a copy left half made would be committed after the run's clean-up had looked.
 */
export async function startSpare(templateUrl: string): Promise<void> {
  const template = databaseOf(templateUrl);
  await withClient(adminUrlOf(templateUrl), (c) => c.query(`CREATE DATABASE "${spareOf(template)}${randomBytes(3).toString("hex")}" TEMPLATE "${template}"`));
}

/** Drops every database named after the one at `templateUrl`: the last spare, and clones (and their scratch databases) a crashed file left. */
export async function dropClonesOf(templateUrl: string): Promise<void> {
  const prefix = `${databaseOf(templateUrl)}_`;
  const { rows } = await withClient(adminUrlOf(templateUrl), (c) => c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1", [prefix]));
  for (const { datname } of rows) await dropDatabase(adminUrlOf(templateUrl), datname);
}

/** Waits (up to `timeoutMs`) until no session is connected to the database at `url`: a pool's sockets close a moment after it is ended. */
export async function waitUntilIdle(url: string, timeoutMs = 10_000): Promise<void> {
  const name = databaseOf(url);
  const deadline = Date.now() + timeoutMs;
  await withClient(adminUrlOf(url), async (c) => {
    for (;;) {
      const { rows } = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]);
      if (rows[0]!.n === 0) return;
      if (Date.now() > deadline) throw new Error(`${rows[0]!.n} session(s) still connected to ${name} after ${timeoutMs} ms: a template must have none`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}

/** Whether a server answers `SELECT 1` on its maintenance database within 2 s (`urlFor`: an embedded server's). */
export async function answers(server: { urlFor(database: string): string }): Promise<boolean> {
  const client = new pg.Client({ connectionString: server.urlFor("postgres"), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
