import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { withPool as withTestPool } from "../testing/workerPools";
import { ModelWorkerPool, QueueTimeoutError } from "./workerPool";

const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "testing", "poolTasks.mjs")).href;
interface Task { kind: "echo" | "sleep" | "throw" | "crash" | "linger"; value?: string; ms?: number }
interface Reply {
  value?: string;
  ran: Array<string | undefined>;
  threadId: number;
}
const withPool = <T>(threads: number, test: (pool: ModelWorkerPool<Task, Reply>) => Promise<T>, entry = ENTRY) => withTestPool<Task, Reply, T>(entry, threads, test);

// Found by the #16 break test of the start deadline (workerPool.ts, "start"): claim ids past an
// Int32's range, and a task handed to a crashed thread's replacement while it was still loading.

describe("ModelWorkerPool start deadline", () => {
  it("runs tasks with startWithinMs across the wrap of the claim ids (an Int32 slot: ~a month at 1,000 tasks/s)", async () => {
    await withPool(1, async (pool) => {
      (pool as unknown as { nextClaim: number }).nextClaim = 0x7fffffff - 2;
      for (let i = 0; i < 5; i++) expect((await pool.run({ kind: "echo", value: `task ${i}` }, { startWithinMs: 5000 })).value).toBe(`task ${i}`);
      // And a withdrawal after the wrap still withdraws (a claim the thread can read back).
      await pool.run({ kind: "linger", ms: 400, value: "linger" });
      await expect(pool.run({ kind: "echo", value: "unread" }, { startWithinMs: 50 })).rejects.toBeInstanceOf(QueueTimeoutError);
      expect((await pool.run({ kind: "echo", value: "next" })).ran.slice(-2)).toEqual(["linger", "next"]);
    });
  });

  it("withdraws a queued task at its start deadline even when a thread crash hands it to a replacement that is still loading", async () => {
    // The test task module, loading in 800 ms (a task module importing onnxruntime, tsx's hooks).
    const dir = mkdtempSync(path.join(os.tmpdir(), "slow-tasks-"));
    const slow = path.join(dir, "slowTasks.mjs");
    writeFileSync(slow, `await new Promise((r) => setTimeout(r, 800));\nexport { default } from ${JSON.stringify(ENTRY)};\n`);
    await withPool(
      1,
      async (pool) => {
        await pool.run({ kind: "echo", value: "warm" }); // the first thread has loaded
        const crash = pool.run({ kind: "crash" });
        void crash.catch(() => {});
        // Queued behind the crash (withdrawable there); the crash hands it to the replacement thread, still loading.
        const t0 = Date.now();
        const late = pool.run({ kind: "echo", value: "late" }, { startWithinMs: 100 });
        const settledAfter = await late.then(
          () => ({ ok: true, ms: Date.now() - t0 }),
          (error) => ({ ok: false, ms: Date.now() - t0, queueTimeout: error instanceof QueueTimeoutError }),
        );
        expect(settledAfter).toMatchObject({ ok: false, queueTimeout: true });
        expect(settledAfter.ms).toBeLessThan(400);
      },
      pathToFileURL(slow).href,
    );
  });
});
