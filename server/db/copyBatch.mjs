// One batch written with COPY in a transaction of its own (server/db/copyBatch.d.mts has the types):
// run by the threaded pool's thread (pgThreadWorker.mjs) and, for a plain pg.Pool, by copyBatch() in
// threadedPool.ts: one implementation for both. Plain JavaScript, as the thread's entry is.
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import copyStreams from "pg-copy-streams";

/** SQLSTATE unique_violation: the COPY met a row the table already holds (a replayed batch). */
const UNIQUE_VIOLATION = "23505";

/**
 * BEGIN; before…; COPY … FROM STDIN with `batch.data`; after…; COMMIT (the COPY alone when nothing
 * runs before or after it). When that fails with a unique
 * violation and `batch.fallback` is given, it is rolled back and the fallback runs in a new
 * transaction with the same data. Resolves with which ran; rejects with PostgreSQL's error (its
 * `code` is the SQLSTATE) after a ROLLBACK.
 */
export async function runCopyBatch(pool, batch) {
  try {
    await transaction(pool, batch, batch.data);
    return { path: "direct" };
  } catch (error) {
    if (error?.code !== UNIQUE_VIOLATION || !batch.fallback) throw error;
  }
  await transaction(pool, batch.fallback, batch.data);
  return { path: "fallback" };
}

async function transaction(pool, steps, data) {
  const client = await pool.connect();
  // A connection that failed (PostgreSQL ended it, the network broke) or whose ROLLBACK failed is in an
  // unknown state: released as broken, so the pool drops it. The listener also keeps a checked-out
  // client's 'error' from being uncaught (pg.Pool's own query() listens the same way).
  let broken;
  const onError = (error) => {
    broken = error;
  };
  client.on("error", onError);
  // A COPY with nothing before or after it is one statement, atomic on its own: sent alone, without
  // the two round trips (and PostgreSQL's work) of BEGIN and COMMIT.
  const alone = !steps.before?.length && !steps.after?.length;
  try {
    const copy = () => pipeline(Readable.from([Buffer.from(data)]), client.query(copyStreams.from(steps.copy)));
    if (alone) {
      await copy();
    } else {
      await client.query("BEGIN");
      for (const statement of steps.before ?? []) await client.query(statement);
      await copy();
      for (const statement of steps.after ?? []) await client.query(statement);
      await client.query("COMMIT");
    }
  } catch (error) {
    // An error PostgreSQL did not send (no SQLSTATE: the driver's query_timeout, a socket error) leaves the
    // protocol where it was: a COPY that timed out while PostgreSQL still queued it (a lock) gets its
    // CopyInResponse later, and pg-copy-streams then calls a connection it has let go of (an uncaught
    // TypeError: the process, or the pool's thread, dies). Such a connection is released as broken with
    // no ROLLBACK: pg ends a client whose query is still active by destroying its socket, which ends the
    // transaction on the server too.
    if (!broken && typeof error?.code !== "string") broken = error;
    // A lone COPY that failed ended its own implicit transaction: nothing to roll back.
    if (!broken && !alone) {
      await client.query("ROLLBACK").catch((rollbackError) => {
        broken = rollbackError;
      });
    }
    throw error;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
