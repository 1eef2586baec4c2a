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
});
