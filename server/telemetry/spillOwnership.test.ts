import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { claimOrphanSpills, ownSpillPath, spillOwner } from "./spillOwnership";

const PREFIX = "rerank_console-ab12.outcome_events";

describe("spill file names", () => {
  it("carry the owner's pid; the single file of earlier versions has no owner; other files are not ours", () => {
    expect(path.basename(ownSpillPath("/s", PREFIX, 42))).toBe(`${PREFIX}.p42.jsonl`);
    expect(spillOwner(`${PREFIX}.p42.jsonl`, PREFIX)).toBe(42);
    expect(spillOwner(`${PREFIX}.p42.replay-0a1b2c3d.jsonl`, PREFIX)).toBe(42);
    expect(spillOwner(`${PREFIX}.jsonl`, PREFIX)).toBeNull();
    expect(spillOwner("rerank_console-ab12.rerank_requests.p42.jsonl", PREFIX)).toBeUndefined();
    expect(spillOwner(`${PREFIX}.p42.jsonl.tmp`, PREFIX)).toBeUndefined();
  });
});

describe("claiming orphaned spill files", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const touch = (name: string) => writeFileSync(path.join(dir, name), "{}\n");

  it("claims files of dead owners and the un-owned file, never a live process's nor its own, and each only once", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    for (const pid of [10, 11, 12]) touch(`${PREFIX}.p${pid}.jsonl`);
    touch(`${PREFIX}.jsonl`);
    touch(`${PREFIX}.p99.jsonl`); // this process's own file (pid 99)
    touch("rerank_console-ab12.rerank_requests.p10.jsonl"); // another stream
    const alive = (pid: number) => pid === 11;
    const claimed = claimOrphanSpills(dir, PREFIX, { pid: 99, alive });
    expect(claimed).toHaveLength(3); // p10, p12 and the un-owned file
    for (const file of claimed) expect(path.basename(file)).toMatch(new RegExp(`^${PREFIX.replace(/\./g, "\\.")}\\.p99\\.replay-[0-9a-f]{8}\\.jsonl$`));
    // A second process finds nothing left to claim: p11 is alive, the rest is taken.
    expect(claimOrphanSpills(dir, PREFIX, { pid: 100, alive: (pid) => pid === 11 || pid === 99 })).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.startsWith(PREFIX)).sort()).toEqual([`${PREFIX}.p11.jsonl`, `${PREFIX}.p99.jsonl`, ...claimed.map((f) => path.basename(f))].sort());
  });

  it("a claimed file whose claimer died is claimed again by the next process", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "spill-claim-"));
    touch(`${PREFIX}.p10.jsonl`);
    const [first] = claimOrphanSpills(dir, PREFIX, { pid: 20, alive: () => false });
    const [second] = claimOrphanSpills(dir, PREFIX, { pid: 30, alive: () => false });
    expect(path.basename(first!)).toMatch(/\.p20\.replay-/);
    expect(path.basename(second!)).toMatch(/\.p30\.replay-/);
    expect(readdirSync(dir)).toEqual([path.basename(second!)]);
  });

  it("finds nothing in a folder that does not exist yet", () => {
    dir = path.join(os.tmpdir(), "spill-claim-missing-folder");
    expect(claimOrphanSpills(dir, PREFIX, { pid: 1 })).toEqual([]);
  });
});
