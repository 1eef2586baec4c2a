import { describe, expect, it } from "vitest";
import { brokenLink, launchChain, launcherKind, launcherName, orphanedAtStart, parentFromStat, scriptRunsThis, supervisorChain, type ProcessInfo } from "./launcher";

// `kill <npm's pid>` left tsx, the start, its server and the embedded PostgreSQL running (npm's sh
// died, nothing passed the signal on): the start watches the processes that launch it.

const tsx: ProcessInfo = { pid: 14, ppid: 13, args: ["node", "/work/app/node_modules/.bin/tsx", "server/cli/start.ts"] };
const sh: ProcessInfo = { pid: 13, ppid: 12, args: ["sh", "-c", "tsx server/cli/start.ts"] };
const npm: ProcessInfo = { pid: 12, ppid: 11, args: ["npm start"] };
const terminal: ProcessInfo = { pid: 11, ppid: 1, args: ["-bash"] };

describe("launcherKind", () => {
  it("tells npm (its process title or its script), tsx's command line and sh -c from anything else", () => {
    expect(launcherKind(["npm start"])).toBe("npm");
    expect(launcherKind(["npm run dev"])).toBe("npm");
    expect(launcherKind(["npm exec tsx server/cli/start.ts"])).toBe("npm");
    expect(launcherKind(["node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "start"])).toBe("npm");
    expect(launcherKind(tsx.args)).toBe("relay");
    expect(launcherKind(["node", "/work/app/node_modules/tsx/dist/cli.mjs", "server/cli/start.ts"])).toBe("relay");
    expect(launcherKind(sh.args)).toBe("relay");
    expect(launcherKind(["/bin/sh", "-c", "x"])).toBe("relay");
    expect(launcherKind(["-bash"])).toBeNull();
    expect(launcherKind(["bash"])).toBeNull(); // an interactive shell is the user's, not a relay
    expect(launcherKind(["node", "--import", "tsx", "server/bench/faults.bench.ts"])).toBeNull(); // a script of its own
    expect(launcherKind(["node", "/work/app/node_modules/vitest/vitest.mjs", "run"])).toBeNull();
    expect(launcherKind([])).toBeNull();
  });
});

describe("launchChain", () => {
  it("takes the relays up to and including npm, never npm's own parent (nohup npm start & outlives its terminal)", () => {
    expect(launchChain([tsx, sh, npm, terminal]).map((p) => p.pid)).toEqual([14, 13, 12]);
    expect(launchChain([tsx, terminal]).map((p) => p.pid)).toEqual([14]);
    expect(launchChain([terminal, npm])).toEqual([]); // started directly (a test, a process manager)
    expect(launchChain([])).toEqual([]);
  });
});

describe("brokenLink", () => {
  const chain = [tsx, sh, npm];
  const parents = (entries: Record<number, number | null>) => (pid: number) => entries[pid] ?? null;
  it("holds while every member is the next one's child", () => {
    expect(brokenLink(chain, 14, parents({ 14: 13, 13: 12 }))).toBeNull();
    expect(brokenLink([], 1, () => null)).toBeNull();
  });
  it("breaks where a member is gone: npm's sh killed by npm's SIGTERM leaves tsx to init; tsx gone leaves the start", () => {
    expect(brokenLink(chain, 14, parents({ 14: 1, 13: null }))).toBe(sh);
    expect(brokenLink(chain, 14, parents({ 14: 13, 13: 1 }))).toBe(npm); // npm killed with SIGKILL
    expect(brokenLink(chain, 1, parents({}))).toBe(tsx);
  });
});

describe("parentFromStat", () => {
  it("reads the parent pid past a command name holding spaces and parentheses", () => {
    expect(parentFromStat("12 (npm start) S 11 12 11 34816 12 4194560")).toBe(11);
    expect(parentFromStat("77 (a) b (c)) R 5 77 5 0 -1")).toBe(5);
  });
});

describe("launcherName", () => {
  it("names npm, tsx and the shell for the log", () => {
    expect([npm, tsx, sh].map(launcherName)).toEqual(["npm (pid 12)", "tsx (pid 14)", "sh (pid 13)"]);
  });
});

describe("supervisorChain", () => {
  // The server npm start runs: its parent is the start (`node --import tsx server/cli/start.ts`), or with --dev tsx watch, whose parent is the start.
  const start: ProcessInfo = { pid: 15, ppid: 14, args: ["node", "--import", "tsx", "server/cli/start.ts"] };
  const watch: ProcessInfo = { pid: 16, ppid: 15, args: ["node", "/work/app/node_modules/tsx/dist/cli.mjs", "watch", "server/http/main.ts"] };
  it("takes the relays above the server and the start above them, nothing further (kill -KILL of the start left the server running)", () => {
    expect(supervisorChain([start, tsx, sh, npm]).map((p) => p.pid)).toEqual([15]);
    expect(supervisorChain([watch, start, tsx, sh, npm]).map((p) => p.pid)).toEqual([16, 15]);
    expect(supervisorChain([])).toEqual([]);
  });
  it("breaks when the start is gone, even behind tsx watch (the relay then has another parent)", () => {
    const chain = supervisorChain([watch, start]);
    expect(brokenLink(chain, 16, (pid) => (pid === 16 ? 15 : 14))).toBeNull();
    expect(brokenLink(chain, 16, (pid) => (pid === 16 ? 1 : null))).toBe(start);
    expect(brokenLink(supervisorChain([start]), 1, () => null)).toBe(start);
  });
});

describe("scriptRunsThis", () => {
  const self = { script: "/work/app/server/cli/start.ts", cwd: "/work/app" };
  it("is true for the npm script that runs this file, false for any other script", () => {
    expect(scriptRunsThis("exec node --import tsx server/cli/start.ts", self)).toBe(true);
    expect(scriptRunsThis("exec node --import tsx server/cli/start.ts --dev", self)).toBe(true);
    expect(scriptRunsThis("tsx ./server/cli/start.ts", self)).toBe(true);
    expect(scriptRunsThis("vitest run --project integration", self)).toBe(false); // a test runner under npm test
    expect(scriptRunsThis("exec node --import tsx server/cli/migrate.ts", self)).toBe(false);
    expect(scriptRunsThis(undefined, self)).toBe(false);
    expect(scriptRunsThis("exec node server/cli/start.ts", { script: undefined, cwd: "/work/app" })).toBe(false);
  });
});

describe("orphanedAtStart", () => {
  // Break test: `setsid bash -c 'npm start 2>/tmp/e | true'`: npm died of EPIPE before the start read
  // its ancestors; the chain was empty, nothing was watched, and the start served on for good.
  const self = { script: "/work/app/server/cli/start.ts", cwd: "/work/app" };
  const script = "exec node --import tsx server/cli/start.ts";
  const npmCli = "/usr/lib/node_modules/npm/bin/npm-cli.js";
  const base = { script, self, execPath: npmCli, chain: [] as ProcessInfo[] };
  const init: ProcessInfo = { pid: 1, ppid: 0, args: ["/sbin/init"] };
  const subreaper: ProcessInfo = { pid: 900, ppid: 1, args: ["/usr/lib/systemd/systemd", "--user"] };
  it("is true when npm ran this start and init or a subreaper is its parent now", () => {
    expect(orphanedAtStart({ ...base, parent: init })).toBe(true);
    expect(orphanedAtStart({ ...base, parent: subreaper })).toBe(true);
  });
  it("is false while npm (or pnpm, yarn) is its parent, npm is pid 1 (a container), or the chain is being watched", () => {
    expect(orphanedAtStart({ ...base, parent: { pid: 1, ppid: 0, args: ["npm start"] } })).toBe(false);
    expect(orphanedAtStart({ ...base, parent: npm })).toBe(false);
    expect(orphanedAtStart({ ...base, execPath: "/usr/lib/node_modules/pnpm/bin/pnpm.cjs", parent: { pid: 50, ppid: 1, args: ["node", "/usr/lib/node_modules/pnpm/bin/pnpm.cjs", "start"] } })).toBe(false);
    expect(orphanedAtStart({ ...base, chain: [npm], parent: init })).toBe(false);
  });
  it("is false for a test runner under npm test that spawns the start itself, and when the parent cannot be read", () => {
    const vitest: ProcessInfo = { pid: 70, ppid: 12, args: ["node", "/work/app/node_modules/vitest/vitest.mjs", "run"] };
    expect(orphanedAtStart({ ...base, script: "vitest run --project integration", parent: vitest })).toBe(false);
    expect(orphanedAtStart({ ...base, script: "vitest run --project integration", parent: init })).toBe(false);
    expect(orphanedAtStart({ ...base, script: undefined, execPath: undefined, parent: init })).toBe(false); // started directly, by a process manager
    expect(orphanedAtStart({ ...base, parent: null })).toBe(false);
  });
});
