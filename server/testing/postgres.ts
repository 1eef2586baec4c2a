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
