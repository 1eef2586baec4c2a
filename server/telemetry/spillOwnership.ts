import { randomBytes } from "node:crypto";
import { readdirSync, renameSync } from "node:fs";
import path from "node:path";

// One spill file per process and stream: `<prefix>.p<pid>.jsonl` (prefix = database and stream), so
// two processes started from one folder (or the workers of one server) never append to the same
// file. A file whose owner has died is an orphan: the next process to start claims it by renaming
// it to a name that carries its own pid (rename is atomic: of two processes claiming one file, one
// gets it and the other gets ENOENT), then replays it. Replays insert with ON CONFLICT DO NOTHING on
// the rows' own ids, so a replay cut short by another crash and claimed again adds nothing twice.

/** This process's spill file for `prefix` (e.g. "rerank_console-3f2a….outcome_events"). */
export function ownSpillPath(dir: string, prefix: string, pid = process.pid): string {
  return path.join(dir, `${prefix}.p${pid}.jsonl`);
}

/** Is the process alive? EPERM means it exists under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The owner pid of a spill file of `prefix`, null for the single shared file of earlier versions
 * (`<prefix>.jsonl`, owned by nobody), undefined when the name is not a spill file of `prefix`.
 */
export function spillOwner(fileName: string, prefix: string): number | null | undefined {
  if (fileName === `${prefix}.jsonl`) return null;
  const match = new RegExp(`^${escapeRegExp(prefix)}\\.p(\\d+)(\\.[\\w-]+)?\\.jsonl$`).exec(fileName);
  return match ? Number(match[1]) : undefined;
}

/**
 * Claims the orphaned spill files of `prefix` in `dir` for this process: files of dead owners, the
 * un-owned file of earlier versions, and files of this pid other than its own (left by an earlier
 * process that had the same pid). Returns the claimed files' new paths, to be replayed and removed.
 */
export function claimOrphanSpills(dir: string, prefix: string, options: { pid?: number; alive?: (pid: number) => boolean } = {}): string[] {
  const pid = options.pid ?? process.pid;
  const alive = options.alive ?? processAlive;
  const own = path.basename(ownSpillPath(dir, prefix, pid));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no spill folder yet: nothing to replay
  }
  const claimed: string[] = [];
  for (const name of names) {
    if (name === own) continue;
    const owner = spillOwner(name, prefix);
    if (owner === undefined) continue;
    if (owner !== null && owner !== pid && alive(owner)) continue;
    const target = path.join(dir, `${prefix}.p${pid}.replay-${randomBytes(4).toString("hex")}.jsonl`);
    try {
      renameSync(path.join(dir, name), target);
      claimed.push(target);
    } catch {
      // Another process claimed it first (ENOENT): it replays the file.
    }
  }
  return claimed;
}
