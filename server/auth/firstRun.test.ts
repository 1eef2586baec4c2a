import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { credentialsFileNotice, writeCredentialsFile } from "./firstRun";

const creds = (n: string) => ({ adminEmail: "admin@rerank.local", adminPassword: `${n}-password`, apiKey: `rk_${n}` });

describe("the first start's credentials file", () => {
  it("issue #14 break test: a second first start (a new embedded database in the same checkout) keeps the earlier file instead of overwriting it, and says so", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "first-run-"));
    const file = path.join(dir, ".data", "first-run-credentials.json");
    const previous = path.join(dir, ".data", "first-run-credentials.previous.json");
    expect(writeCredentialsFile(file, creds("first"))).toEqual({ previous: null, removed: [] });
    const change = writeCredentialsFile(file, creds("second"));
    expect(change).toEqual({ previous, removed: [] });
    expect(JSON.parse(readFileSync(previous, "utf8"))).toEqual(creds("first"));
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(creds("second"));
    for (const f of [file, previous]) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(credentialsFileNotice(change)).toEqual([
      `warning: the earlier first-run credentials (another database's admin password and API key) are kept in ${previous} (mode 600); delete it once that database is gone or its password changed`,
    ]);
  });

  it("review item 22: files with live admin passwords do not pile up: only the newest earlier copy is kept, and each removal is said", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "first-run-"));
    const file = path.join(dir, "first-run-credentials.json");
    // Dated copies an earlier version kept beside the file, and an unrelated file that stays.
    const dated = ["first-run-credentials.2026-11-28T10-00-00.000Z.json", "first-run-credentials.2026-11-29T22-30-00.000Z.json"].map((n) => path.join(dir, n));
    for (const f of dated) writeFileSync(f, "{}", { mode: 0o600 });
    writeFileSync(path.join(dir, "notes.json"), "{}");
    writeCredentialsFile(file, creds("first"));
    writeCredentialsFile(file, creds("second"));
    const third = writeCredentialsFile(file, creds("third"));
    expect(third).toEqual({ previous: path.join(dir, "first-run-credentials.previous.json"), removed: [path.join(dir, "first-run-credentials.previous.json")] });
    expect(JSON.parse(readFileSync(third.previous!, "utf8"))).toEqual(creds("second")); // the newest earlier copy
    expect(readdirSync(dir).sort()).toEqual(["first-run-credentials.json", "first-run-credentials.previous.json", "notes.json"]);
    expect(credentialsFileNotice(third)[1]).toBe(`warning: removed 1 older first-run credentials file: ${path.join(dir, "first-run-credentials.previous.json")}`);
  });

  it("removes the dated copies earlier versions kept, naming them", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "first-run-"));
    const file = path.join(dir, "first-run-credentials.json");
    const dated = path.join(dir, "first-run-credentials.2026-11-29T22-30-00.000Z.json");
    writeFileSync(dated, "{}");
    chmodSync(dated, 0o600);
    const change = writeCredentialsFile(file, creds("first"));
    expect(change).toEqual({ previous: null, removed: [dated] });
    expect(credentialsFileNotice(change)).toEqual([`warning: removed 1 older first-run credentials file: ${dated}`]);
    expect(readdirSync(dir)).toEqual(["first-run-credentials.json"]);
  });

  // Run in a child process: before the fix, mkdirSync({ recursive: true }) under /proc never returned, and a synchronous spin cannot be timed out in-process.
  const writeIn = (file: string) =>
    spawnSync(process.execPath, ["--import", "tsx", "-e", `import("./server/auth/firstRun.ts").then((m) => { try { m.writeCredentialsFile(${JSON.stringify(file)}, { adminEmail: "a@b.c", adminPassword: "pw-12345678", apiKey: "rk_x" }); console.log("written"); } catch (e) { console.log(e.constructor.name + ": " + e.message); } })`], { encoding: "utf8", timeout: 20_000 });

  it.each([
    ["/proc/rerank-first-run/first-run-credentials.json", "/proc"],
    ["/sys/rerank/first-run-credentials.json", "/sys"],
    ["/dev/null/first-run-credentials.json", "/dev"],
  ])("break test: a path in a kernel file system (%s) fails at once with one line naming it (mkdir spun forever under /proc)", (file, kernel) => {
    const started = Date.now();
    const result = writeIn(file);
    expect(result.error).toBeUndefined(); // not killed by the timeout
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.stdout.trim()).toBe(`CredentialsFileError: cannot write the first-run credentials to ${file}: ${kernel} is a kernel file system, not a folder for files: set FIRST_RUN_CREDENTIALS_FILE to a file in a writable folder`);
  });

  it("a folder that cannot be made, or a path that is not a regular file, fails with one line naming the path", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "first-run-"));
    writeFileSync(path.join(dir, "plain"), "");
    expect(() => writeCredentialsFile(path.join(dir, "plain", "sub", "creds.json"), creds("x"))).toThrow(`cannot write the first-run credentials to ${path.join(dir, "plain", "sub", "creds.json")} (ENOTDIR): set FIRST_RUN_CREDENTIALS_FILE to a file in a writable folder`);
    expect(() => writeCredentialsFile(dir, creds("x"))).toThrow(`cannot write the first-run credentials to ${dir}: it exists and is not a regular file: set FIRST_RUN_CREDENTIALS_FILE to a file in a writable folder`);
  });
});
