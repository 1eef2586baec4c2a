import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { currentProcess, ownerAlive, processStartTicks, type ProcessIdentity } from "../system/processIdentity";
import { claimOrphanSpills, ownSpillPath, spillOwner } from "./spillOwnership";

const PREFIX = "rerank_console-ab12.outcome_events";
const here = { host: "console-1", boot: "0a1b2c3d4e5f" };
const proc = (pid: number, start: number | null = 1000 + pid, where: { host: string; boot: string } = here): ProcessIdentity => ({ ...where, pid, start });

describe("spill file names", () => {
  it("carry the owner's host, boot id, pid and start time; earlier versions' names a pid; the first versions' file has no owner; other files are not ours", () => {
    expect(path.basename(ownSpillPath("/s", PREFIX, proc(42, 7_654_321)))).toBe(`${PREFIX}.hconsole-1.b0a1b2c3d4e5f.p42.s7654321.jsonl`);
    expect(spillOwner(`${PREFIX}.hconsole-1.b0a1b2c3d4e5f.p42.s7654321.jsonl`, PREFIX, here)).toEqual(proc(42, 7_654_321));
    expect(spillOwner(`${PREFIX}.hweb-7f9c.b99.p1.s.replay-0a1b2c3d.jsonl`, PREFIX, here)).toEqual({ host: "web-7f9c", boot: "99", pid: 1, start: null });
    expect(spillOwner(`${PREFIX}.p42.jsonl`, PREFIX, here)).toEqual(proc(42, null));
    expect(spillOwner(`${PREFIX}.p42.replay-0a1b2c3d.jsonl`, PREFIX, here)).toEqual(proc(42, null));
    expect(spillOwner(`${PREFIX}.jsonl`, PREFIX, here)).toBeNull();
    expect(spillOwner("rerank_console-ab12.rerank_requests.p42.jsonl", PREFIX, here)).toBeUndefined();
    expect(spillOwner(`${PREFIX}.hconsole-1.b0a1.p42.s5.jsonl.tmp`, PREFIX, here)).toBeUndefined();
  });
});

describe("claiming orphaned spill files", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const touch = (name: string) => writeFileSync(path.join(dir, name), "{}\n");
  const base = (owner: ProcessIdentity) => path.basename(ownSpillPath(dir, PREFIX, owner));
  const replayName = (owner: ProcessIdentity) => new RegExp(`^${base(owner).replace(/\.jsonl$/, "").replace(/\./g, "\\.")}\\.replay-[0-9a-f]{8}\\.jsonl$`);

  it("claims files of dead owners and the un-owned file, never a live process's nor its own, and each only once", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    for (const pid of [10, 11, 12]) touch(base(proc(pid)));
    touch(`${PREFIX}.jsonl`);
    const self = proc(99);
    touch(base(self)); // this process's own file
    touch("rerank_console-ab12.rerank_requests.p10.jsonl"); // another stream
    const alive = (owner: ProcessIdentity) => owner.pid === 11;
    const claimed = claimOrphanSpills(dir, PREFIX, { self, alive });
    expect(claimed).toHaveLength(3); // p10, p12 and the un-owned file
    for (const file of claimed) expect(path.basename(file)).toMatch(replayName(self));
    // A second process finds nothing left to claim: p11 is alive, p99 and the replays are the live p99's.
    expect(claimOrphanSpills(dir, PREFIX, { self: proc(100), alive: (owner) => owner.pid === 11 || owner.pid === 99 })).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.startsWith(PREFIX)).sort()).toEqual([base(proc(11)), base(self), ...claimed.map((f) => path.basename(f))].sort());
  });

  it("review item 13: after a container restart the new server has the old one's pid; the old file is claimed, not taken for the live process's", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    // Same hostname (compose's `hostname: console-1`), same boot, pid 1 again: only the start time differs.
    const before = proc(1, 5_000);
    const after = proc(1, 9_000);
    touch(base(before));
    const probes = { alive: (pid: number) => pid === 1, startOf: (pid: number) => (pid === 1 ? 9_000 : null) };
    const claimed = claimOrphanSpills(dir, PREFIX, { self: after, alive: (owner) => ownerAlive(owner, after, probes) });
    expect(claimed.map((f) => path.basename(f))).toEqual([expect.stringMatching(replayName(after))]);
  });

  it("review item 13: files of another host or of an earlier boot are claimed; a pid-only file of this pid (an earlier version's) too", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    const self = currentProcess();
    const elsewhere = { ...self, host: `${self.host}-old` };
    const beforeReboot = { ...self, boot: self.boot === "0" ? "1" : "0" };
    touch(base(elsewhere)); // same pid and start time, another host
    touch(base(beforeReboot)); // same pid and start time, another boot
    touch(`${PREFIX}.p${self.pid}.jsonl`); // an earlier version's file with this pid
    touch(base(self)); // its own
    const claimed = claimOrphanSpills(dir, PREFIX, { self }); // the real liveness judge
    expect(claimed).toHaveLength(3);
    expect(readdirSync(dir).filter((f) => !claimed.includes(path.join(dir, f)))).toEqual([base(self)]);
  });

  it("keeps the file of a live process of this host and boot; claims it once that process has exited (real processes)", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    const self = currentProcess();
    touch(base({ ...self, pid: process.ppid, start: processStartTicks(process.ppid) }));
    expect(claimOrphanSpills(dir, PREFIX, { self })).toEqual([]);
    const gone = Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
    touch(base({ ...self, pid: gone, start: 12345 }));
    expect(claimOrphanSpills(dir, PREFIX, { self })).toHaveLength(1);
  });

  it("a claimed file whose claimer died is claimed again by the next process", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    touch(base(proc(10)));
    const [first] = claimOrphanSpills(dir, PREFIX, { self: proc(20), alive: () => false });
    const [second] = claimOrphanSpills(dir, PREFIX, { self: proc(30), alive: () => false });
    expect(path.basename(first!)).toMatch(replayName(proc(20)));
    expect(path.basename(second!)).toMatch(replayName(proc(30)));
    expect(readdirSync(dir)).toEqual([path.basename(second!)]);
  });

  it("finds nothing in a folder that does not exist yet", () => {
    dir = path.join(os.tmpdir(), "spill-claim-missing-folder");
    expect(claimOrphanSpills(dir, PREFIX, { self: proc(1) })).toEqual([]);
  });
});
