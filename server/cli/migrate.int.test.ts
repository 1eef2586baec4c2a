import { spawn } from "node:child_process";
import getPort from "get-port";
import { describe, expect, it } from "vitest";

// First-run break test: `npm run db:migrate -- --help` migrated the database (every flag was ignored).

function runMigrate(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/cli/migrate.ts", ...args], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const USAGE = "usage: npm run db:migrate -- [--seed] [--first-admin]";

describe("npm run db:migrate", () => {
  it("break test: --help prints the usage and touches no database", async () => {
    // A database nobody listens on: reaching for it would print "Cannot reach PostgreSQL".
    const closed = await getPort();
    const result = await runMigrate(["--help"], { DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/rerank` });
    expect([result.code, result.stdout.trim(), result.stderr]).toEqual([0, USAGE, ""]);
  });

  it("refuses an unknown flag or an argument with exit 2 and one line naming it", async () => {
    const closed = await getPort();
    for (const [args, named] of [[["--frobnicate"], "Unknown option '--frobnicate'"], [["seed"], "Unexpected argument 'seed'"]] as const) {
      const result = await runMigrate([...args], { DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/rerank` });
      expect([result.code, result.stderr.trim().split("\n"), result.stdout]).toEqual([2, [`[rerank] ${named}`, USAGE], ""]);
    }
  });
});
