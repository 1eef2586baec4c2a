import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// First-run break test: the embedded PostgreSQL runs in a process group of its own (it must outlive
// Ctrl-C in npm start, which stops it last), so a one-shot command that started it (db:migrate,
// db:retention, a benchmark) and was stopped by a signal, or by a closed terminal, left it running.

/** Runs resolveDatabase in a child (no DATABASE_URL: a throwaway embedded server) and returns it with the server's data folder once it is up. */
function startResolver(options: string, then = "setInterval(() => {}, 1000)") {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const script = `import("./server/cli/database.ts").then(async (m) => { await m.resolveDatabase(${options}); console.log("READY"); ${then}; })`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stderr.on("data", (d) => (stdout += d));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      const dataDir = /data in ([^)]+)\)/.exec(stdout)?.[1];
      if (stdout.includes("READY") && dataDir) resolve(path.resolve(dataDir));
    });
    child.on("exit", (code) => reject(new Error(`the resolver exited (code ${code}) before it was ready: ${stdout}`)));
  });
  return { child, ready };
}

const exited = (child: ReturnType<typeof spawn>) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve({ code: child.exitCode, signal: child.signalCode }) : child.once("exit", (code, signal) => resolve({ code, signal }))));

async function gone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (!existsSync(`/proc/${pid}`)) return true;
  return false;
}

describe("an embedded PostgreSQL started by resolveDatabase", () => {
  it.each(["SIGHUP", "SIGINT", "SIGTERM"] as const)("break test: is stopped when the command gets %s, which then ends by that signal", async (signal) => {
    const { child, ready } = startResolver("{ ephemeral: true, log: console.log }");
    const dataDir = await ready;
    const postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    try {
      child.kill(signal);
      expect(await exited(child)).toEqual({ code: null, signal });
      expect(await gone(postmaster)).toBe(true);
      expect(existsSync(path.dirname(dataDir))).toBe(false); // the throwaway folder is removed too
    } finally {
      if (existsSync(`/proc/${postmaster}`)) process.kill(postmaster, "SIGINT");
    }
  });

  it("is stopped when the command exits without closing it (process.exit, e.g. a signal handler of its own), also with signals: \"caller\"", async () => {
    const { child, ready } = startResolver("{ ephemeral: true, log: console.log, signals: \"caller\" }", "setTimeout(() => process.exit(3), 500)");
    const dataDir = await ready;
    const postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    try {
      expect(await exited(child)).toEqual({ code: 3, signal: null });
      expect(await gone(postmaster)).toBe(true);
    } finally {
      if (existsSync(`/proc/${postmaster}`)) process.kill(postmaster, "SIGINT");
      rmSync(path.dirname(dataDir), { recursive: true, force: true }); // only close() removes the throwaway folder
    }
  });
});
