import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { adminUrlOf, checkReachable, dropDatabase, ensureDatabase, startEmbeddedPostgres } from "../db/embedded";
import { env } from "../config";

// Where the CLI commands (start, db:migrate, db:seed, tests, e2e) get their database:
// DATABASE_URL when set, else embedded PostgreSQL in .data/postgres (kept between runs). When a live
// process (npm start) already runs that server, the one-shot commands (db:migrate, db:seed,
// db:retention, models:train-from-logs) use it and leave it running; a second npm start refuses.

export const EMBEDDED_DATA_DIR = path.join(/*turbopackIgnore: true*/ process.cwd(), ".data", "postgres");
export const EMBEDDED_DATABASE = "rerank_console";

export class DatabaseUnreachable extends Error {}

/** The signals that stop a CLI: Ctrl-C, kill, and a closed terminal (SIGHUP). */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Runs `close` when one of STOP_SIGNALS arrives, then lets the signal take its course (re-raised
 * when no other listener handles it). An embedded server runs in a process group of its own (it
 * must outlive Ctrl-C in npm start), so without this a one-shot command interrupted by a signal left
 * it running. @returns a function that removes the handlers (called by close()).
 */
function closeOnSignals(close: () => Promise<void>): () => void {
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = () => {
      remove();
      void close()
        .catch(() => {})
        .finally(() => {
          if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
        });
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  const remove = () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return remove;
}

export interface ResolvedDatabase {
  url: string;
  /** "embedded" or the host:port of DATABASE_URL. */
  origin: string;
  /**
   * An embedded server this call started is stopped, should this process end without close() (even
   * by SIGKILL), once process `pid` (the console's server) is gone too or after `graceMs`
   * (EmbeddedServer.stopAfter); a no-op for DATABASE_URL and an attached server.
   */
  stopAfter(pid: number, graceMs: number): void;
  close(): Promise<void>;
}

/**
 * @param ephemeral a fresh, uniquely named database that close() drops (tests and e2e), on
 *   DATABASE_URL's server or on a throwaway embedded server.
 */
/**
 * @param shared for the kept embedded server when another live process runs it: "attach" (default:
 *   use it, close() leaves it running) or "refuse" (throws EmbeddedPostgresError: npm start).
 * @param signals "close" (default): an embedded server this call started is stopped (and an ephemeral
 *   database dropped) on SIGINT, SIGTERM or SIGHUP; "caller": the caller stops it on those signals
 *   itself (npm start, which stops its own server first).
 */
export async function resolveDatabase(options: { ephemeral?: boolean; log?: (line: string) => void; shared?: "attach" | "refuse"; signals?: "close" | "caller" } = {}): Promise<ResolvedDatabase> {
  const log = options.log ?? (() => {});
  const configured = env().DATABASE_URL;
  if (configured) {
    const parsed = new URL(configured);
    const origin = `${parsed.hostname}:${parsed.port || "5432"}`;
    if (options.ephemeral) {
      const problem = await checkReachable(adminUrlOf(configured));
      if (problem) throw new DatabaseUnreachable(problem.message);
      const name = `rerank_test_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
      await ensureDatabase(adminUrlOf(configured), name);
      parsed.pathname = `/${name}`;
      const drop = () => {
        removeHandlers();
        return dropDatabase(adminUrlOf(configured), name);
      };
      const removeHandlers = options.signals === "caller" ? () => {} : closeOnSignals(drop);
      return { url: parsed.toString(), origin, stopAfter: () => {}, close: drop };
    }
    const problem = await checkReachable(configured);
    if (problem?.code === "3D000") {
      await ensureDatabase(adminUrlOf(configured), parsed.pathname.slice(1));
    } else if (problem) {
      throw new DatabaseUnreachable(problem.message);
    }
    return { url: configured, origin, stopAfter: () => {}, close: async () => {} };
  }
  // A throwaway server's data folder, password and owner file sit in a fresh mkdtemp folder (mode 711:
  // the postgres account may pass when running as root, nobody else may list or add files), never
  // beside it in world-writable /tmp, where their names could be guessed and planted first.
  const scratch = options.ephemeral ? mkdtempSync(path.join(os.tmpdir(), "rerank-pg-")) : null;
  if (scratch) chmodSync(scratch, 0o711);
  const dataDir = scratch ? path.join(scratch, "postgres") : EMBEDDED_DATA_DIR;
  const server = await startEmbeddedPostgres({ dataDir, log, shared: options.shared });
  const close = async () => {
    removeHandlers();
    await server.stop();
    if (scratch) {
      rmSync(scratch, { recursive: true, force: true });
      // Moved elsewhere (as root, when the postgres account cannot reach the temporary folder): its own folder there.
      if (!server.dataDir.startsWith(`${scratch}${path.sep}`)) rmSync(path.dirname(server.dataDir), { recursive: true, force: true });
    }
  };
  const removeHandlers = options.signals === "caller" || server.attached ? () => {} : closeOnSignals(close);
  if (scratch) {
    // Killed without close() (SIGKILL), the throwaway server's folders go with it (68 MB each were left in the temporary folder).
    server.removeWhenStopped(scratch);
    if (!server.dataDir.startsWith(`${scratch}${path.sep}`)) server.removeWhenStopped(path.dirname(server.dataDir));
  }
  await ensureDatabase(server.urlFor("postgres"), EMBEDDED_DATABASE);
  if (!server.attached) log(`embedded PostgreSQL listening on 127.0.0.1:${server.port} (data in ${path.relative(process.cwd(), server.dataDir).startsWith("..") ? server.dataDir : path.relative(process.cwd(), server.dataDir)})`);
  return { url: server.urlFor(EMBEDDED_DATABASE), origin: "embedded", stopAfter: (pid, graceMs) => server.stopAfter(pid, graceMs), close };
}
