import { spawn, type ChildProcess } from "node:child_process";
import { answers } from "../testing/postgres";
import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedPostgresError, initdbFolder, ownerFileOf, startEmbeddedPostgres, type EmbeddedServer } from "./embedded";

// First-run break tests of the embedded server's start: two starts at once, a stale postmaster.pid
// whose pid another process now has, and a port taken between the probe and postgres's bind.

const folder = mkdtempSync(path.join(os.tmpdir(), "rerank-start-"));
chmodSync(folder, 0o711); // as root, the postgres account must pass (as resolveDatabase's throwaway folders)
const started: EmbeddedServer[] = [];
const decoys: ChildProcess[] = [];


const postmasterPid = (dataDir: string) => Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
const alive = (pid: number) => existsSync(`/proc/${pid}`);

afterAll(async () => {
  for (const server of started) if (!server.attached) await server.stop().catch(() => {});
  for (const decoy of decoys) decoy.kill("SIGKILL");
  rmSync(folder, { recursive: true, force: true });
});

describe("two starts of the embedded PostgreSQL on one folder at once (two npm start within 0.5 s)", () => {
  it("break test: the second waits for the first one's server and attaches; it never stops it", async () => {
    const dataDir = path.join(folder, "both");
    // Initialised first, so that both starts race on postgres's start itself, as in the report.
    await (await startEmbeddedPostgres({ dataDir })).stop();
    const firstLines: string[] = [];
    const secondLines: string[] = [];
    const first = startEmbeddedPostgres({ dataDir, log: (l) => firstLines.push(l) });
    // The second starts the moment the first one's postgres exists (its postmaster.pid) but may not be ready yet.
    const lockFile = path.join(dataDir, "postmaster.pid");
    for (let i = 0; i < 2000 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 5));
    const second = startEmbeddedPostgres({ dataDir, log: (l) => secondLines.push(l) });
    const servers = await Promise.all([first, second]);
    started.push(...servers);
    expect(servers.map((s) => s.attached)).toEqual([false, true]);
    expect(servers[1]!.port).toBe(servers[0]!.port);
    expect(secondLines.join("\n")).not.toMatch(/stopping/);
    expect(secondLines.join("\n")).toMatch(/using the embedded PostgreSQL on port \d+ started by a running process/);
    await servers[1]!.stop();
    expect(await answers(servers[0]!)).toBe(true);
    await servers[0]!.stop();
    expect(existsSync(ownerFileOf(servers[0]!.dataDir))).toBe(false); // released
  });

  it("on a fresh folder (initdb): the second of two simultaneous starts waits, the first owns; a second npm start (shared: refuse) refuses in one line", async () => {
    const dataDir = path.join(folder, "fresh");
    const results = await Promise.allSettled([startEmbeddedPostgres({ dataDir }), startEmbeddedPostgres({ dataDir, shared: "refuse" })]);
    const fulfilled = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    started.push(...fulfilled);
    const owner = fulfilled.find((s) => !s.attached);
    expect(owner).toBeDefined();
    if (results[1].status === "rejected") {
      expect(results[1].reason).toBeInstanceOf(EmbeddedPostgresError);
      expect((results[1].reason as Error).message).toMatch(/^embedded PostgreSQL in .* is already run by another process \(pid \d+, port \d+\): stop that one first, or set DATABASE_URL$/);
    } else {
      // The "refuse" one won the race: the other waited for it and attached.
      expect(results.map((r) => r.status === "fulfilled" && r.value.attached)).toEqual([true, false]);
    }
    expect(await answers(owner!)).toBe(true);
  });

  it("releases the ownership when its start fails, so the next start is not kept waiting", async () => {
    const dataDir = path.join(folder, "broken");
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(path.join(dataDir, "PG_VERSION"), "not a cluster\n"); // postgres refuses this folder
    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(EmbeddedPostgresError);
    expect(existsSync(ownerFileOf(dataDir))).toBe(false);
  });
});

describe("a stale postmaster.pid", () => {
  it("break test: its pid, reused by a process whose command line merely contains \"postgres\", is not signalled; the server starts", async () => {
    const dataDir = path.join(folder, "stale");
    await (await startEmbeddedPostgres({ dataDir })).stop();
    // Two decoys: one with "postgres" among its arguments, one run through a program named postgres (another data folder).
    const bin = path.join(folder, "decoy-bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, path.join(bin, "postgres"));
    for (const [command, args] of [
      [process.execPath, ["-e", "setTimeout(() => {}, 60000)", "postgres"]],
      [path.join(bin, "postgres"), ["-e", "setTimeout(() => {}, 60000)", "--", "-D", path.join(folder, "other")]],
    ] as const) {
      const decoy = spawn(command, [...args], { stdio: "ignore" });
      decoys.push(decoy);
      await once(decoy, "spawn");
      writeFileSync(path.join(dataDir, "postmaster.pid"), `${decoy.pid}\n${dataDir}\n1764590000\n54399\n/tmp\n127.0.0.1\n  1234567  7\nready   \n`);
      const lines: string[] = [];
      const server = await startEmbeddedPostgres({ dataDir, log: (l) => lines.push(l) });
      started.push(server);
      expect(server.attached).toBe(false);
      expect(await answers(server)).toBe(true);
      expect([decoy.exitCode, decoy.signalCode]).toEqual([null, null]); // not signalled
      expect(lines.join("\n")).not.toMatch(/stopping/);
      expect(lines.join("\n")).toContain(`its pid ${decoy.pid} is now another process (not signalled)`);
      await server.stop();
    }
  });
});

describe("a port taken between the probe and postgres's bind (another embedded PostgreSQL starting at the same moment)", () => {
  it("break test: the start retries once on another free port and says so", async () => {
    const dataDir = path.join(folder, "port");
    const taken = net.createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const lines: string[] = [];
      const server = await startEmbeddedPostgres({ dataDir, port, log: (l) => lines.push(l) });
      started.push(server);
      expect(server.port).not.toBe(port);
      expect(await answers(server)).toBe(true);
      expect(lines.join("\n")).toMatch(new RegExp(`port ${port} was taken meanwhile \\(.*FATAL: +could not create any TCP/IP sockets\\): starting embedded PostgreSQL on port ${server.port}`));
      expect(JSON.parse(readFileSync(ownerFileOf(server.dataDir), "utf8")).port).toBe(server.port);
      const pid = postmasterPid(server.dataDir);
      await server.stop();
      expect(alive(pid)).toBe(false);
    } finally {
      taken.close();
    }
  });
});

describe("a starter killed with SIGKILL (tsx kills a start slow to acknowledge a group SIGTERM; kill -KILL by hand)", () => {
  /** A process that starts the embedded server on `dataDir` (and, given a pid, tells it to wait for that one), prints the postmaster's pid, and idles. */
  const starter = (dataDir: string, waitFor?: number) => {
    const script = path.join(folder, "starter.mts");
    writeFileSync(script, [
      `import { startEmbeddedPostgres } from ${JSON.stringify(path.join(process.cwd(), "server/db/embedded.ts"))};`,
      "const server = await startEmbeddedPostgres({ dataDir: process.argv[2] });",
      "if (process.argv[3]) server.stopAfter(Number(process.argv[3]), 10_000);",
      "console.log('ready');",
      "setInterval(() => {}, 1000);",
    ].join("\n"));
    const child = spawn(process.execPath, ["--import", "tsx", script, dataDir, ...(waitFor ? [String(waitFor)] : [])], { stdio: ["ignore", "pipe", "inherit"] });
    decoys.push(child);
    return new Promise<{ child: ChildProcess; postmaster: number }>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        if (String(d).includes("ready")) resolve({ child, postmaster: postmasterPid(dataDir) });
      });
      child.once("exit", (code) => reject(new Error(`the starter exited (code ${code}) before its server was ready`)));
    });
  };
  const until = async (done: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    return done();
  };

  it("break test: its server does not outlive it (it ran on, orphaned, until the next start reaped it)", async () => {
    const dataDir = path.join(folder, "killed");
    const { child, postmaster } = await starter(dataDir);
    expect(alive(postmaster)).toBe(true);
    child.kill("SIGKILL");
    expect(await until(() => !alive(postmaster), 10_000)).toBe(true);
    // The next start finds nothing to reap: a clean start.
    const lines: string[] = [];
    const server = await startEmbeddedPostgres({ dataDir, log: (l) => lines.push(l) });
    started.push(server);
    expect(lines.join("\n")).not.toMatch(/left running/);
    await server.stop();
  }, 20_000);

  it("break test: killed during initdb, it leaves the password in no shared folder, and the next start removes it", async () => {
    const dataDir = path.join(folder, "killed-initdb");
    const pwfile = path.join(initdbFolder(dataDir), "password");
    const tmpBefore = new Set(readdirSync(os.tmpdir()));
    const starting = starter(dataDir).catch(() => null);
    expect(await until(() => existsSync(pwfile), 30_000)).toBe(true);
    const child = decoys.at(-1)!;
    child.kill("SIGKILL");
    await starting;
    // Before: `<tmp>/rerank-pg-pw-<hex>`, never removed. Now only the private folder beside the data folder has it.
    expect(readdirSync(os.tmpdir()).filter((name) => /^rerank-pg-pw-/.test(name) && !tmpBefore.has(name))).toEqual([]);
    expect(statSync(initdbFolder(dataDir)).mode & 0o777).toBe(0o700);
    expect(statSync(pwfile).mode & 0o777).toBe(0o600);
    // The orphaned initdb finishes (or fails) on its own; the next start on the folder removes the file either way.
    await until(() => !readdirSync("/proc").some((pid) => /^\d+$/.test(pid) && (() => { try { return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`--pgdata=${dataDir}`); } catch { return false; } })()), 30_000);
    const server = await startEmbeddedPostgres({ dataDir }).catch(() => null);
    if (server) started.push(server);
    expect(existsSync(initdbFolder(dataDir))).toBe(false);
    if (server) await server.stop();
  }, 90_000);

  it("waits for the process it was told of (the console's server, still writing its logs) before it stops the server", async () => {
    const dataDir = path.join(folder, "killed-waiting");
    // It lives 2.5 s from the starter's kill (from its own start, it was gone before a slow initdb ended).
    const server = spawn(process.execPath, ["-e", "process.stdin.once('data', () => { process.stdin.destroy(); setTimeout(() => {}, 2500); })"], { stdio: ["pipe", "ignore", "ignore"] });
    decoys.push(server);
    await once(server, "spawn");
    const { child, postmaster } = await starter(dataDir, server.pid);
    child.kill("SIGKILL");
    server.stdin!.write("go\n");
    await new Promise((r) => setTimeout(r, 1000));
    expect([alive(server.pid!), alive(postmaster)]).toEqual([true, true]); // the server still flushes into it
    expect(await until(() => !alive(postmaster), 12_000)).toBe(true);
    expect(server.exitCode).toBe(0); // it lived its time: it was waited for, not cut short
  }, 20_000);

  it("a stop() ends the guard: a later SIGKILL of the starter signals nothing", async () => {
    const dataDir = path.join(folder, "stopped");
    const server = await startEmbeddedPostgres({ dataDir });
    const pid = postmasterPid(dataDir);
    const isGuard = (p: string) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`rerank-postgres-guard\0${pid}\0`);
      } catch {
        return false;
      }
    };
    const guards = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p) && isGuard(p));
    expect(guards()).toHaveLength(1);
    await server.stop();
    expect(alive(pid)).toBe(false);
    expect(await until(() => guards().length === 0, 2000)).toBe(true);
  });
});
