import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_IMPORT_LIMITS } from "../domain/importers/treeShape";
import { LETOR_FEATURES, readFixture } from "../domain/importers/fixtures/rows";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { importInWorker, minimumHeapMb } from "./importInWorker";
import type { ImportJob } from "./importJob";

// The upload's import job in a real worker thread: results and errors come back as the job made
// them; a deadline or a heap limit ends the worker with a 400 that says which limit.

const dir = mkdtempSync(path.join(tmpdir(), "import-worker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileOf(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

const spec = (n: number): FeatureSpec => Array.from({ length: n }, (_, i) => ({ name: `f${i + 1}`, source: "candidate", type: "float", default: 0 }));
const job = (format: ImportJob["format"], filePath: string, features: number): ImportJob => ({ format, filePath, featureSpec: spec(features), limits: DEFAULT_IMPORT_LIMITS, maxBytes: 50 * 1048576 });
const generous = { timeoutMs: 60_000, memoryMb: 512 };

describe("importInWorker", { timeout: 60_000 }, () => {
  it("converts and validates an XGBoost model in the worker, returning the ONNX and the import notes", async () => {
    const result = await importInWorker(job("xgboost", fileOf("es.json", readFixture("letor-xgboost-early-stopping.json")), LETOR_FEATURES), generous, 1_000_000);
    expect(result.bytes).toBeInstanceOf(Uint8Array);
    expect(result.bytes.length).toBeGreaterThan(1000);
    expect(result.validated.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.conversion?.notes.join(" ")).toMatch(/first 2 of the 12 trees serve/);
  });

  it("passes the job's own refusal back as a 400 naming the line: the 32-byte LightGBM upload", async () => {
    const hostile = fileOf("hostile.txt", "tree\nmax_feature_idx=4294967294\n");
    await expect(importInWorker(job("lightgbm", hostile, 3), generous, 1_000_000)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "file: not an importable lightgbm model: line 2: max_feature_idx=4294967294 declares 4294967295 features; the limit is 4096 (MODEL_MAX_FEATURES)",
    });
  });

  it("a feature spec of another width is refused before sample rows are made", async () => {
    await expect(importInWorker(job("lightgbm", fileOf("leaf.txt", readFixture("large-leaf-lightgbm.model.txt")), 5), generous, 1_000_000)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "featureSpec: the lightgbm model takes 3 features but the feature spec declares 5",
    });
  });

  it("ends the worker at the deadline with a 400 saying so", async () => {
    const file = fileOf("slow.json", readFixture("letor-xgboost.json"));
    await expect(importInWorker(job("xgboost", file, LETOR_FEATURES), { timeoutMs: 1, memoryMb: 512 }, 1_000_000)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "file: the model took longer than 1 ms to convert and check (MODEL_IMPORT_TIMEOUT_MS); nothing was stored",
    });
  });

  it("ends the worker at its heap limit with a 400 saying so", async () => {
    // 5,000,000 two-digit leaves on one line (15 MB): split into strings, then numbers, they need far more than 128 MB.
    const big = `tree\nversion=v4\nnum_class=1\nmax_feature_idx=0\n\nTree=0\nnum_leaves=1\nleaf_value=${"12 ".repeat(5_000_000)}\n\nend of trees\n`;
    const limits = { timeoutMs: 120_000, memoryMb: 128 };
    expect(minimumHeapMb(big.length)).toBeLessThanOrEqual(limits.memoryMb);
    await expect(importInWorker(job("lightgbm", fileOf("big.txt", big), 1), limits, big.length)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "file: converting and checking the model needed more than 128 MB (MODEL_IMPORT_MEMORY_MB); nothing was stored",
    });
  });

  it("refuses a heap too small for the file before starting a worker (one allocation beyond the heap would abort the process)", async () => {
    await expect(importInWorker(job("lightgbm", "/nonexistent", 1), { timeoutMs: 1000, memoryMb: 64 }, 10 * 1048576)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "file: a file of 10.0 MiB needs a conversion heap of at least 104 MB; MODEL_IMPORT_MEMORY_MB is 64",
    });
  });
});
