import { spawnSync } from "node:child_process";
import { answers } from "../testing/postgres";
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import pg from "pg";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { currentProcess } from "../system/processIdentity";
import { EmbeddedPostgresError, ownerFileOf, startEmbeddedPostgres, type EmbeddedServer } from "./embedded";

// Break test of issue 15: `npm run db:retention` beside a running `npm start` stopped the start's
// embedded PostgreSQL as "left running by an earlier start" and left the console without a database.
// A server whose starter is alive is used and left running; only one whose starter is gone is stopped.

const folder = mkdtempSync(path.join(os.tmpdir(), "rerank-attach-"));
const dataDir = path.join(folder, "postgres");
const started: EmbeddedServer[] = [];


afterAll(async () => {
  for (const server of started) await server.stop().catch(() => {});
  const real = started[0]?.dataDir;
  rmSync(folder, { recursive: true, force: true });
  if (real && real !== dataDir) rmSync(path.dirname(real), { recursive: true, force: true });
});

describe("an embedded PostgreSQL another live process runs", () => {
  it("is used and left running by a second resolver (db:retention beside npm start)", async () => {
    const owner = await startEmbeddedPostgres({ dataDir });
    started.push(owner);
    expect(owner.attached).toBe(false);
    const lines: string[] = [];
    const second = await startEmbeddedPostgres({ dataDir, log: (l) => lines.push(l) });
    expect(second.attached).toBe(true);
    expect(second.port).toBe(owner.port);
    expect(await answers(second)).toBe(true);
    await second.stop();
    expect(await answers(owner)).toBe(true); // the console's database is still up
    expect(lines.join("\n")).not.toMatch(/stopping/);
  });

  it("is refused in one line by a second npm start (shared: refuse)", async () => {
    await expect(startEmbeddedPostgres({ dataDir, shared: "refuse" })).rejects.toThrow(EmbeddedPostgresError);
    await expect(startEmbeddedPostgres({ dataDir, shared: "refuse" })).rejects.toThrow(/already run by another process \(pid \d+, port \d+\)/);
  });

  it("is stopped as a leftover when the process that started it is gone", async () => {
    const owner = started[0]!;
    const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    writeFileSync(ownerFileOf(owner.dataDir), JSON.stringify({ pid: Number(gone.stdout.trim()), port: owner.port }), { mode: 0o600 });
    const lines: string[] = [];
    const fresh = await startEmbeddedPostgres({ dataDir, log: (l) => lines.push(l) });
    started.push(fresh);
    expect(fresh.attached).toBe(false);
    expect(lines.join("\n")).toMatch(/stopping an embedded PostgreSQL \(pid \d+\) left running by an earlier start that is gone/);
    expect(await answers(fresh)).toBe(true);
  });

  it("review item 3: an owner file another user planted (naming a live process) is not trusted: the server is a leftover and is stopped", async () => {
    const owner = started.at(-1)!;
    const file = ownerFileOf(owner.dataDir);
    rmSync(file, { force: true });
    writeFileSync(file, JSON.stringify({ ...currentProcess(), port: owner.port }), { mode: 0o600 });
    chownSync(file, 65534, 65534);
    const lines: string[] = [];
    const fresh = await startEmbeddedPostgres({ dataDir, log: (l) => lines.push(l) });
    started.push(fresh);
    expect(fresh.attached).toBe(false);
    expect(lines.join("\n")).toMatch(/ignoring .*-owner\.json: refusing .* it is owned by uid 65534/);
    expect(lines.join("\n")).toMatch(/stopping an embedded PostgreSQL \(pid \d+\) left running/);
    expect(await answers(fresh)).toBe(true);
  });
});

describe("the embedded server's sign-in", () => {
  it("is scram-sha-256 on a new folder; a folder initialised with `password` (cleartext) is moved to it once, its password kept", async () => {
    const own = mkdtempSync(path.join(os.tmpdir(), "rerank-scram-"));
    const requested = path.join(own, "postgres");
    const lines: string[] = [];
    let server = await startEmbeddedPostgres({ dataDir: requested, log: (l) => lines.push(l) });
    const hbaFile = () => path.join(server.dataDir, "pg_hba.conf");
    const methods = () => new Set(readFileSync(hbaFile(), "utf8").split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")).map((l) => l.trim().split(/\s+/).at(-1)));
    try {
      expect(methods()).toEqual(new Set(["scram-sha-256"]));
      expect(await answers(server)).toBe(true);
      // A folder of an earlier version: initdb --auth=password.
      await server.stop();
      writeFileSync(hbaFile(), readFileSync(hbaFile(), "utf8").replaceAll("scram-sha-256", "password")); // the file keeps its owner
      expect(methods()).toEqual(new Set(["password"]));
      server = await startEmbeddedPostgres({ dataDir: requested, log: (l) => lines.push(l) });
      expect(lines.join("\n")).toContain("embedded PostgreSQL: sign-in now uses scram-sha-256");
      expect(methods()).toEqual(new Set(["scram-sha-256"]));
      expect(await answers(server)).toBe(true);
      const client = new pg.Client({ connectionString: server.urlFor("postgres") });
      await client.connect();
      const { rows } = await client.query<{ verifier: string }>("SELECT rolpassword AS verifier FROM pg_authid WHERE rolname = current_user");
      await client.end();
      expect(rows[0]!.verifier).toMatch(/^SCRAM-SHA-256\$/);
    } finally {
      await server.stop().catch(() => {});
      rmSync(own, { recursive: true, force: true });
      if (server.dataDir !== requested) rmSync(path.dirname(server.dataDir), { recursive: true, force: true });
    }
  });
});
