import pg from "pg";

/**
 * A connected pg.Client for one piece of work (migrations, partitions, CREATE/DROP DATABASE), with an
 * `error` listener for its whole life. PostgreSQL may end a connection at any moment (a restart, an
 * administrator's pg_terminate_backend, a failover): pg fails the query in flight, but an error that
 * arrives while the client waits between queries is emitted as an event, and an event without a
 * listener ends the process. Here it is kept, and the next query fails with it (pg's own behaviour).
 * The caller ends the client (`client.end()`, in a finally).
 * @throws the connection error (refused, timed out, authentication) when it cannot connect.
 */
export async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * A pg.Pool whose `error` listener stays for its whole life, also while it ends: a library that
 * removes its own listener before its pool has ended (graphile-worker does, in its releasers) would
 * otherwise let a connection ended by the server at that moment end the process.
 */
export function durablePool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on("error", () => {}); // an idle client's connection ended by the server; pg drops it from the pool
  pool.on("connect", (client) => client.on("error", () => {})); // a checked-out client's: its next query fails
  return pool;
}
