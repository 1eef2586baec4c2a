import { createHash } from "node:crypto";
import {
  chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync,
  type Stats,
} from "node:fs";
import path from "node:path";

// Where embedded PostgreSQL's binaries and data live, and which of those folders and files can be
// trusted. As root, initdb and postgres run as the `postgres` system user (PostgreSQL refuses root),
// which must be able to enter every folder above the binaries and the data folder; a project in a
// private folder (a `mktemp -d` folder, a clone under /root) is out of its reach. Then the binaries
// are copied to, and the data kept in, RELOCATED_PARENT: a folder root owns under /var/lib, where no
// other user can create, replace or link anything (never a predictable name in world-writable
// /var/tmp, where any local user could plant a `postgres` binary, a symlink that root then chowns,
// or a cluster that would receive the password). Every folder and file read from there is checked
// first (trustProblem): no symlink, the expected owner, not writable by group or others; the
// binaries' copy must also match the package's content (treeDigest), else it is made again.

/** A one-line reason the embedded server cannot start, for the user. */
export class EmbeddedPostgresError extends Error {}

/** Root's folder for what the postgres account must reach outside a private project folder. */
export const RELOCATED_PARENT = "/var/lib/rerank-console";

/** Where earlier versions kept the relocated data (/var/tmp/rerank-console-<hash>): moved out once when it passes the checks (adoptLegacyData). */
export const legacyRelocatedRoot = (dataDir: string) => path.join("/var/tmp", `rerank-console-${folderHash(dataDir)}`);

const folderHash = (dataDir: string) => createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 12);

/** `<parent>/<hash of the data folder>`: one per project folder, kept across runs. */
export const relocatedRoot = (dataDir: string, parent = RELOCATED_PARENT) => path.join(parent, folderHash(dataDir));

/** `<parent>/pg-<version>`: one copy of the binaries per version, shared by every project folder and test run. */
export const relocatedBinaries = (version: string, parent = RELOCATED_PARENT) => path.join(parent, `pg-${version}`);

export interface Account {
  uid: number;
  gid: number;
}

/** The stat fields the reachability check reads (fs.statSync, or a table in tests). */
export type StatOf = (target: string) => { mode: number; uid: number; gid: number; isDirectory(): boolean } | null;

const statOrNull: StatOf = (target) => {
  try {
    return statSync(target);
  } catch {
    return null;
  }
};

/**
 * The first existing folder on the way to `target` (target's ancestors, and target itself when
 * `includeSelf`) that `account` cannot enter (no execute bit for it), or null when it can reach it.
 * Owner bits apply to its own files, group bits to its group, the others' bits to the rest.
 */
export function blockedFolder(target: string, account: Account, statOf: StatOf = statOrNull, includeSelf = false): string | null {
  const absolute = path.resolve(target);
  const folders: string[] = [];
  for (let dir = includeSelf ? absolute : path.dirname(absolute); ; dir = path.dirname(dir)) {
    folders.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const folder of folders) {
    const stat = statOf(folder);
    if (!stat) continue; // not made yet: it will be made reachable (the data folder is chowned)
    const bit = stat.uid === account.uid ? 0o100 : stat.gid === account.gid ? 0o010 : 0o001;
    if ((stat.mode & bit) === 0) return folder;
  }
  return null;
}

export interface EmbeddedLayout {
  /** Where the binaries run from (the package's folder, or a reachable copy). */
  nativeDir: string;
  dataDir: string;
  /** A line for the log when something moved, else null. */
  note: string | null;
  /** Copy the binaries here before use (null: use nativeDir as is). */
  copyFrom: string | null;
  /** The root-owned folder the moved parts live under (null: nothing moved). */
  parent: string | null;
}

/**
 * Where the binaries and the data folder go. Not as root: where they are. As root, for the
 * `postgres` account: where they are if it can reach them, else under `parent` (RELOCATED_PARENT;
 * the binaries copied to relocatedBinaries, the data in relocatedRoot/postgres). Throws
 * EmbeddedPostgresError with one line when not even `parent` is reachable.
 */
export function embeddedLayout(options: { nativeDir: string; dataDir: string; version: string; account: Account | null; statOf?: StatOf; parent?: string }): EmbeddedLayout {
  const { account } = options;
  const asIs = { nativeDir: options.nativeDir, dataDir: options.dataDir, note: null, copyFrom: null, parent: null };
  if (!account) return asIs;
  const statOf = options.statOf ?? statOrNull;
  const parent = options.parent ?? RELOCATED_PARENT;
  const binBlocked = blockedFolder(path.join(options.nativeDir, "bin", "postgres"), account, statOf);
  const dataBlocked = blockedFolder(options.dataDir, account, statOf);
  if (!binBlocked && !dataBlocked) return asIs;
  const nativeDir = binBlocked ? relocatedBinaries(options.version, parent) : options.nativeDir;
  const dataDir = dataBlocked ? path.join(relocatedRoot(options.dataDir, parent), "postgres") : options.dataDir;
  const blocked = binBlocked ?? dataBlocked;
  const fallbackBlocked = blockedFolder(binBlocked ? nativeDir : dataDir, account, statOf) ?? (binBlocked && dataBlocked ? blockedFolder(dataDir, account, statOf) : null);
  if (fallbackBlocked) {
    throw new EmbeddedPostgresError(
      `Embedded PostgreSQL runs as the "postgres" user (it refuses root), which cannot enter ${blocked} nor ${fallbackBlocked}: run npm start as a non-root user, or move the project to a folder others can enter (chmod o+x), or set DATABASE_URL`,
    );
  }
  const moved = [binBlocked && `its binaries are copied to ${nativeDir}`, dataBlocked && `its data is in ${dataDir}`].filter(Boolean).join(" and ");
  return { nativeDir, dataDir, parent, copyFrom: binBlocked ? options.nativeDir : null, note: `embedded PostgreSQL runs as the "postgres" user, which cannot enter ${blocked}: ${moved}` };
}

const lstatOrNull = (target: string): Stats | null => {
  try {
    return lstatSync(target);
  } catch {
    return null;
  }
};

/**
 * Why `target` cannot be trusted, or null when it can: it must exist as `kind` (never a symlink),
 * be owned by one of `owners` (uids), and be writable by nobody else (no group/other write bit; with
 * `private`, no group/other bit at all). Read with lstat, so a planted link is seen, not followed.
 */
export function trustProblem(target: string, expect: { kind: "folder" | "file"; owners: number[]; private?: boolean }): string | null {
  const stat = lstatOrNull(target);
  if (!stat) return "it does not exist";
  if (stat.isSymbolicLink()) return "it is a symbolic link";
  if (expect.kind === "folder" ? !stat.isDirectory() : !stat.isFile()) return `it is not a ${expect.kind}`;
  if (!expect.owners.includes(stat.uid)) return `it is owned by uid ${stat.uid}, not ${expect.owners.map((u) => `uid ${u}`).join(" or ")}`;
  if (stat.mode & (expect.private ? 0o077 : 0o022)) return `its mode ${(stat.mode & 0o777).toString(8)} lets ${expect.private ? "others in" : "others write to it"}`;
  return null;
}

/** Throws EmbeddedPostgresError naming `target` and why it is refused, with what to do. */
export function assertTrusted(target: string, expect: Parameters<typeof trustProblem>[1]): void {
  const problem = trustProblem(target, expect);
  if (problem) throw new EmbeddedPostgresError(`refusing ${target} for embedded PostgreSQL: ${problem} (another user may have planted it): remove it, or set DATABASE_URL`);
}

/**
 * Makes (or checks) `folder` as root's own: created with `mode` when missing (never following a
 * link), else refused unless it is a real folder owned by root and writable by nobody else. Its
 * ancestors must be root's too and not writable by others (or sticky, as /tmp), so nobody can
 * swap it. @throws EmbeddedPostgresError naming the folder.
 */
export function ensureRootFolder(folder: string, mode: number): void {
  const absolute = path.resolve(folder);
  for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
    const stat = lstatOrNull(dir);
    if (!stat || stat.isSymbolicLink() || !stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022 && !(stat.mode & 0o1000))) {
      throw new EmbeddedPostgresError(`refusing ${absolute} for embedded PostgreSQL: ${dir} is ${!stat ? "missing" : stat.isSymbolicLink() ? "a symbolic link" : "not root's own, or writable by others"}: set DATABASE_URL, or run as a non-root user`);
    }
    if (dir === path.dirname(dir)) break;
  }
  try {
    mkdirSync(absolute, { mode });
    chmodSync(absolute, mode); // the umask may have removed bits
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  assertTrusted(absolute, { kind: "folder", owners: [0] });
}

/**
 * A digest of a folder's tree: every entry's relative path and type, files' content (sha256) and
 * execute bits, links' targets. Ownership and other bits are checked by verifyRootTree instead.
 */
export function treeDigest(root: string): string {
  const hash = createHash("sha256");
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const relative = path.join(rel, name);
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) hash.update(`l ${relative} ${readlinkSync(full)}\n`);
      else if (stat.isDirectory()) {
        hash.update(`d ${relative}\n`);
        walk(full, relative);
      } else hash.update(`f ${relative} ${stat.mode & 0o111} ${createHash("sha256").update(readFileSync(full)).digest("hex")}\n`);
    }
  };
  walk(root, "");
  return hash.digest("hex");
}

/** The first entry under `root` (itself included) that is not root's or is writable by others, or a link leading out of it; null when all are fine. */
export function untrustedEntry(root: string): string | null {
  const walk = (dir: string): string | null => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const stat = lstatSync(full);
      if (stat.uid !== 0) return full;
      if (stat.isSymbolicLink()) {
        const target = readlinkSync(full);
        if (path.isAbsolute(target) || !path.resolve(dir, target).startsWith(`${root}${path.sep}`)) return full;
        continue;
      }
      if (stat.mode & 0o022) return full;
      if (stat.isDirectory()) {
        const inner = walk(full);
        if (inner) return inner;
      }
    }
    return null;
  };
  return trustProblem(root, { kind: "folder", owners: [0] }) ? root : walk(root);
}

/** Removes the group/other write bits of every entry under `root` (links excepted). */
function dropOthersWrite(root: string): void {
  const stat = lstatSync(root);
  if (stat.isSymbolicLink()) return;
  if (stat.mode & 0o022) chmodSync(root, stat.mode & 0o7755);
  if (stat.isDirectory()) for (const name of readdirSync(root)) dropOthersWrite(path.join(root, name));
}

/**
 * A copy of the binaries at `to` that root owns and nobody else can change, with the package's
 * content. An existing copy is used only when every entry is root's, writable by nobody else, and
 * its treeDigest equals `from`'s; a copy that differs (an interrupted copy, another build of the
 * version) is made again; one with a foreign owner or open modes is refused. The copy is made in a
 * mkdtemp folder under `to`'s parent (ensureRootFolder) and renamed into place.
 * @returns "kept" or "copied". @throws EmbeddedPostgresError naming the refused entry.
 */
export function ensureBinariesCopy(from: string, to: string, log?: (line: string) => void): "kept" | "copied" {
  const parent = path.dirname(to);
  ensureRootFolder(parent, 0o755);
  if (lstatOrNull(to)) {
    const bad = untrustedEntry(to);
    if (bad) throw new EmbeddedPostgresError(`refusing the PostgreSQL binaries in ${to}: ${bad} is not root's own, is writable by others, or links out (another user may have planted it): remove ${to}, or set DATABASE_URL`);
    if (treeDigest(to) === treeDigest(from)) return "kept";
    log?.(`the PostgreSQL binaries in ${to} differ from the package's: copying them again`);
    rmSync(to, { recursive: true, force: true });
  }
  const staging = mkdtempSync(path.join(parent, `.${path.basename(to)}-`)); // mode 700: nobody else sees it while it is made
  try {
    const copy = path.join(staging, "pg");
    cpSync(from, copy, { recursive: true, dereference: false, verbatimSymlinks: true });
    dropOthersWrite(copy);
    chmodSync(copy, 0o755);
    try {
      renameSync(copy, to);
    } catch (error) {
      if (!lstatOrNull(to)) throw error;
      // Another start made it meanwhile: checked on its next use like any copy.
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return "copied";
}

/**
 * Makes (or checks) the data folder for the `postgres` account as root: its folder (the relocated
 * root, 0711: postgres may pass, not list) is root's own when relocated; the data folder itself is
 * made with mode 700 and given to the account, or, when it exists, must be a real folder (no link)
 * of the account (or of root, not yet handed over) with mode 700. @throws EmbeddedPostgresError.
 */
export function prepareDataFolder(dataDir: string, account: Account, relocated: boolean): void {
  if (relocated) ensureRootFolder(path.dirname(dataDir), 0o711);
  else mkdirSync(path.dirname(dataDir), { recursive: true });
  if (!lstatOrNull(dataDir)) {
    mkdirSync(dataDir, { mode: 0o700 }); // not recursive: its folder exists, and a link planted meanwhile makes this fail (EEXIST)
    chownSync(dataDir, account.uid, account.gid);
  }
  assertTrusted(dataDir, { kind: "folder", owners: [account.uid, 0], private: true });
  if (lstatSync(dataDir).uid === 0) chownSync(dataDir, account.uid, account.gid);
}

/**
 * Reads a secret or record file this process wrote (the password, the owner file): null when it is
 * absent; refused (EmbeddedPostgresError) when it is a link, not a regular file, not this user's,
 * or readable by others.
 */
export function readOwnFile(file: string): string | null {
  if (!lstatOrNull(file)) return null;
  assertTrusted(file, { kind: "file", owners: [process.geteuid?.() ?? 0], private: true });
  return readFileSync(file, "utf8");
}

/** Writes `text` to a new file (mode 600), replacing an earlier one of ours; never follows a planted link (O_EXCL). */
export function writeOwnFile(file: string, text: string): void {
  rmSync(file, { force: true }); // a link is removed, not followed
  writeFileSync(file, text, { mode: 0o600, flag: "wx" });
}

/**
 * Moves the data an earlier version kept in /var/tmp (legacyRelocatedRoot) to `dataDir` (under
 * RELOCATED_PARENT), once: only when `dataDir` does not exist yet and the old folder passes the checks
 * an attacker could not fake (the folder root's own and closed to others' writes, the data folder the
 * account's with mode 700, the password file root's with mode 600, no links). Otherwise the old
 * folder is left alone and not used. @throws EmbeddedPostgresError while a server runs on it (`serverRuns`). @returns a line for the log, or null when there was none.
 */
export function adoptLegacyData(legacyRoot: string, dataDir: string, account: Account, serverRuns: (dataDir: string) => boolean): string | null {
  const oldData = path.join(legacyRoot, "postgres");
  if (!existsSync(path.join(oldData, "PG_VERSION")) || lstatOrNull(dataDir)) return null;
  const problem =
    trustProblem(legacyRoot, { kind: "folder", owners: [0] }) ??
    trustProblem(oldData, { kind: "folder", owners: [account.uid], private: true }) ??
    trustProblem(`${oldData}-password`, { kind: "file", owners: [0], private: true });
  if (problem) return `an earlier version's embedded PostgreSQL data in ${oldData} is not used: ${problem}; a new database is made in ${dataDir}`;
  if (serverRuns(oldData)) {
    throw new EmbeddedPostgresError(`an earlier version's embedded PostgreSQL still runs on ${oldData}: stop that console first, then start again (its data is then moved to ${dataDir})`);
  }
  try {
    renameSync(oldData, dataDir);
    renameSync(`${oldData}-password`, `${dataDir}-password`);
  } catch (error) {
    return `an earlier version's embedded PostgreSQL data in ${oldData} could not be moved to ${dataDir} (${(error as NodeJS.ErrnoException).code}): move it by hand (with its -password file) while the console is stopped`;
  }
  rmSync(legacyRoot, { recursive: true, force: true });
  return `moved the embedded PostgreSQL data an earlier version kept in ${oldData} to ${dataDir} (no longer in world-writable /var/tmp)`;
}
