import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import getPort, { portNumbers } from "get-port";
import { describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { answers, waitForStart } from "../testing/startup";

// A server that cannot listen stops at once with one line, instead of restarting its workers
// (break test: HOST=example.invalid or an address of another machine made the workers fail at
// listen after their start-up, and the primary restarted them with backoff for the start's 240 s).

const ROOT = process.cwd();

function run(args: string[], env: Record<string, string>) {
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise<{ code: number | null; output: string; ms: number }>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    }),
  );
}

const serverProcess = (env: Record<string, string>) => run([path.join(ROOT, "server/testing/serverProcess.ts"), "--no-warm"], { WORKERS: "2", SERVING_AUTH: "off", ...env });

describe("a cluster that cannot listen", () => {
  it("a HOST that does not resolve, or is another machine's: one line naming HOST, its value and the code, exit 1, no worker forked", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    for (const [host, code] of [["example.invalid", /ENOTFOUND|EAI_AGAIN/], ["192.0.2.1", /EADDRNOTAVAIL/]] as const) {
      const result = await serverProcess({ HOST: host, PORT: String(port) });
      expect([host, result.code]).toEqual([host, 1]);
      const lines = result.output.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^\\[rerank\\] cannot listen on HOST=${host.replaceAll(".", "\\.")}: .*\\((${code.source})`));
      expect(result.ms).toBeLessThan(30_000);
    }
  });

  it("a PORT another process holds: one line naming PORT and EADDRINUSE, exit 1", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    const holder = net.createServer().listen(port, "127.0.0.1");
    await once(holder, "listening");
    try {
      const result = await serverProcess({ HOST: "127.0.0.1", PORT: String(port) });
      expect(result.code).toBe(1);
      // The holder is this test's process: named by its pid (and command line).
      expect(result.output.trim().split("\n")).toEqual([
        expect.stringMatching(new RegExp(`^\\[rerank\\] cannot listen on HOST=127\\.0\\.0\\.1 PORT=${port}: the port is in use by another process \\(EADDRINUSE; pid ${process.pid}: [^)]*\\): stop it, or set PORT \\(or --port\\) to a free port$`)),
      ]);
    } finally {
      holder.close();
    }
  });

  it("a worker that exits before it ever listened is not restarted: the primary stops the others and exits with its code", async () => {
    // The primary's own supervision, with workers that die at start (as one that cannot load, or listen, does).
    const dir = mkdtempSync(path.join(os.tmpdir(), "rerank-cluster-"));
    const script = path.join(dir, "primary.mts");
    writeFileSync(script, [
      'import cluster from "node:cluster";',
      `import { runPrimary } from ${JSON.stringify(pathToFileURL(path.join(ROOT, "server/http/cluster.ts")).href)};`,
      "if (cluster.isPrimary) runPrimary({ workers: 2, drainMs: 1000, hangTimeoutMs: 30000, log: (line) => console.log(line) });",
      "else setTimeout(() => process.exit(3), 200);",
    ].join("\n"));
    try {
      const result = await run([script], {});
      expect(result.code).toBe(3);
      expect(result.output).toMatch(/worker \d \(pid \d+\) exited \(code 3\) before it listened: not restarting it; stopping the server/);
      expect(result.output).not.toContain("restarting it in");
      expect(result.ms).toBeLessThan(30_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A server process (server/testing/serverProcess.ts) on a free port, started as `npm start` starts it: with an IPC channel (`ipc`) or without. */
async function startServer(env: Record<string, string>, options: { stdout?: "pipe" | "closed" } = {}) {
  const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/testing/serverProcess.ts"), "--no-warm"], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SERVING_AUTH: "off", SHUTDOWN_DRAIN_MS: "2000", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  // `npm start | head`: the reader of the server's stdout is gone from the first line on.
  if (options.stdout === "closed") child.stdout.destroy();
  else child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("exit", (code, signal) => resolve([code, signal])));
  const workers = Number(env.WORKERS ?? "1");
  // Ready: each worker said it serves (unless its stdout is closed), and /api/metrics answers with every worker's figures.
  const said = () => options.stdout === "closed" || (output.match(/serving on/g) ?? []).length >= workers;
  await waitForStart(child, `the server (WORKERS=${workers})`, async () => said() && (await answers(`http://127.0.0.1:${port}/api/metrics`, (body) => workers === 1 || body.startsWith(`# workers: ${workers} of ${workers}`))), () => output, 60_000);
  return { child, port, output: () => output, exited };
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);
/** The pids of the workers a server's output says serve ("serving on … (pid N)"), in order. */
const workerPidsIn = (output: string) => [...output.matchAll(/serving on \S+ \(pid (\d+)/g)].map((m) => Number(m[1]));
/** The sum of a Prometheus text's samples whose line starts with `prefix` (every label set of a series). */
const sampleSum = (metrics: string, prefix: string) => metrics.split("\n").filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
const until = async (done: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  return done();
};

describe("a server whose stdout is a closed pipe (npm start | head)", () => {
  it("break test: its primary and workers go on serving (the logger's EPIPE crash-looped the server: 21 restarts in 70 s)", async () => {
    const server = await startServer({ WORKERS: "2" }, { stdout: "closed" });
    try {
      // Every process has written lines to the closed pipe by now (the primary's, each worker's "serving on").
      await new Promise((r) => setTimeout(r, 1000));
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/api/metrics`)).text();
      expect(metrics).toMatch(/^# workers: 2 of 2 answered/);
      expect(metrics).toContain('rerank_worker_restarts_total{reason="exit"} 0');
      expect([server.child.exitCode, server.child.signalCode]).toEqual([null, null]);
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual([0, null]);
    } finally {
      server.child.kill("SIGKILL");
    }
  }, 60_000);
});

describe("/api/metrics of WORKERS=2", () => {
  it("break test: process_max_fds is one process's limit, not the sum, and process_start_time_seconds is there", async () => {
    const server = await startServer({ WORKERS: "2" });
    try {
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/api/metrics`)).text();
      const value = (name: string) => metrics.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1];
      const workerPids = workerPidsIn(server.output());
      expect(workerPids).toHaveLength(2);
      // Each worker's soft limit of open files (/proc/<pid>/limits), as prom-client reads it.
      const limits = workerPids.map((pid) => Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))![1]));
      expect(Number(value("process_max_fds"))).toBe(Math.min(...limits));
      const start = Number(value("process_start_time_seconds"));
      expect(start).toBeGreaterThan(Date.now() / 1000 - 300);
      expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  }, 60_000);
});

describe("/api/metrics of WORKERS=2 across a worker's restart", () => {
  it("break test: the summed counters never fall (rerank_requests_total read 100, then 90 after a SIGKILL and 40 more requests)", async () => {
    await seedDemo(getDb());
    const server = await startServer({ WORKERS: "2" });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const rerank = async () => {
        const response = await fetch(`${base}/api/v1/rerank`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ surface: "search", topK: 2, candidates: [{ id: "sku-00001" }, { id: "sku-00002" }, { id: "sku-00003" }] }) });
        expect(response.status, await response.text()).toBe(200);
      };
      const scrape = () => fetch(`${base}/api/metrics`).then((r) => r.text());
      const served = (metrics: string) => sampleSum(metrics, "rerank_requests_total{");
      for (let i = 0; i < 20; i++) await rerank();
      const before = await scrape();
      expect(served(before)).toBe(20);
      // Round-robin spread the requests over both workers; the one killed had answered the scrape above.
      const workerPids = workerPidsIn(server.output());
      expect(workerPids).toHaveLength(2);
      process.kill(workerPids[1]!, "SIGKILL");
      expect(await until(() => (server.output().match(/serving on/g) ?? []).length >= 3, 30_000), server.output()).toBe(true);
      for (let i = 0; i < 10; i++) await rerank();
      const after = await scrape();
      expect(after).toMatch(/^# workers: 2 of 2 answered/);
      expect(after).toContain('rerank_worker_restarts_total{reason="exit"} 1');
      expect(after).toContain("# counters and histograms include the last figures of workers restarted or not answering");
      expect(served(after)).toBe(30);
      // A histogram carries too: every answer's candidates are observed once.
      expect(sampleSum(after, "rerank_candidates_per_request_count")).toBe(30);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  }, 120_000);
});

describe("a connection handed to a worker that stopped", () => {
  it("break test: is closed once the watchdog kills the worker (its client waited for its own timeout, and the primary kept the socket)", async () => {
    const server = await startServer({ WORKERS: "2", WORKER_HANG_TIMEOUT_MS: "2000" });
    try {
      const workerPids = workerPidsIn(server.output());
      expect(workerPids).toHaveLength(2);
      process.kill(workerPids[1]!, "SIGSTOP");
      // New connections, one request each: round-robin hands the first the stopped worker is free for to it.
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () =>
          new Promise<{ answered: boolean; ms: number }>((resolve) => {
            const started = Date.now();
            const socket = net.connect(server.port, "127.0.0.1");
            let answered = false;
            const timer = setTimeout(() => socket.destroy(), 20_000);
            socket.on("data", (d: Buffer) => (answered ||= d.toString().startsWith("HTTP/1.1 ")));
            socket.on("error", () => {});
            socket.on("close", () => (clearTimeout(timer), resolve({ answered, ms: Date.now() - started })));
            socket.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`);
          }),
        ),
      );
      expect(outcomes.filter((o) => !o.answered).length, JSON.stringify(outcomes)).toBeGreaterThan(0); // one went to the stopped worker
      // Every connection ended well before the clients' 20 s: answered, or closed after the kill (hang timeout 2 s, heartbeats, 1 s grace).
      for (const outcome of outcomes) expect(outcome.ms, JSON.stringify(outcomes)).toBeLessThan(15_000);
      // The primary's log line travels its stdout, which may arrive after the client saw the close.
      const said = /closed \d+ connections? handed to it that it never took/;
      expect(await until(() => said.test(server.output()), 5_000), server.output()).toBe(true);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  }, 90_000);
});

describe("a port a Rerank Console already listens on", () => {
  it("break test: the second server names the console there and its pid (it said only 'port in use')", async () => {
    const first = await startServer({ WORKERS: "1" });
    try {
      const version = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
      const result = await serverProcess({ HOST: "127.0.0.1", PORT: String(first.port), WORKERS: "1" });
      expect(result.code).toBe(1);
      expect(result.output.trim().split("\n")).toEqual([
        `[rerank] cannot listen on HOST=127.0.0.1 PORT=${first.port}: a Rerank Console ${version} already runs there (EADDRINUSE; pid ${first.child.pid}): stop it (Ctrl-C in its terminal, or kill ${first.child.pid}), or set PORT (or --port) to a free port`,
      ]);
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
  }, 60_000);
});

describe("a server whose npm start is killed with SIGKILL", () => {
  /**
   * A stand-in for npm start: spawns `command` with an IPC channel as the start does, relays its
   * output, and idles. Via `tsx watch` with --dev.
   */
  const startLike = (command: string[], env: Record<string, string>) => {
    const script = `const c = require("node:child_process").spawn(process.execPath, ${JSON.stringify(command)}, { stdio: ["ignore", "inherit", "inherit", "ipc"] }); console.log("start " + process.pid + " server " + c.pid); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["-e", script], { cwd: ROOT, env: { ...process.env, HOST: "127.0.0.1", SERVING_AUTH: "off", SHUTDOWN_DRAIN_MS: "2000", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    return { child, output: () => output };
  };

  it("break test: the server stops by itself, its workers drained (it ran on, orphaned, holding the port)", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    const start = startLike(["--import", "tsx", path.join(ROOT, "server/testing/serverProcess.ts"), "--no-warm"], { PORT: String(port), WORKERS: "2" });
    try {
      await waitForStart(start.child, "the server", async () => (start.output().match(/serving on/g) ?? []).length >= 2 && (await answers(`http://127.0.0.1:${port}/api/metrics`, (body) => body.startsWith("# workers: 2 of 2"))), start.output, 60_000);
      const primary = Number(/server (\d+)/.exec(start.output())![1]);
      const workers = workerPidsIn(start.output());
      expect(workers).toHaveLength(2);
      start.child.kill("SIGKILL");
      expect(await until(() => ![primary, ...workers].some(alive), 15_000)).toBe(true);
      expect(start.output()).toContain(`the npm start that ran this server (pid ${start.child.pid}) is gone: stopping (as on SIGTERM)`);
      expect(start.output()).toContain("SIGTERM: stopping 2 workers");
      expect(start.output().match(/worker \d\] SIGTERM: stopped/g)).toHaveLength(2); // drained and flushed, not cut
      expect(await tryListenFree(port)).toBe(true);
    } finally {
      start.child.kill("SIGKILL");
    }
  }, 60_000);

  it("with --dev (tsx watch between them): the server stops, and tsx watch with it", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    const tsxCli = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
    const start = startLike([tsxCli, "watch", "--clear-screen=false", path.join(ROOT, "server/testing/serverProcess.ts"), "--no-warm"], { PORT: String(port), WORKERS: "1", RERANK_DEV: "1" });
    try {
      await waitForStart(start.child, "the server", async () => /serving on/.test(start.output()) && (await answers(`http://127.0.0.1:${port}/api/health`)), start.output, 60_000);
      const watcher = Number(/server (\d+)/.exec(start.output())![1]);
      const server = Number(/serving on \S+ \(pid (\d+)/.exec(start.output())![1]);
      start.child.kill("SIGKILL");
      expect(await until(() => !alive(server) && !alive(watcher), 15_000)).toBe(true);
      expect(start.output()).toMatch(/is gone: stopping \(as on SIGTERM\)/);
    } finally {
      start.child.kill("SIGKILL");
    }
  }, 60_000);

  it("a server started without an IPC channel (a container, a process manager) is not watched: its parent's end changes nothing", async () => {
    const port = await getPort({ port: portNumbers(3400, 3499), host: "127.0.0.1" });
    const script = `const c = require("node:child_process").spawn(process.execPath, ${JSON.stringify(["--import", "tsx", path.join(ROOT, "server/testing/serverProcess.ts"), "--no-warm"])}, { stdio: ["ignore", "inherit", "inherit"], detached: true }); console.log("server " + c.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["-e", script], { cwd: ROOT, env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), SERVING_AUTH: "off", SHUTDOWN_DRAIN_MS: "2000", WORKERS: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    parent.stdout.on("data", (d) => (output += d));
    parent.stderr.on("data", (d) => (output += d));
    let server = 0;
    try {
      await waitForStart(parent, "the server", () => answers(`http://127.0.0.1:${port}/api/health`), () => output, 60_000);
      server = Number(/server (\d+)/.exec(output)![1]);
      parent.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 2500)); // past a poll of the chain
      expect(alive(server)).toBe(true);
      expect(await answers(`http://127.0.0.1:${port}/api/health`)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
      if (server && alive(server)) process.kill(server, "SIGTERM");
      await until(() => !server || !alive(server), 10_000);
    }
  }, 60_000);
});

/** Whether the port can be listened on again (the killed start's server let it go). */
function tryListenFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}
