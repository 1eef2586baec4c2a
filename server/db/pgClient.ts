import pg from "pg";

/** The startup option every session of ours carries: it runs in UTC, whatever the server's or the database's TimeZone. */
export const UTC_SESSION = "-c TimeZone=UTC";

/**
 * `config` with its sessions pinned to UTC (libpq's `options`, added to any the config has).
 * Prisma's pg adapter sends a Date as a timestamp without offset and reads timestamptz back as if
 * it were UTC (prisma/orm#26786), and date_trunc / ::date follow the session's zone: on a database
 * whose TimeZone was America/Los_Angeles the On-call page read no traffic and Executive days shifted
 * (break test). A connection string's own `options=` parameter overrides this one (node-postgres reads it last).
 */
export function inUtc<C extends pg.ClientConfig>(config: C): C & { options: string } {
  return { ...config, options: config.options ? `${config.options} ${UTC_SESSION}` : UTC_SESSION };
}

/**
 * A connected pg.Client for one piece of work (migrations, partitions, CREATE/DROP DATABASE), with an
 * `error` listener for its whole life. PostgreSQL may end a connection at any moment (a restart, an
 * administrator's pg_terminate_backend, a failover): pg fails the query in flight, but an error that
 * arrives while the client waits between queries is emitted as an event, and an event without a
 * listener ends the process. Here it is kept, and the next query fails with it (pg's own behaviour).
 * The caller ends the client (`client.end()`, in a finally). Its session runs in UTC (inUtc).
 * @throws the connection error (refused, timed out, authentication) when it cannot connect.
 */
export async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(inUtc(config));
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * A pg.Pool whose `error` listener stays for its whole life, also while it ends: a library that
 * removes its own listener before its pool has ended (graphile-worker does, in its releasers) would
 * otherwise let a connection ended by the server at that moment end the process. Sessions run in UTC (inUtc).
 */
export function durablePool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(inUtc(config));
  pool.on("error", () => {}); // an idle client's connection ended by the server; pg drops it from the pool
  pool.on("connect", (client) => client.on("error", () => {})); // a checked-out client's: its next query fails
  return pool;
}
