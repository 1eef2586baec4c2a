// A task module for workerPool.test.ts: plain tasks that echo, sleep, throw or kill their thread,
// so the pool's semantics are tested without a model.
import { parentPort, threadId } from "node:worker_threads";

/** workerPool.ts's RUN_STARTED. */
const RUN_STARTED = "runStarted";

/**
 * One task: { kind: "echo" | "sleep" | "throw" | "crash", value?, ms?, jobId?, live }.
 * @returns { value, live, threadId, scores (a Float32Array of `value`'s length), startedAt, endedAt (epoch ms) }.
 */
export default async function poolTask(task) {
  const startedAt = performance.timeOrigin + performance.now();
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
  return { value: task.value, live: task.live, threadId, scores: new Float32Array(String(task.value ?? "").length), startedAt, endedAt: performance.timeOrigin + performance.now() };
}
