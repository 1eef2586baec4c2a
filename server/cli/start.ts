import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import getPort from "get-port";
import { CredentialsFileError, ensureFirstAdmin, type FirstRunCredentials } from "../auth/firstRun";
import { parseCommandLine } from "./commandLine";
import { env, isConfigError, loadConfigOrExit, setEnv } from "../config";
import { disconnectDb, getDb } from "../db/client";
import { EmbeddedPostgresError } from "../db/embedded";
import { MigrationError } from "../db/migrate";
import { restartDelayMs } from "../http/cluster";
import { prepareDatabase } from "../db/prepare";
import { BuildFailedError, buildIfNeededRelayed, stopRunningBuild } from "./build";
import { DatabaseUnreachable, resolveDatabase, STOP_SIGNALS, type ResolvedDatabase } from "./database";
import { firstRunLines, ignoredAdminSettingsLine } from "./firstRunMessage";
import { childrenOf, currentLaunchChain, currentlyOrphanedAtStart, launcherName, watchChain } from "./launcher";
import { processAlive } from "../system/processIdentity";
import { urlFor } from "./listenUrl";
import { explainListenFailure, tryListen } from "../http/listenAddress";
import { ignoreClosedOutput } from "../http/terminal";
import { withDeadline } from "../domain/time/deadline";
import { refuseBadAdminSettings, takeAdminSettings } from "./adminSettings";

// npm start: database (DATABASE_URL or embedded PostgreSQL) → migrate → seed once → build if the
// sources are newer than the last build → the console's server (server/http/main.ts: the front door
// and Next.js on one port; Next in development mode with --dev) → print the URL. Ctrl-C stops the
// server (it drains its requests and flushes its logs), then the database. A server that dies after
// it was ready is restarted (with backoff, and said so) while the database stays up.
//
// Should this start end without stopping them (killed with SIGKILL: by hand, or by tsx when it is slow
// to acknowledge a signal), neither outlives it: the server is spawned with an IPC channel and stops
// when it closes (server/http/supervisor.ts), and the embedded PostgreSQL's guard stops it once that
// server is gone (server/db/embeddedGuard.ts), and a `next build` under way dies with it, workers and
// all (server/cli/buildGuard.mjs).

const USAGE = "usage: npm start -- [--port N] [--host ADDRESS] [--ephemeral] [--dev] [--no-seed]";

const args = parseCommandLine(
  {
    port: { type: "string" },
    host: { type: "string" },
    ephemeral: { type: "boolean", default: false },
    dev: { type: "boolean", default: false },
    "no-seed": { type: "boolean", default: false },
  },
  USAGE,
  (values) => {
    if (values.port !== undefined && !(/^\d{1,5}$/.test(values.port) && Number(values.port) >= 1 && Number(values.port) <= 65_535)) {
      throw new Error(`--port: an integer from 1 to 65535, got "${values.port.slice(0, 40)}"`);
    }
    if (values.host !== undefined && !/^[A-Za-z0-9.:-]{1,253}$/.test(values.host)) throw new Error(`--host: an address or host name (no brackets), got "${values.host.slice(0, 60)}"`);
  },
);

const SERVER_ENTRY = path.join(process.cwd(), "server", "http", "main.ts");
const TSX_CLI = path.join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");

const log = (line: string) => console.log(`[rerank] ${line}`);

/** Longest the supervisor waits for a started server to answer /api/health (Playwright's webServer waits as long). */
const STARTUP_TIMEOUT_MS = 240_000;

/**
 * Waits until the server answers /api/health with 200. @throws naming why not: the server exited
 * first (its code or signal: "did not become healthy" was said of a server that had crashed), or
 * `timeoutMs` passed.
 */
async function waitForHealth(url: string, child: ChildProcess, timeoutMs = STARTUP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  while (Date.now() < deadline && !exited()) {
    try {
      const response = await fetch(`${url}/api/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (exited()) throw new Error(`the server (pid ${child.pid}) exited (${child.signalCode ?? `code ${child.exitCode}`}) before it answered at ${url}`);
  throw new Error(`the server did not become healthy at ${url} within ${timeoutMs / 1000}s`);
}

/** Extra time the supervisor gives the server, after SHUTDOWN_DRAIN_MS, to flush its logs and exit. */
const FLUSH_GRACE_MS = 20_000;
/** A server that ran this long before it died restarts after the shortest delay again. */
const HEALTHY_AFTER_MS = 60_000;

async function main() {
  // Before anything writes: a closed output (`npm start | head`, a closed terminal) must not end the start midway.
  ignoreClosedOutput();
  // Checked only where they are used (a database nobody signs in to yet): server/cli/adminSettings.ts.
  const admin = takeAdminSettings();
  loadConfigOrExit();
  const started = Date.now();
  process.env.NEXT_TELEMETRY_DISABLED = "1";
  process.env.ORT_DISABLE_TELEMETRY = "1";
  let database: ResolvedDatabase | undefined;
  let firstRun: FirstRunCredentials | null = null;
  const running: { child?: ChildProcess } = {};
  let stopping = false;
  const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
  /**
   * SIGTERM to the server. With --dev the child is tsx watch, which relays one signal to the server
   * and SIGKILLs it on a second: after Ctrl-C (the terminal's signal, then this start's) the dev
   * server never drained. So the server under it is signalled itself, and tsx once the server is
   * gone (a tsx that had no signal of its own would wait for file changes).
   */
  const signalServer = (child: ChildProcess) => {
    const server = args.dev && child.pid !== undefined ? childrenOf(child.pid)[0] : undefined;
    if (!server) return void child.kill("SIGTERM");
    try {
      process.kill(server.pid, "SIGTERM");
    } catch {
      // gone meanwhile
    }
    void (async () => {
      while (alive(child) && processAlive(server.pid)) await new Promise((r) => setTimeout(r, 100));
      if (alive(child)) child.kill("SIGTERM");
    })();
  };
  // The server first, then the database: the server still writes its logs while it stops.
  const stopServer = async () => {
    const child = running.child;
    if (!child || !alive(child)) return;
    const exited = new Promise((r) => child.once("exit", r));
    // After Ctrl-C the server has the signal already (the terminal signals the whole group); a second one changes nothing there.
    signalServer(child);
    await withDeadline(exited, env().SHUTDOWN_DRAIN_MS + FLUSH_GRACE_MS, () => undefined);
    if (alive(child)) {
      log("the server did not stop in time: killing it (its unwritten logs wait in its spill file)");
      child.kill("SIGKILL");
      await exited;
    }
  };
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopRunningBuild(); // a build under way is of no use now: it does not hold up the stop
    await stopServer();
    await disconnectDb().catch(() => {});
    if (database) {
      log("stopping the database");
      await database.close().catch((e) => console.error(e));
    }
    process.exit(code);
  };
  // SIGHUP too: a closed terminal must not leave the embedded PostgreSQL running. Writing to that
  // terminal then fails (EIO): the shutdown goes on regardless.
  for (const signal of STOP_SIGNALS) process.on(signal, () => void shutdown(0));
  // `kill <npm's pid>` stops npm and its `sh` only (server/cli/launcher.ts): their going stops this start as SIGTERM does.
  const chain = currentLaunchChain();
  // npm gone before the chain was read (`npm start | true`: npm died of EPIPE in its first second): nothing to watch, so stop now.
  const adopter = currentlyOrphanedAtStart(chain);
  if (adopter) {
    console.error(`[rerank] npm, which ran this start (npm start), was gone before it began (its parent is now ${launcherName(adopter)}): stopping`);
    await shutdown(0);
    return;
  }
  watchChain(chain, (launcher) => {
    log(`${launcherName(launcher)}, one of the processes that run this start (npm start), is gone (npm was stopped or killed): stopping`);
    void shutdown(0);
  });

  // An address the server cannot listen on is refused before anything is done, in one line naming
  // the setting: a port another process holds (the start said it ran, at that process's URL, and
  // printed a new database's credentials while its own server could not listen), a HOST that does
  // not resolve or is not this machine's (its workers failed at listen and were restarted for 240 s).
  // Without PORT only the host is checked: the port is the first free of 3000–3003, chosen below.
  const host = args.host ?? env().HOST;
  const requestedPort = args.port ?? env().PORT;
  const listenError = await tryListen(host, Number(requestedPort ?? 0));
  if (listenError) {
    // A taken port is looked at: a Rerank Console already there (a start in another terminal, a leftover) is named, with what to stop.
    console.error(`[rerank] ${await explainListenFailure(listenError, host, Number(requestedPort ?? 0), { host: args.host === undefined ? "HOST" : "--host", port: args.port === undefined ? "PORT" : "--port" })}`);
    process.exit(1);
  }
  try {
    database = await resolveDatabase({ ephemeral: args.ephemeral, log, shared: "refuse", signals: "caller" });
    const prepared = await prepareDatabase(database.url, { seed: !args["no-seed"], log });
    log(`database ready (${database.origin}), migration level ${prepared.level}`);
    setEnv("DATABASE_URL", database.url);
    await refuseBadAdminSettings(admin, getDb());
    firstRun = admin.problem ? null : await ensureFirstAdmin(getDb(), { adminEmail: admin.adminEmail, adminPassword: admin.adminPassword, credentialsFile: env().FIRST_RUN_CREDENTIALS_FILE, log });
    const ignored = firstRun ? null : ignoredAdminSettingsLine({ adminEmail: admin.set.adminEmail, adminPassword: admin.set.adminPassword, credentialsFile: existsSync(env().FIRST_RUN_CREDENTIALS_FILE) ? env().FIRST_RUN_CREDENTIALS_FILE : null });
    if (ignored) log(ignored);
    await disconnectDb();
    if (!args.dev) await buildIfNeededRelayed(log);
  } catch (error) {
    // A build this start's own stop killed: the stop says what happens.
    if (stopping && error instanceof BuildFailedError) return;
    const known = error instanceof DatabaseUnreachable || error instanceof MigrationError || error instanceof EmbeddedPostgresError || error instanceof CredentialsFileError || error instanceof BuildFailedError || isConfigError(error);
    // One line, prefixed as the start's other lines are (the embedded server "already run by another process" was not).
    if (known) console.error(isConfigError(error) ? error.message : `[rerank] ${(error as Error).message}`);
    else console.error(error);
    await shutdown(1);
    return;
  }

  const port = Number(requestedPort ?? (await getPort({ port: [3000, 3001, 3002, 3003], host })));
  const url = urlFor(host, port);
  // --dev: Next hot-reloads the pages itself; tsx restarts the server process when a module it loaded
  // under server/ changes (the tRPC routers and the endpoints are served by the front door, outside Next).
  const command = args.dev
    ? [TSX_CLI, "watch", "--clear-screen=false", "--exclude", ".next/**", "--exclude", "app/**", "--exclude", ".data/**", SERVER_ENTRY]
    : ["--import", "tsx", SERVER_ENTRY];
  const databaseUrl = database.url;
  const databaseForGuard = database;
  let healthy = false;
  let failures = 0;
  let restarts = 0;
  const spawnServer = () => {
    const startedAt = Date.now();
    // The IPC channel carries nothing: its closing tells the server this start is gone (server/http/supervisor.ts).
    const child = spawn(process.execPath, command, {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, DATABASE_URL: databaseUrl, HOST: host, PORT: String(port), RERANK_DEV: args.dev ? "1" : "0", NODE_ENV: args.dev ? "development" : "production" },
    });
    running.child = child;
    // Should this start be killed, the embedded PostgreSQL waits for this server (still writing its logs) before it stops.
    if (child.pid !== undefined) databaseForGuard.stopAfter(child.pid, env().SHUTDOWN_DRAIN_MS + FLUSH_GRACE_MS);
    child.on("exit", (code, signal) => {
      if (stopping) return;
      const how = signal ?? `code ${code}`;
      if (!healthy) {
        console.error(`[rerank] the server exited (${how}) before it was ready`);
        void shutdown(code || 1);
        return;
      }
      // A crash (or a server stopped by someone else) while the database is fine: bring it back, the database stays up.
      const ranMs = Date.now() - startedAt;
      failures = ranMs > HEALTHY_AFTER_MS ? 1 : failures + 1;
      const delay = restartDelayMs(failures);
      restarts++;
      log(`the server (pid ${child.pid}) exited (${how}) after ${(ranMs / 1000).toFixed(1)} s; the database stays up; restarting it in ${(delay / 1000).toFixed(1)} s (restart ${restarts})`);
      setTimeout(() => {
        if (stopping) return;
        const next = spawnServer();
        waitForHealth(url, next).then(
          () => log(`the server is back at ${url} (pid ${next.pid})`),
          (error: Error) => log(error.message),
        );
      }, delay);
    });
    return child;
  };
  const child = spawnServer();
  try {
    await waitForHealth(url, child);
  } catch (error) {
    // A server that exited has said so already ("exited … before it was ready") and the start is stopping.
    if (!stopping) console.error(`[rerank] ${(error as Error).message}`);
    await shutdown(1);
    return;
  }
  healthy = true;
  log(`Rerank Console is running at ${url} (ready in ${((Date.now() - started) / 1000).toFixed(1)}s; Ctrl-C stops it)`);
  if (firstRun) printFirstRun(firstRun, admin.set.adminPassword);
  if (env().SERVING_AUTH === "off") log("warning: SERVING_AUTH=off: /api/v1/rerank and /api/v1/events answer without an API key (trusted networks only)");
}

/** Shown once, on the start that created them (generated secrets only, and only in a terminal: firstRunLines). */
function printFirstRun(credentials: FirstRunCredentials, operatorPassword: boolean) {
  console.log(firstRunLines(credentials, { operatorPassword, interactive: Boolean(process.stdout.isTTY), file: env().FIRST_RUN_CREDENTIALS_FILE }).join("\n"));
}

void main();
