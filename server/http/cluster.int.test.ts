import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import getPort, { portNumbers } from "get-port";
import { describe, expect, it } from "vitest";

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
      expect(result.output.trim().split("\n")).toEqual([
        `[rerank] cannot listen on HOST=127.0.0.1 PORT=${port}: the port is in use by another process (EADDRINUSE): stop it, or set PORT (or --port) to a free port`,
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
