import { afterAll, afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { databaseUrl, getDb } from "../db/client";
import { waitFor } from "../testing/tcpProxy";
import { defineQueue, JobPayloadError } from "./queue";
import { startJobRunner, type JobContext, type JobRunner } from "./runner";

// The queue against the run's real PostgreSQL (graphile_worker's schema is created by
// prepareDatabase): each test uses task names of its own, so runners here never take jobs of the
// console's tasks or of other tests.

const runners: JobRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop(2000)));
});
afterAll(async () => {
  await getDb().$executeRaw`DELETE FROM graphile_worker._private_jobs j USING graphile_worker._private_tasks t WHERE t.id = j.task_id AND t.identifier LIKE 'test.%'`;
});

async function startRunner<T extends Record<string, z.ZodType>>(tasks: T, handlers: { [K in keyof T]: (payload: z.output<T[K]>, job: JobContext) => Promise<void> }) {
  const runner = await startJobRunner({ connectionString: databaseUrl(), tasks, handlers, concurrency: 2, pollIntervalMs: 200, log: () => {} });
  runners.push(runner);
  return runner;
}

const jobsOf = async (task: string) =>
  getDb().$queryRaw<Array<{ payload: unknown; attempts: number; last_error: string | null }>>`
    SELECT j.payload, j.attempts, j.last_error FROM graphile_worker._private_jobs j
    JOIN graphile_worker._private_tasks t ON t.id = j.task_id WHERE t.identifier = ${task}`;

describe("job queue (graphile-worker on the run's PostgreSQL)", () => {
  it("runs each job exactly once, with two runners taking from one table", async () => {
    const tasks = { "test.once": z.object({ n: z.number().int() }) };
    const queue = defineQueue(tasks);
    for (let n = 0; n < 40; n++) await queue.enqueueInTransaction(getDb(), "test.once", { n });
    const runs: number[] = [];
    const handlers = { "test.once": async ({ n }: { n: number }) => void runs.push(n) };
    // Two runners, as two server processes would run: every job is locked by one worker at a time.
    await Promise.all([startRunner(tasks, handlers), startRunner(tasks, handlers)]);
    await waitFor(async () => runs.length >= 40 && (await jobsOf("test.once")).length === 0, "40 jobs to run");
    expect(runs.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, n) => n));
  });

  it("retries a failing job with backoff until it succeeds, telling the handler its attempt", async () => {
    const tasks = { "test.flaky": z.object({ id: z.string() }) };
    const queue = defineQueue(tasks);
    const attempts: Array<{ attempt: number; maxAttempts: number }> = [];
    await startRunner(tasks, {
      "test.flaky": async (_payload, job) => {
        attempts.push({ attempt: job.attempt, maxAttempts: job.maxAttempts });
        if (job.attempt === 1) throw new Error("the receiver answered 500");
      },
    });
    await queue.enqueueInTransaction(getDb(), "test.flaky", { id: "a" }, { maxAttempts: 3 });
    // The failed first attempt is recorded on the job with its error, and the job waits exp(1) s.
    await waitFor(async () => (await jobsOf("test.flaky"))[0]?.last_error === "the receiver answered 500", "the first failure");
    await waitFor(async () => attempts.length === 2 && (await jobsOf("test.flaky")).length === 0, "the retry to succeed");
    expect(attempts).toEqual([{ attempt: 1, maxAttempts: 3 }, { attempt: 2, maxAttempts: 3 }]);
  });

  it("never runs a job added in a transaction that rolled back; runs one added in a committed one", async () => {
    const tasks = { "test.tx": z.object({ label: z.string() }) };
    const queue = defineQueue(tasks);
    const runs: string[] = [];
    await startRunner(tasks, { "test.tx": async ({ label }) => void runs.push(label) });
    await expect(
      getDb().$transaction(async (tx) => {
        await queue.enqueueInTransaction(tx, "test.tx", { label: "rolled back" });
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    expect(await jobsOf("test.tx")).toEqual([]);
    await getDb().$transaction(async (tx) => {
      await queue.enqueueInTransaction(tx, "test.tx", { label: "committed" });
    });
    await waitFor(async () => runs.length === 1 && (await jobsOf("test.tx")).length === 0, "the committed job");
    expect(runs).toEqual(["committed"]);
  });

  it("keeps one waiting job per jobKey (the latest payload), and refuses an invalid payload before queueing", async () => {
    const tasks = { "test.keyed": z.object({ step: z.number().int().min(0) }) };
    const queue = defineQueue(tasks);
    await queue.enqueueInTransaction(getDb(), "test.keyed", { step: 1 }, { jobKey: "rollout:r1:tick" });
    await queue.enqueueInTransaction(getDb(), "test.keyed", { step: 2 }, { jobKey: "rollout:r1:tick" });
    expect((await jobsOf("test.keyed")).map((j) => j.payload)).toEqual([{ step: 2 }]);
    await expect(queue.enqueueInTransaction(getDb(), "test.keyed", { step: -1 })).rejects.toThrow(JobPayloadError);
    await expect(queue.enqueueInTransaction(getDb(), "test.keyed", { step: -1 })).rejects.toThrow("job test.keyed: step: Too small");
    const runs: number[] = [];
    await startRunner(tasks, { "test.keyed": async ({ step }) => void runs.push(step) });
    await waitFor(async () => runs.length === 1 && (await jobsOf("test.keyed")).length === 0, "the keyed job");
    expect(runs).toEqual([2]);
  });

  it("runs a job at runAt, not before", async () => {
    const tasks = { "test.later": z.object({}) };
    const queue = defineQueue(tasks);
    const runAt = new Date(Date.now() + 1500);
    let ranAt: number | null = null;
    await startRunner(tasks, { "test.later": async () => void (ranAt = Date.now()) });
    await queue.enqueueInTransaction(getDb(), "test.later", {}, { runAt });
    await waitFor(async () => ranAt !== null, "the scheduled job");
    expect(ranAt!).toBeGreaterThanOrEqual(runAt.getTime() - 50); // the database's clock is this machine's
  });

});
