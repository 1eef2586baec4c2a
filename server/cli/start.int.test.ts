import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import http from "node:http";
import getPort, { portNumbers } from "get-port";
import { describe, expect, it } from "vitest";

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
      expect(result.stderr.trim().split("\n")).toEqual([`[rerank] cannot listen on HOST=127.0.0.1 PORT=${port}: the port is in use by another process (EADDRINUSE): stop it, or set PORT (or --port) to a free port`]);
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
