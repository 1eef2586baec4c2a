import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { writeCredentialsFile } from "./firstRun";

describe("the first start's credentials file", () => {
  it("issue #14 break test: a second first start (a new embedded database in the same checkout) keeps the earlier file beside instead of overwriting it", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "first-run-"));
    const file = path.join(dir, ".data", "first-run-credentials.json");
    const first = { adminEmail: "admin@rerank.local", adminPassword: "first-password", apiKey: "rk_first" };
    const second = { adminEmail: "admin@rerank.local", adminPassword: "second-password", apiKey: "rk_second" };
    expect(writeCredentialsFile(file, first)).toBeNull();
    const kept = writeCredentialsFile(file, second, new Date("2026-11-29T22:30:00.000Z"));
    expect(kept).toBe(path.join(dir, ".data", "first-run-credentials.2026-11-29T22-30-00.000Z.json"));
    expect(JSON.parse(readFileSync(kept!, "utf8"))).toEqual(first);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(second);
    expect(readdirSync(path.join(dir, ".data")).sort()).toEqual(["first-run-credentials.2026-11-29T22-30-00.000Z.json", "first-run-credentials.json"]);
    for (const f of [file, kept!]) expect(statSync(f).mode & 0o777).toBe(0o600);
  });
});
