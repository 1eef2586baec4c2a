import { randomBytes } from "node:crypto";
import { readdirSync, renameSync } from "node:fs";
import path from "node:path";
import { currentProcess, ownerAlive, type ProcessIdentity } from "../system/processIdentity";

// One spill file per process and stream: `<prefix>.h<host>.b<boot id>.p<pid>.s<start>.jsonl` (prefix =
// database and stream; the owner as server/system/processIdentity.ts names it), so two processes
// started from one folder (or the workers of one server) never append to the same file. A file whose
// owner is gone is an orphan: the owner ran on another host (a container recreated on the same
// volume), before a reboot, or its pid no longer runs or now belongs to a process that started at
// another time (pids repeat in restarted containers). The next process to start claims an orphan by
// renaming it to a name that carries its own identity (rename is atomic: of two processes claiming
// one file, one gets it and the other gets ENOENT), then replays it. Replays insert with ON CONFLICT
// DO NOTHING on the rows' own ids, so a replay cut short by another crash and claimed again adds
// nothing twice. A spill folder belongs to one host at a time: hosts running at once never share one.

const tagOf = (owner: ProcessIdentity) => `h${owner.host}.b${owner.boot}.p${owner.pid}.s${owner.start ?? ""}`;

/** This process's spill file for `prefix` (e.g. "rerank_console-3f2a….outcome_events"). */
export function ownSpillPath(dir: string, prefix: string, owner: ProcessIdentity = currentProcess()): string {
  return path.join(dir, `${prefix}.${tagOf(owner)}.jsonl`);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The owner of a spill file of `prefix`: its identity (files of earlier versions, `<prefix>.p<pid>…`,
 * name a pid of this host and boot without a start time: `here`), null for the single shared file
 * of the first versions (`<prefix>.jsonl`, owned by nobody), undefined when the name is not a spill
 * file of `prefix`.
 */
export function spillOwner(fileName: string, prefix: string, here: Pick<ProcessIdentity, "host" | "boot"> = currentProcess()): ProcessIdentity | null | undefined {
  if (fileName === `${prefix}.jsonl`) return null;
  const p = escapeRegExp(prefix);
  const named = new RegExp(`^${p}\\.h([A-Za-z0-9-]+)\\.b([0-9a-f]*)\\.p(\\d+)\\.s(\\d*)(\\.replay-[0-9a-f]+)?\\.jsonl$`).exec(fileName);
  if (named) return { host: named[1]!, boot: named[2]!, pid: Number(named[3]), start: named[4] === "" ? null : Number(named[4]) };
  const legacy = new RegExp(`^${p}\\.p(\\d+)(\\.[\\w-]+)?\\.jsonl$`).exec(fileName);
  return legacy ? { host: here.host, boot: here.boot, pid: Number(legacy[1]), start: null } : undefined;
}

const sameProcess = (a: ProcessIdentity, b: ProcessIdentity) => a.host === b.host && a.boot === b.boot && a.pid === b.pid && a.start === b.start;

/**
 * Claims the orphaned spill files of `prefix` in `dir` for this process: files whose owner is gone
 * (processIdentity.ts ownerAlive), the un-owned file of the first versions, and pid-only files of
 * earlier versions that carry this very pid (left by an earlier process that had it). Never a live
 * process's file, nor this process's own (its spill file and the files it is replaying).
 * @param options.self this process (tests); options.alive the liveness judge (tests).
 * @returns the claimed files' new paths, to be replayed and removed.
 */
export function claimOrphanSpills(dir: string, prefix: string, options: { self?: ProcessIdentity; alive?: (owner: ProcessIdentity) => boolean } = {}): string[] {
  const self = options.self ?? currentProcess();
  const alive = options.alive ?? ((owner: ProcessIdentity) => ownerAlive(owner, self));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no spill folder yet: nothing to replay
  }
  const claimed: string[] = [];
  for (const name of names) {
    const owner = spillOwner(name, prefix, self);
    if (owner === undefined) continue;
    if (owner !== null) {
      if (sameProcess(owner, self)) continue;
      const pidOnlyOfThisPid = owner.start === null && owner.pid === self.pid && owner.host === self.host && owner.boot === self.boot;
      if (!pidOnlyOfThisPid && alive(owner)) continue;
    }
    const target = path.join(dir, `${prefix}.${tagOf(self)}.replay-${randomBytes(4).toString("hex")}.jsonl`);
    try {
      renameSync(path.join(dir, name), target);
      claimed.push(target);
    } catch {
      // Another process claimed it first (ENOENT): it replays the file.
    }
  }
  return claimed;
}
