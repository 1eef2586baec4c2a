import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { withPool as withTestPool } from "../testing/workerPools";
import { ModelWorkerPool, PoolClosedError, QueueTimeoutError } from "./workerPool";

// The pool's semantics (workerPool.ts's comment block) with real threads and a plain task module
// (server/testing/poolTasks.mjs): no model, no timing assumptions beyond "a sleep outlasts a message".

const ENTRY = pathToFileURL(path.join(process.cwd(), "server", "testing", "poolTasks.mjs")).href;

interface Task {
  kind: "echo" | "sleep" | "throw" | "crash" | "linger";
  value?: string;
  ms?: number;
}
interface Reply {
  value?: string;
  live: string[];
  threadId: number;
  ran: Array<string | undefined>;
  scores: Float32Array;
  startedAt: number;
  endedAt: number;
}

/** A pool of `threads` threads on `entry` (the test task module by default), closed after `test`. */
const withPool = <T>(threads: number, test: (pool: ModelWorkerPool<Task, Reply>) => Promise<T>, entry = ENTRY) => withTestPool<Task, Reply, T>(entry, threads, test);

describe("ModelWorkerPool", () => {
  it("answers each task with its task module's reply, typed arrays included, and sends the keys it holds", async () => {
    await withPool(1, async (pool) => {
      pool.hold("a");
      pool.hold("b");
      const first = await pool.run({ kind: "echo", value: "abc" });
      expect(first.value).toBe("abc");
      expect(first.scores).toBeInstanceOf(Float32Array);
      expect(first.scores).toHaveLength(3);
      expect(first.live).toEqual(["a", "b"]);
      pool.release("a");
      expect(pool.holds("a")).toBe(false);
      expect((await pool.run({ kind: "echo" })).live).toEqual(["b"]);
      await expect(pool.run({ kind: "throw", value: "x" })).rejects.toThrow("task failed: x");
      expect((await pool.run({ kind: "echo", value: "after" })).value).toBe("after");
    });
  });

  it("runs one task per thread at a time and the queue in the order it was given", async () => {
    await withPool(2, async (pool) => {
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.run({ kind: "sleep", ms: 30, value: String(i) })));
      expect(new Set(replies.map((r) => r.threadId)).size).toBe(2);
      for (const thread of new Set(replies.map((r) => r.threadId))) {
        const own = replies.filter((r) => r.threadId === thread);
        for (let i = 1; i < own.length; i++) expect(own[i]!.startedAt).toBeGreaterThanOrEqual(own[i - 1]!.endedAt);
      }
    });
    // FIFO: on one thread the queue starts in the order it was given.
    await withPool(1, async (pool) => {
      const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.run({ kind: i % 2 ? "sleep" : "echo", ms: 10, value: String(i) })));
      const starts = replies.map((r) => r.startedAt);
      expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    });
  });

  it("fails the task of a thread that dies, replaces the thread, and runs the queued tasks", async () => {
    await withPool(1, async (pool) => {
      const before = await pool.run({ kind: "echo" });
      const crash = pool.run({ kind: "crash" });
      const queued = ["q1", "q2", "q3"].map((value) => pool.run({ kind: "echo", value }));
      await expect(crash).rejects.toThrow("the thread crashed");
      const replies = await Promise.all(queued);
      expect(replies.map((r) => r.value)).toEqual(["q1", "q2", "q3"]);
      expect(replies[0]!.threadId).not.toBe(before.threadId);
    });
  });

  it("fails the tasks of a task module that does not load, without starting threads in a loop", async () => {
    const missing = pathToFileURL(path.join(process.cwd(), "server", "testing", "noSuchTasks.mjs")).href;
    await withPool(
      1,
      async (pool) => {
        const runs = [pool.run({ kind: "echo" }), pool.run({ kind: "echo" })];
        for (const run of runs) await expect(run).rejects.toThrow(/noSuchTasks\.mjs/);
        await expect(pool.run({ kind: "echo" })).rejects.toThrow(/noSuchTasks\.mjs/);
      },
      missing,
    );
  });

  it("counts a deadline from the run's start: ETIMEDOUT at once past it, queued time is not counted", async () => {
    await withPool(1, async (pool) => {
      const ahead = pool.run({ kind: "sleep", ms: 300 });
      // Queued for 300 ms behind `ahead`, then runs for ~0: within its 200 ms.
      const queued = pool.run({ kind: "echo", value: "in time" }, { deadlineMs: 200 });
      expect((await queued).value).toBe("in time");
      await ahead;
      const t0 = Date.now();
      await expect(pool.run({ kind: "sleep", ms: 1500 }, { deadlineMs: 20 })).rejects.toMatchObject({ code: "ETIMEDOUT", message: expect.stringMatching(/passed its 20 ms budget on a worker thread of the test pool/) });
      expect(Date.now() - t0).toBeLessThan(1500);
      // The cut run finishes on its thread; the next task runs after it.
      const next = await pool.run({ kind: "echo", value: "next" });
      expect(next.value).toBe("next");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    });
  });

  it("withdraws a task no thread started within startWithinMs: from the queue, never run", async () => {
    await withPool(1, async (pool) => {
      const ahead = pool.run({ kind: "sleep", ms: 400, value: "ahead" });
      const settled: string[] = [];
      const late = pool.run({ kind: "echo", value: "late" }, { startWithinMs: 50 }).finally(() => settled.push("late"));
      const inTime = pool.run({ kind: "echo", value: "in time" }, { startWithinMs: 5000 });
      await expect(late).rejects.toBeInstanceOf(QueueTimeoutError);
      await expect(late).rejects.toMatchObject({ code: "ETIMEDOUT", queued: true, message: expect.stringMatching(/waited 50 ms for a thread of the test pool .*withdrawn, not run/) });
      // Answered at its deadline, not when the thread came free.
      expect((await ahead).value).toBe("ahead");
      expect(settled).toEqual(["late"]);
      // Started in time: it runs, and its (cleared) start timer changes nothing.
      expect((await inTime).ran).toEqual(["ahead", "in time"]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await pool.run({ kind: "echo", value: "next" }, { startWithinMs: 50 })).ran).toEqual(["ahead", "in time", "next"]);
    });
  });

  it("withdraws a task posted to a thread that did not pick it up in time (a thread given no core), and the thread goes on", async () => {
    await withPool(1, async (pool) => {
      await pool.run({ kind: "linger", ms: 400, value: "linger" });
      // The thread is idle to the pool and gets the task at once, but its event loop is held.
      const t0 = Date.now();
      await expect(pool.run({ kind: "echo", value: "unread" }, { startWithinMs: 50 })).rejects.toMatchObject({ code: "ETIMEDOUT", queued: true });
      expect(Date.now() - t0).toBeLessThan(350);
      // Once free, the thread skips the withdrawn task and takes the next: "unread" never ran.
      const next = await pool.run({ kind: "echo", value: "next" });
      expect(next.ran).toEqual(["linger", "next"]);
      // A task it picks up in time runs under a deadline as before.
      expect((await pool.run({ kind: "echo", value: "timed" }, { startWithinMs: 1000, deadlineMs: 1000 })).ran).toEqual(["linger", "next", "timed"]);
    });
  });

  it("on close, refuses new tasks and lets running and queued ones finish before it stops the threads", async () => {
    const pool = new ModelWorkerPool<Task, Reply>({ name: "the test pool", entry: ENTRY, threads: 1 });
    const running = pool.run({ kind: "sleep", ms: 200, value: "running" });
    const queued = pool.run({ kind: "echo", value: "queued" });
    // Let the sleep start on its thread.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = pool.close();
    expect(pool.isClosed).toBe(true);
    await expect(pool.run({ kind: "echo" })).rejects.toBeInstanceOf(PoolClosedError);
    expect((await running).value).toBe("running");
    expect((await queued).value).toBe("queued");
    await closed;
    await expect(pool.run({ kind: "echo" })).rejects.toThrow(/the test pool is closed/);
  });

  it("keeps the process alive while a task is in flight, and not once its threads are idle", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pool-ref-"));
    const script = path.join(dir, "child.ts");
    // No close(): the process must end by itself once the reply came.
    writeFileSync(
      script,
      `import { ModelWorkerPool } from ${JSON.stringify(path.join(process.cwd(), "server", "inference", "workerPool.ts"))};
const pool = new ModelWorkerPool({ name: "the child's pool", entry: ${JSON.stringify(ENTRY)}, threads: 2 });
void pool.run({ kind: "sleep", ms: 300, value: "late" }).then((reply) => console.log("reply", reply.value));
`,
    );
    const child = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: process.cwd(), encoding: "utf8", timeout: 30_000 });
    expect(child.error).toBeUndefined();
    expect(child.status).toBe(0);
    expect(child.stdout).toContain("reply late");
  });

  describe("runOnEachThread: a task once on every thread (opening a model everywhere before requests need it)", () => {
    it("runs one copy on each thread, a busy thread's copy when its current task ends", async () => {
      await withPool(2, async (pool) => {
        const busy = pool.run({ kind: "sleep", ms: 150, value: "busy" });
        const started = Date.now();
        const copies = await Promise.allSettled(pool.runOnEachThread({ kind: "echo", value: "warm" }));
        expect(copies.map((c) => c.status)).toEqual(["fulfilled", "fulfilled"]);
        const replies = copies.map((c) => (c as PromiseFulfilledResult<Reply>).value);
        // Two threads, not the idle one twice (which a second plain run() would have been given).
        expect(new Set(replies.map((r) => r.threadId)).size).toBe(2);
        const onBusyThread = replies.find((r) => r.ran.includes("busy"))!;
        expect(onBusyThread.ran).toEqual(["busy", "warm"]);
        expect(onBusyThread.startedAt).toBeGreaterThanOrEqual(started + 100);
        await busy;
      });
    });

    it("a thread takes its pinned copy before the tasks queued ahead of it", async () => {
      await withPool(1, async (pool) => {
        const busy = pool.run({ kind: "sleep", ms: 100, value: "busy" });
        const queued = pool.run({ kind: "echo", value: "queued" });
        const [copy] = pool.runOnEachThread({ kind: "echo", value: "warm" });
        expect((await queued).ran).toEqual(["busy", "warm", "queued"]);
        expect((await copy!).value).toBe("warm");
        await busy;
      });
    });

    it("withdraws a copy its thread did not start within startWithinMs (never run), and the thread goes on", async () => {
      await withPool(1, async (pool) => {
        const busy = pool.run({ kind: "sleep", ms: 300, value: "busy" });
        const [copy] = await Promise.allSettled(pool.runOnEachThread({ kind: "echo", value: "warm" }, { startWithinMs: 50 }));
        expect(copy!.status).toBe("rejected");
        expect((copy as PromiseRejectedResult).reason).toBeInstanceOf(QueueTimeoutError);
        await busy;
        expect((await pool.run({ kind: "echo", value: "next" })).ran).toEqual(["busy", "next"]);
      });
    });

    it("a crashed thread's replacement runs warmTasks before its first queued task", async () => {
      const pool = new ModelWorkerPool<Task, Reply>({ name: "the test pool", entry: ENTRY, threads: 1, warmTasks: () => [{ kind: "echo", value: "warm-a" }, { kind: "echo", value: "warm-b" }] });
      try {
        const first = await pool.run({ kind: "echo", value: "first" });
        expect(first.ran).toEqual(["first"]); // the threads started with the pool run none
        const crash = pool.run({ kind: "crash" });
        const after = pool.run({ kind: "echo", value: "after" });
        await expect(crash).rejects.toThrow("the thread crashed");
        const reply = await after;
        expect(reply.threadId).not.toBe(first.threadId);
        expect(reply.ran).toEqual(["warm-a", "warm-b", "after"]);
      } finally {
        await pool.close();
      }
    });

    it("a warm task that kills its thread does not respawn threads in a loop: the next replacement runs no warm tasks and serves the queue (break test)", async () => {
      let warmCalls = 0;
      let crashing = false;
      const pool = new ModelWorkerPool<Task, Reply>({ name: "the test pool", entry: ENTRY, threads: 1, warmTasks: () => (warmCalls++, crashing ? [{ kind: "crash" }] : []) });
      try {
        await pool.run({ kind: "echo", value: "first" });
        crashing = true; // a model whose warm-up run kills its thread
        await expect(pool.run({ kind: "crash" })).rejects.toThrow("the thread crashed");
        // Its replacement dies in the warm task; the one after runs none and serves the request.
        expect((await pool.run({ kind: "echo", value: "request" }, { startWithinMs: 5_000 })).value).toBe("request");
        expect(warmCalls).toBe(1);
      } finally {
        await pool.close();
      }
    });

    it("refuses with PoolClosedError once the pool is closed", async () => {
      await withPool(1, async (pool) => {
        await pool.close();
        const copies = pool.runOnEachThread({ kind: "echo" });
        expect(copies).toHaveLength(1);
        await expect(copies[0]).rejects.toBeInstanceOf(PoolClosedError);
      });
    });
  });
});
