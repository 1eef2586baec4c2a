import { Worker } from "node:worker_threads";
import { DomainError, InvalidInputError, type DomainErrorCode } from "../errors";
import type { ImportJob, ImportJobResult } from "./importJob";

// Runs an upload's import job (importJob.ts) in a worker thread, so parsing, conversion and the
// smoke inference never block the event loop that serves rerank requests, and a hostile file can
// exhaust only the worker's own heap (resourceLimits) and time (terminated at the deadline).

export interface WorkerLimits {
  /** MODEL_IMPORT_TIMEOUT_MS. */
  timeoutMs: number;
  /** MODEL_IMPORT_MEMORY_MB: the worker's old-generation heap. */
  memoryMb: number;
}

type WorkerReply = { ok: true; result: ImportJobResult } | { ok: false; error: { code?: unknown; message: string; stack?: string } };

const ENTRY = new URL("./importWorker.mjs", import.meta.url);

/**
 * The job's result, or: the job's own domain error (400 naming the field); InvalidInputError
 * "the model took longer than N s to convert" at the deadline; InvalidInputError "needed more than
 * N MB" when the worker runs out of heap. Anything else from the worker is an internal Error.
 */
export function importInWorker(job: ImportJob, limits: WorkerLimits, fileBytes: number): Promise<ImportJobResult> {
  const needed = minimumHeapMb(fileBytes);
  if (limits.memoryMb < needed) {
    return Promise.reject(new InvalidInputError("file", `a file of ${(fileBytes / 1048576).toFixed(1)} MiB needs a conversion heap of at least ${needed} MB; MODEL_IMPORT_MEMORY_MB is ${limits.memoryMb}`));
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(ENTRY, {
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(8, limits.memoryMb / 8)), stackSizeMb: 4 },
      // Its console output is the server's; its stdin is nothing.
      stdout: false,
      stderr: false,
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      void worker.terminate();
    };
    const timer = setTimeout(() => {
      settle(() => reject(new InvalidInputError("file", `the model took longer than ${duration(limits.timeoutMs)} to convert and check (MODEL_IMPORT_TIMEOUT_MS); nothing was stored`)));
    }, limits.timeoutMs);
    worker.once("message", (reply: WorkerReply) => {
      settle(() => {
        if (reply.ok) return resolve(reply.result);
        const { code, message, stack } = reply.error;
        if (isDomainCode(code)) return reject(new DomainError(code, message));
        reject(Object.assign(new Error(`import worker: ${message}`), { stack }));
      });
    });
    worker.once("error", (error: Error & { code?: string }) => {
      settle(() =>
        reject(
          error.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new InvalidInputError("file", `converting and checking the model needed more than ${limits.memoryMb} MB (MODEL_IMPORT_MEMORY_MB); nothing was stored`)
            : error,
        ),
      );
    });
    worker.once("exit", (exitCode) => settle(() => reject(new Error(`import worker exited (code ${exitCode}) without an answer`))));
  });
}

/**
 * The heap below which a file of `fileBytes` must not be parsed in a worker: V8 ends a worker that
 * fills its heap gracefully (ERR_WORKER_OUT_OF_MEMORY) only when no single allocation is larger
 * than the heap itself — one larger than the whole limit aborts the process, server included
 * (measured with Node 20). The largest single allocations of an import are the decoded text (up to
 * 2 bytes a character) and a split line's array (8 bytes per token, a token at least 2 bytes), so
 * 4 × the file plus 64 MB of code and working set.
 */
export function minimumHeapMb(fileBytes: number): number {
  return 64 + Math.ceil((4 * fileBytes) / 1048576);
}

const isDomainCode = (code: unknown): code is DomainErrorCode => code === "BAD_REQUEST" || code === "NOT_FOUND" || code === "CONFLICT" || code === "FORBIDDEN";

const duration = (ms: number) => (ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`);
