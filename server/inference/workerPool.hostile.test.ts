import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { withPool as withTestPool } from "../testing/workerPools";
import { ModelWorkerPool } from "./workerPool";

// Attacks on the pool (issue #16) with real threads and a misbehaving task module.

const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "testing", "poolTasksHostile.mjs")).href;

type Task = { kind: string; value?: string; ms?: number };
type Reply = { threadId: number; value?: string; scores?: Float32Array; a?: Float32Array; b?: Uint8Array };

const withPool = <T>(threads: number, test: (pool: ModelWorkerPool<Task, Reply>) => Promise<T>) => withTestPool<Task, Reply, T>(ENTRY, threads, test);

describe("ModelWorkerPool under hostile task modules", () => {
  it("rejects non-cloneable replies and thrown non-Errors with an Error, and keeps serving on the same thread", async () => {
    await withPool(1, async (pool) => {
      const first = await pool.run({ kind: "echo", value: "a" });
      for (const kind of ["function", "symbol", "throwNull", "throwString", "throwSync"]) {
        const error = await pool.run({ kind }).then(() => null, (e: unknown) => e);
        expect(error, kind).toBeInstanceOf(Error);
        expect(String((error as Error).message), kind).not.toBe("");
      }
      const after = await pool.run({ kind: "echo", value: "b" });
      expect(after.value).toBe("b");
      expect(after.threadId).toBe(first.threadId);
    });
  });

  it("fails the task of a thread that calls process.exit and runs every queued task, with mixed deadlines", async () => {
    await withPool(2, async (pool) => {
      const exit = pool.run({ kind: "exit" });
      const queued = Array.from({ length: 20 }, (_, i) => pool.run({ kind: i % 3 === 0 ? "sleep" : "echo", ms: 5, value: String(i) }, i % 2 ? { deadlineMs: 5000 } : {}));
      await expect(exit).rejects.toThrow(/exited with code 3/);
      expect((await Promise.all(queued)).map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    });
  });

  it("answers a reply whose two arrays share one buffer", async () => {
    await withPool(1, async (pool) => {
      const reply = await pool.run({ kind: "sameBuffer" });
      expect(reply.a).toHaveLength(4);
      expect(reply.b).toHaveLength(16);
    });
  });

  it("lets every accepted task of a burst finish when close() comes in the middle", async () => {
    const pool = new ModelWorkerPool<Task, Reply>({ name: "the hostile pool", entry: ENTRY, threads: 2 });
    const burst = Array.from({ length: 30 }, (_, i) => pool.run({ kind: i % 5 === 0 ? "exit" : "sleep", ms: 2, value: String(i) }));
    const closing = pool.close();
    const settled = await Promise.allSettled(burst);
    await closing;
    settled.forEach((s, i) => expect(s.status, String(i)).toBe(i % 5 === 0 ? "rejected" : "fulfilled"));
  });

  it("refuses a task that cannot be posted (a function in it) without losing the thread or the task queued behind", async () => {
    await withPool(1, async (pool) => {
      const bad = { kind: "echo", value: "x", fn: () => 1 } as unknown as Task;
      // Sent at once (the thread is idle):
      await expect(pool.run(bad)).rejects.toThrow(/could not be cloned|DataCloneError/);
      expect((await pool.run({ kind: "echo", value: "a" })).value).toBe("a");
      // Queued behind a running task, then sent when that task answers:
      const running = pool.run({ kind: "sleep", ms: 30, value: "r" });
      const queuedBad = pool.run(bad);
      const after = pool.run({ kind: "echo", value: "b" }, { deadlineMs: 1000 });
      await expect(running).resolves.toMatchObject({ value: "r" });
      await expect(queuedBad).rejects.toThrow(/could not be cloned|DataCloneError/);
      await expect(after).resolves.toMatchObject({ value: "b" });
    });
  });

  it("answers a reply that arrived before its deadline even when a busy main thread sees the timer first", async () => {
    await withPool(1, async (pool) => {
      const run = pool.run({ kind: "sleep", ms: 20, value: "v" }, { deadlineMs: 60 });
      await new Promise((resolve) => setTimeout(resolve, 10));
      const until = performance.now() + 200;
      while (performance.now() < until); // the reply (at ~20 ms) and the deadline (at ~60 ms) both wait
      await expect(run).resolves.toMatchObject({ value: "v" });
    });
  });
});
