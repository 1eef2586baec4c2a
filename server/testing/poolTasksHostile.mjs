// A task module for workerPool.hostile.test.ts: tasks that misbehave in the ways a task module can.
import { threadId } from "node:worker_threads";

const cached = new Float32Array([1, 2, 3]);

/** One task: { kind, value?, ms? }. @returns { kind, threadId, ... } per kind. */
export default async function hostileTask(task) {
  switch (task.kind) {
    case "function":
      return { threadId, fn: () => 1 };
    case "symbol":
      return { threadId, s: Symbol("x") };
    case "throwNull":
      throw null;
    case "throwString":
      throw "plain string";
    case "throwSync":
      // Not an async throw: the same through await.
      return (() => {
        throw new TypeError("sync boom");
      })();
    case "exit":
      process.exit(3);
      break;
    case "cached":
      return { threadId, scores: cached };
    case "sameBuffer": {
      const a = new Float32Array(4);
      return { threadId, a, b: new Uint8Array(a.buffer) };
    }
    case "sleep":
      await new Promise((resolve) => setTimeout(resolve, task.ms));
      return { threadId, value: task.value };
    default:
      return { threadId, value: task.value };
  }
}
