import { spawn } from "node:child_process";
import getPort from "get-port";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl } from "../db/client";
import { adminUrlOf, dropDatabase, ensureDatabase } from "../db/embedded";

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

describe("ADMIN_PASSWORD with db:migrate", () => {
  // A database of its own, empty at first: the first admin is made on it.
  const name = `rerank_admin_${Date.now().toString(36)}`;
  const url = new URL(databaseUrl());
  url.pathname = `/${name}`;
  const scratch = mkdtempSync(path.join(os.tmpdir(), "rerank-migrate-"));
  const env = (password: string) => ({ DATABASE_URL: url.toString(), ADMIN_PASSWORD: password, FIRST_RUN_CREDENTIALS_FILE: path.join(scratch, "credentials.json") });
  beforeAll(() => ensureDatabase(adminUrlOf(databaseUrl()), name));
  afterAll(async () => {
    await dropDatabase(adminUrlOf(databaseUrl()), name);
    rmSync(scratch, { recursive: true, force: true });
  });

  it("break test: a bad one stops only --first-admin on an empty database (it stopped every command, whatever the database)", async () => {
    const plain = await runMigrate([], env("short"));
    expect([plain.code, plain.stderr]).toEqual([0, ""]);
    const refused = await runMigrate(["--first-admin"], env("short"));
    expect([refused.code, refused.stderr.trim()]).toEqual([1, "Configuration: ADMIN_PASSWORD must be 8 to 128 characters, got a value of 5 characters (this database has nobody who signs in yet: it would be its first admin's)"]);
  }, 30_000);

  it("on a database that has its admin, a bad one is ignored and said so in one line", async () => {
    const created = await runMigrate(["--first-admin"], env("correct-horse-battery"));
    expect([created.code, created.stdout]).toEqual([0, expect.stringContaining("First start: an admin and a demo serving key were created")]);
    const ignored = await runMigrate(["--first-admin"], env("short"));
    expect([ignored.code, ignored.stderr]).toEqual([0, ""]);
    expect(ignored.stdout).toContain("first admin: ADMIN_PASSWORD is ignored: this database already has people who sign in with a password");
  }, 30_000);
});
