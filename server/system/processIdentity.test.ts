import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bootId, currentProcess, hostLabel, identityOf, ownerAlive, processAlive, processStartTicks } from "./processIdentity";

const here = { host: "console-1", boot: "0a1b2c3d4e5f" };
const running = { alive: (pid: number) => pid === 7, startOf: (pid: number) => (pid === 7 ? 500 : null) };

describe("ownerAlive", () => {
  it("is true only for this host, this boot, a running pid and the recorded start time", () => {
    expect(ownerAlive({ ...here, pid: 7, start: 500 }, here, running)).toBe(true);
    expect(ownerAlive({ ...here, pid: 7, start: 400 }, here, running)).toBe(false); // pid reused (a restarted container)
    expect(ownerAlive({ ...here, host: "console-2", pid: 7, start: 500 }, here, running)).toBe(false); // another host
    expect(ownerAlive({ ...here, boot: "ffffffffffff", pid: 7, start: 500 }, here, running)).toBe(false); // before a reboot
    expect(ownerAlive({ ...here, pid: 8, start: 500 }, here, running)).toBe(false); // not running
    expect(ownerAlive({ ...here, pid: 7, start: null }, here, running)).toBe(true); // earlier versions: pid only
  });

  it("judges real processes: this one lives, an exited child does not", () => {
    expect(ownerAlive(currentProcess())).toBe(true);
    const pid = Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
    expect(processAlive(pid)).toBe(false);
    expect(ownerAlive({ ...currentProcess(), pid })).toBe(false);
    expect(ownerAlive({ ...currentProcess(), start: (currentProcess().start ?? 0) + 1 })).toBe(false);
  });
});

describe("the parts of an identity", () => {
  it("reads the boot id and start times from /proc on Linux", () => {
    expect(bootId()).toMatch(/^[0-9a-f]{12}$/);
    const own = processStartTicks(process.pid);
    expect(own).toBeGreaterThan(0);
    expect(processStartTicks(process.ppid)).toBeLessThanOrEqual(own!); // the parent started first
    expect(processStartTicks(-1)).toBeNull();
  });

  it("makes host names file-name safe", () => {
    expect(hostLabel("web-1.prod.example.com")).toBe("web-1-prod-example-com");
    expect(hostLabel("")).toBe("host");
    expect(hostLabel("x".repeat(100))).toHaveLength(63);
  });

  it("reads an owner record, taking a pid-only record of earlier versions as this host and boot", () => {
    expect(identityOf({ host: "a", boot: "b", pid: 3, start: 9 }, here)).toEqual({ host: "a", boot: "b", pid: 3, start: 9 });
    expect(identityOf({ pid: 3, port: 5432 }, here)).toEqual({ ...here, pid: 3, start: null });
    expect(identityOf({ pid: "3" }, here)).toBeNull();
    expect(identityOf({ host: 1, boot: "b", pid: 3, start: 9 }, here)).toBeNull();
    expect(identityOf(null, here)).toBeNull();
  });
});
