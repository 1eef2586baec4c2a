// A task module for workerPool.test.ts: plain tasks that echo, sleep, throw or kill their thread,
// or keep it from taking its next task for a while (as a thread the scheduler gives no core), so
// the pool's semantics are tested without a model.
import { parentPort, threadId } from "node:worker_threads";

/** workerPool.ts's RUN_STARTED. */
const RUN_STARTED = "runStarted";

/** The values of the tasks this thread ran, in order. */
const ran = [];

/**
 * One task: { kind: "echo" | "sleep" | "throw" | "crash" | "linger", value?, ms?, jobId?, live }.
 * "linger" answers at once, then holds the thread's event loop for `ms` (a busy wait, from a microtask
 * after the reply is posted), so the next task posted to it waits unread meanwhile.
 * @returns { value, live, threadId, ran (values of this thread's tasks so far, this one included), scores (a Float32Array of `value`'s length), startedAt, endedAt (epoch ms) }.
 */
export default async function poolTask(task) {
  const startedAt = performance.timeOrigin + performance.now();
  ran.push(task.value);
  if (task.kind === "linger") {
    // Held from a microtask queued behind the one that posts this reply (poolWorker.mjs posts it when
    // this function's promise settles, a hop or two later): a message port drains every message that
    // has arrived before the event loop moves on, so a wait in an immediate let the next task — which
    // the main thread posts within ~0.1 ms of reading this reply — be read first (2 runs of 12).
    let hop = Promise.resolve();
    for (let i = 0; i < 10; i++) hop = hop.then(() => {});
    void hop.then(() => {
      const until = performance.now() + task.ms;
      while (performance.now() < until);
    });
  }
  if (task.jobId !== undefined) parentPort.postMessage({ [RUN_STARTED]: task.jobId });
  if (task.kind === "sleep") await new Promise((resolve) => setTimeout(resolve, task.ms));
  if (task.kind === "throw") throw new Error(`task failed: ${task.value}`);
  if (task.kind === "crash") {
    // An uncaught exception outside the task's promise: the thread dies with it.
    setImmediate(() => {
      throw new Error("the thread crashed");
    });
    await new Promise(() => {});
  }
  return { value: task.value, live: task.live, threadId, ran: [...ran], scores: new Float32Array(String(task.value ?? "").length), startedAt, endedAt: performance.timeOrigin + performance.now() };
}
