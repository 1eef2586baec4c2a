import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import getPort, { portNumbers } from "get-port";
import { afterAll, describe, expect, it } from "vitest";
import { ensureFirstAdmin } from "../auth/firstRun";
import { getDb } from "../db/client";

function runStart(env: Record<string, string>, args: string[] = []) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/cli/start.ts", "--no-seed", ...args], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm start", () => {
  it("exits non-zero with one line naming host and port when DATABASE_URL points at a closed port", async () => {
    const port = await getPort();
    const result = await runStart({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/rerank` });
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^\\[rerank\\] Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} `));
  });

  it("exits 1 before starting anything, printing one line naming a bad setting and what it got", async () => {
    const result = await runStart({ DATABASE_POOL_SIZE: "ten" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual(['Configuration: DATABASE_POOL_SIZE must be an integer from 1 to 200, got "ten"']);
    expect(result.stdout).toBe(""); // no database was started or reached
  });

  it("refuses a port another process holds in one line, before touching any database (break test: it said it ran, at that process's URL, and printed new credentials)", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const other = http.createServer((_req, res) => res.end("someone else")).listen(port, "127.0.0.1");
    await once(other, "listening");
    try {
      // A database URL nobody listens on: reaching it would print "Cannot reach PostgreSQL".
      const closed = await getPort();
      const result = await runStart({ PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/rerank` });
      expect(result.code).toBe(1);
      // The holder (this test's process) is named by its pid and command line.
      expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^\\[rerank\\] cannot listen on HOST=127\\.0\\.0\\.1 PORT=${port}: the port is in use by another process \\(EADDRINUSE; pid ${process.pid}: [^)]*\\): stop it, or set PORT \\(or --port\\) to a free port$`))]);
      expect(result.stdout).toBe("");
    } finally {
      other.close();
    }
  });

  it("refuses a HOST it cannot listen on in one line naming HOST, its value and the system's code, before touching any database (its workers were restarted for 240 s)", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    const closed = await getPort({ port: portNumbers(3500, 3599) });
    for (const [host, code] of [["example.invalid", "(ENOTFOUND|EAI_AGAIN)"], ["192.0.2.1", "EADDRNOTAVAIL"]]) {
      const started = Date.now();
      const result = await runStart({ HOST: host!, PORT: String(port), DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/rerank` });
      expect([host, result.code]).toEqual([host, 1]);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^\\[rerank\\] cannot listen on HOST=${host!.replaceAll(".", "\\.")}: .*\\(${code}\\b.*set HOST \\(or --host\\)`));
      expect(result.stdout).toBe("");
      expect(Date.now() - started).toBeLessThan(20_000);
    }
    // Named as the flag when it came from one.
    const flagged = await runStart({ PORT: String(port), DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/rerank` }, ["--host", "192.0.2.1"]);
    expect([flagged.code, flagged.stderr.trim()]).toEqual([1, expect.stringMatching(/^\[rerank\] cannot listen on --host 192\.0\.2\.1: it is not an address of this machine \(EADDRNOTAVAIL\)/)]);
  });

  it("refuses a bad --port or an unknown flag with one line and the usage, and --help prints the usage (a parseArgs stack trace before)", async () => {
    for (const args of [["--port", "abc"], ["--port", "70000"], ["--port", "0"], ["--frobnicate"]]) {
      const result = await runStart({ DATABASE_POOL_SIZE: "10" }, args);
      expect([args.join(" "), result.code]).toEqual([args.join(" "), 2]);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^usage: npm start -- /);
    }
    expect((await runStart({}, ["--port", "abc"])).stderr).toContain('--port: an integer from 1 to 65535, got "abc"');
    const help = await runStart({}, ["--help"]);
    expect([help.code, help.stdout.trim()]).toEqual([0, "usage: npm start -- [--port N] [--host ADDRESS] [--ephemeral] [--dev] [--no-seed]"]);
  });

  it("names every bad setting on that one line and never echoes a secret", async () => {
    const result = await runStart({ SERVING_AUTH: "maybe", AUTH_SECRET: "tooshort-secret" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([
      'Configuration: SERVING_AUTH must be "on" or "off", got "maybe"; AUTH_SECRET must be at least 32 characters (e.g. openssl rand -base64 32), got a value of 15 characters',
    ]);
    expect(result.stderr).not.toContain("tooshort-secret");
  });

  it("break test: a closed terminal (SIGHUP) stops the embedded PostgreSQL as Ctrl-C does (it was left running)", async () => {
    const env = { ...process.env };
    delete env.DATABASE_URL; // the throwaway embedded server of --ephemeral
    const child = spawn(process.execPath, ["--import", "tsx", "server/cli/start.ts", "--no-seed", "--ephemeral"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stderr.on("data", (d) => (output += d));
    const dataDir = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        output += d;
        const match = /embedded PostgreSQL listening on 127\.0\.0\.1:\d+ \(data in ([^)]+)\)/.exec(output);
        if (match) resolve(path.resolve(match[1]!));
      });
      child.on("exit", (code) => reject(new Error(`npm start exited (code ${code}) before its database was up: ${output}`)));
    });
    const postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    try {
      const exited = once(child, "exit");
      child.kill("SIGHUP");
      const [code, signal] = await exited;
      expect([code, signal]).toEqual([0, null]);
      expect(output).toContain("[rerank] stopping the database");
      for (let i = 0; i < 100 && existsSync(`/proc/${postmaster}`); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(`/proc/${postmaster}`)).toBe(false);
    } finally {
      if (existsSync(`/proc/${postmaster}`)) process.kill(postmaster, "SIGINT");
    }
  });
  it.each(["SIGTERM", "SIGINT"] as const)("break test: `kill -%s <npm's pid>` (to npm alone) stops the start and its embedded PostgreSQL (npm's sh died or waited and left them running)", async (signal) => {
    const env = { ...process.env };
    delete env.DATABASE_URL; // the throwaway embedded server of --ephemeral
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    // As a user or a process manager runs it: npm → sh -c → tsx → the start.
    const npm = spawn("npm", ["start", "--", "--no-seed", "--ephemeral", "--port", String(port)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    npm.stderr.on("data", (d) => (output += d));
    const dataDir = await new Promise<string>((resolve, reject) => {
      npm.stdout.on("data", (d) => {
        output += d;
        const match = /embedded PostgreSQL listening on 127\.0\.0\.1:\d+ \(data in ([^)]+)\)/.exec(output);
        if (match) resolve(path.resolve(match[1]!));
      });
      npm.on("exit", (code) => reject(new Error(`npm start exited (code ${code}) before its database was up: ${output}`)));
    });
    const postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    // The start's processes (tsx and the start itself), found by their command line.
    const starts = () =>
      readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
        try {
          const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
          return args.some((a) => a.endsWith("server/cli/start.ts")) && args.includes(String(port));
        } catch {
          return false;
        }
      });
    expect(starts().length).toBeGreaterThan(0);
    try {
      npm.kill(signal);
      for (let i = 0; i < 300 && (existsSync(`/proc/${postmaster}`) || starts().length > 0); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(`/proc/${postmaster}`)).toBe(false);
      expect(starts()).toEqual([]);
    } finally {
      if (existsSync(`/proc/${postmaster}`)) process.kill(postmaster, "SIGINT");
      for (const pid of starts()) process.kill(Number(pid), "SIGKILL");
    }
  });
});

// The start as a whole, with --dev (no `next build`: the server runs Next.js in development mode and
// answers /api/health from its front door) so that each run takes seconds.
const scratch = mkdtempSync(path.join(os.tmpdir(), "rerank-start-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Started {
  child: ReturnType<typeof spawn>;
  output: () => string;
  stderr: () => string;
  /** The server's pid (from its "serving on" line), and the embedded PostgreSQL's postmaster and its data folder's parent when there is one. */
  server: number;
  scratch: string | null;
  postmaster: number | null;
  port: number;
}

/** `npm start -- --dev --no-seed …` until it says it runs (its credentials file in a scratch folder, never .data). `stdout: "closed"`: its reader is gone from the first line on (`npm start | head`). */
async function startDev(env: Record<string, string | undefined>, args: string[], options: { stdout?: "closed"; detached?: boolean } = {}): Promise<Started> {
  const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
  const childEnv: Record<string, string | undefined> = { ...process.env, FIRST_RUN_CREDENTIALS_FILE: path.join(scratch, `credentials-${port}.json`), SHUTDOWN_DRAIN_MS: "2000", ...env };
  for (const [name, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[name];
  const child = spawn(process.execPath, ["--import", "tsx", "server/cli/start.ts", "--dev", "--no-seed", "--port", String(port), ...args], { env: childEnv as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"], detached: options.detached });
  let output = "";
  let stderr = "";
  if (options.stdout === "closed") child.stdout.destroy();
  else child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => ((output += d), (stderr += d)));
  const url = `http://127.0.0.1:${port}/api/health`;
  for (const end = Date.now() + 60_000; ; ) {
    if (child.exitCode !== null) throw new Error(`npm start exited (code ${child.exitCode}) before it ran: ${output}`);
    if (options.stdout === "closed" ? await fetch(url).then((r) => r.ok, () => false) : output.includes("Rerank Console is running at")) break;
    if (Date.now() > end) throw new Error(`npm start did not run within 60 s: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // The listener of the port is the server (/proc/net/tcp → its socket's owner); its parent chain leads to the start.
  const server = options.stdout === "closed" ? serverOnPort(port) : Number(/serving on \S+ \(pid (\d+)/.exec(output)![1]);
  const dataDir = /data in ([^)]+)\)/.exec(output)?.[1];
  const postmaster = dataDir ? Number(readFileSync(path.join(path.resolve(dataDir), "postmaster.pid"), "utf8").split("\n")[0]) : null;
  return { child, output: () => output, stderr: () => stderr, server, postmaster, port, scratch: dataDir ? path.dirname(path.resolve(dataDir)) : null };
}

/** The pid of the process whose command line runs server/http/main.ts with PORT=`port` in its environment. */
function serverOnPort(port: number): number {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").some((a) => a.endsWith("server/http/main.ts"))) continue;
      if (readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`PORT=${port}`)) return Number(pid);
    } catch {
      // gone, or not ours
    }
  }
  throw new Error(`no server process on port ${port}`);
}

const alive = (pid: number | null) => pid !== null && existsSync(`/proc/${pid}`);
const until = async (done: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  return done();
};
const withoutDatabaseUrl = { DATABASE_URL: undefined };

describe("npm start killed with SIGKILL (kill -KILL, or tsx escalating a group SIGTERM)", () => {
  it("break test: neither its server nor its embedded PostgreSQL outlives it (both ran on, orphaned)", async () => {
    const started = await startDev(withoutDatabaseUrl, ["--ephemeral"]);
    try {
      expect([alive(started.server), alive(started.postmaster)]).toEqual([true, true]);
      started.child.kill("SIGKILL");
      expect(await until(() => !alive(started.server) && !alive(started.postmaster), 15_000)).toBe(true);
      // Its throwaway folder (68 MB) goes too, once the database has exited.
      expect(await until(() => !existsSync(started.scratch!), 5000)).toBe(true);
      // The server stopped first (as on SIGTERM, its logs flushed into the database), then the database.
      expect(started.output()).toMatch(/the npm start that ran this server \(pid \d+\) is gone: stopping|tsx \(pid \d+\), between this server and its npm start, is gone: stopping/);
      expect(started.output()).toContain("SIGTERM: stopped");
    } finally {
      for (const pid of [started.server, started.postmaster]) if (alive(pid)) process.kill(pid!, "SIGKILL");
    }
  }, 30_000);
});

describe("npm run dev stopped with Ctrl-C (SIGINT to the whole process group)", () => {
  it("break test: the server drains and flushes (tsx watch had two signals, the terminal's and the start's, and SIGKILLed it)", async () => {
    const started = await startDev(withoutDatabaseUrl, ["--ephemeral"], { detached: true });
    try {
      const exited = once(started.child, "exit");
      process.kill(-started.child.pid!, "SIGINT");
      expect(await exited).toEqual([0, null]);
      expect(started.output()).toMatch(/\[rerank\] SIG(INT|TERM): stopped \(drained in \d+ ms/);
      expect(started.output()).not.toContain("Force killing");
      expect(await until(() => !alive(started.server) && !alive(started.postmaster), 5000)).toBe(true);
    } finally {
      for (const pid of [started.server, started.postmaster]) if (alive(pid)) process.kill(pid!, "SIGKILL");
    }
  }, 30_000);
});

describe("npm start whose stdout is a closed pipe (npm start | head)", () => {
  it("break test: the start and its server run on and stop cleanly (the server's logger crash-looped it)", async () => {
    const started = await startDev(withoutDatabaseUrl, ["--ephemeral"], { stdout: "closed" });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(await fetch(`http://127.0.0.1:${started.port}/api/health`).then((r) => r.status)).toBe(200);
      expect(started.stderr()).not.toMatch(/EPIPE|exited|restarting/);
      const exited = once(started.child, "exit");
      started.child.kill("SIGTERM");
      expect(await exited).toEqual([0, null]);
      expect([alive(started.server), alive(started.postmaster)]).toEqual([false, false]);
    } finally {
      started.child.kill("SIGKILL");
    }
  }, 30_000);
});

describe("ADMIN_PASSWORD on a database that has its admin", () => {
  it("break test: a bad one is ignored like a good one, said in one line (the start refused); a second start on the port names the first", async () => {
    // This file's database, with its first admin.
    await ensureFirstAdmin(getDb(), { credentialsFile: path.join(scratch, "admin.json") });
    const started = await startDev({ ADMIN_PASSWORD: "short" }, []);
    try {
      expect(started.output()).toContain("[rerank] ADMIN_PASSWORD is ignored: this database already has people who sign in with a password");
      expect(started.output()).not.toContain("Configuration:");
      // The same port again: the console already there is named, with the start to stop.
      const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
      const second = await runStart({ HOST: "127.0.0.1" }, ["--port", String(started.port)]);
      expect([second.code, second.stderr.trim()]).toEqual([
        1,
        `[rerank] cannot listen on HOST=127.0.0.1 --port ${started.port}: a Rerank Console ${version} already runs there (EADDRINUSE; pid ${started.server}, run by npm start pid ${started.child.pid}): stop it (Ctrl-C in its terminal, or kill ${started.child.pid}), or set PORT (or --port) to a free port`,
      ]);
    } finally {
      started.child.kill("SIGTERM");
      await until(() => started.child.exitCode !== null, 20_000);
    }
  }, 45_000);

  it("on a database nobody signs in to yet, a bad one is refused in one line, before the server starts", async () => {
    const result = await runStart({ ADMIN_PASSWORD: "short", FIRST_RUN_CREDENTIALS_FILE: path.join(scratch, "refused.json") }, ["--ephemeral", "--dev"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual(["Configuration: ADMIN_PASSWORD must be 8 to 128 characters, got a value of 5 characters (this database has nobody who signs in yet: it would be its first admin's)"]);
    expect(result.stdout).not.toContain("serving on");
    expect(existsSync(path.join(scratch, "refused.json"))).toBe(false);
  }, 30_000);
});

describe("npm start whose npm dies in its first second (npm start | true: npm's banner meets a closed pipe)", () => {
  it.skipIf(process.platform !== "linux")("break test: the start stops at once, saying why, and nothing of it runs on (it, its PostgreSQL, its server served on for good)", async () => {
    const mark = `rerank-orphan-${process.pid}-${Date.now()}`;
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    const errFile = path.join(scratch, "orphan.err");
    // --dev (no next build in this shared folder) and --ephemeral: should it run on, it touches nothing of anyone else's.
    const command = `env RERANK_TEST_MARK=${mark} PORT=${port} npm start -- --ephemeral --dev --no-seed 2>${errFile} | true`;
    const withMark = () => readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`RERANK_TEST_MARK=${mark}`);
      } catch {
        return false;
      }
    }).map(Number);
    try {
      const shell = spawn("setsid", ["bash", "-c", command], { stdio: "ignore", env: { ...process.env } });
      await once(shell, "exit");
      const deadline = Date.now() + 20_000;
      while (withMark().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(withMark()).toEqual([]);
      expect(readFileSync(errFile, "utf8")).toMatch(/^\[rerank\] npm, which ran this start \(npm start\), was gone before it began \(its parent is now .+ \(pid \d+\)\): stopping$/m);
    } finally {
      for (const pid of withMark()) process.kill(pid, "SIGKILL"); // this test's own processes, should the fix fail
    }
  }, 40_000);
});
