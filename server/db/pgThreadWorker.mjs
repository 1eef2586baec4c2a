// The worker thread of a threaded pool (server/db/threadedPool.ts): a pg.Pool that runs the queries
// the main thread posts, so the driver's work — encoding a batch of ~100 KB, the socket writes of a
// loopback TCP connection (the kernel does the receiver's work in the sender's time slice), parsing
// the answers — is done here, not on the event loop that serves requests. Plain JavaScript: it needs
// no TypeScript loader in whichever bundle starts it (Next's or the front door's).
//
// Messages in:  { id, name?, text, values? }  one query (name: a prepared statement's name);
//               { id, copyBatch }              one COPY batch in a transaction (copyBatch.mjs);
//               { id, end: true }              end the pool, then answer.
// Messages out: { id, rows, result? } | { id, error: { message, code } }.
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import { runCopyBatch } from "./copyBatch.mjs";

const pool = new pg.Pool(workerData.config);
// As server/db/pgClient.ts durablePool: an error listener for the pool's whole life, so a connection
// PostgreSQL ends (a restart, a failover, pg_terminate_backend) fails a query instead of the thread.
pool.on("error", () => {});
pool.on("connect", (client) => client.on("error", () => {}));

parentPort.on("message", async (message) => {
  if (message.end) {
    await pool.end().catch(() => {});
    parentPort.postMessage({ id: message.id, rows: [] });
    return;
  }
  try {
    if (message.copyBatch) {
      parentPort.postMessage({ id: message.id, rows: [], result: await runCopyBatch(pool, message.copyBatch) });
      return;
    }
    const result = await pool.query({ name: message.name, text: message.text, values: message.values });
    parentPort.postMessage({ id: message.id, rows: result.rows ?? [] });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: { message: String(error?.message ?? error), code: error?.code } });
  }
});
