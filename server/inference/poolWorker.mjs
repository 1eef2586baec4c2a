// The one entry of every model worker thread (workerPool.ts): sets the thread's priority, imports
// the task module named in workerData, and answers each task the main thread posts with one
// message. Plain JavaScript: Node starts it as is, in any bundle. A task module's default export
// is the task function (task → reply or a promise of it).
import { parentPort, workerData } from "node:worker_threads";
import { lowerThreadPriority } from "./threadPriority.mjs";

// Before the task module loads, so threads it starts (onnxruntime's, tsx's hooks thread) inherit the priority.
lowerThreadPriority(workerData);
const { default: runTask } = await import(workerData.entry);

/**
 * A reply's top-level typed arrays that own their whole (non-shared) buffer are moved, not copied:
 * the task made them for the reply (workerPool.ts: a task must not keep them).
 */
function transferList(reply) {
  if (reply === null || typeof reply !== "object") return undefined;
  let list;
  for (const key in reply) {
    const value = reply[key];
    if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && value.byteLength > 0) (list ??= new Set()).add(value.buffer);
  }
  // A buffer listed twice (two views of it) makes postMessage throw: each goes once.
  return list && [...list];
}

/** Error classes structured clone keeps (name, message, stack). */
const CLONEABLE_ERRORS = new Set([Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]);

/**
 * What the caller gets for a failed task: an Error of a kind that survives postMessage as one. Any
 * other throw (a DOMException such as postMessage's own DataCloneError for a reply holding a
 * function, which clones as `{}`; null; a string; an Error subclass) becomes an Error with its message.
 */
function cloneableError(error) {
  if (error instanceof Error && CLONEABLE_ERRORS.has(error.constructor)) return error;
  const wrapped = new Error(String(error?.message ?? error));
  if (typeof error?.name === "string" && error.name !== "Error") wrapped.message = `${error.name}: ${wrapped.message}`;
  if (typeof error?.stack === "string") wrapped.stack = error.stack;
  return wrapped;
}

// Once per thread: the pool replaces a thread that dies after this at once (a crash), and one that dies before it only when the next task comes (a broken module).
parentPort.postMessage({ loaded: true });

parentPort.on("message", async (task) => {
  // A task with a start deadline runs only if the main thread has not withdrawn it (workerPool.ts, start).
  if (task.claim !== undefined && Atomics.compareExchange(workerData.claim, 0, task.claim, -task.claim) !== task.claim) {
    parentPort.postMessage({ error: new Error("withdrawn before it started: its start deadline passed") });
    return;
  }
  try {
    const value = await runTask(task);
    parentPort.postMessage({ value }, transferList(value));
  } catch (error) {
    try {
      parentPort.postMessage({ error: cloneableError(error) });
    } catch {
      parentPort.postMessage({ error: new Error(String(error?.message ?? error)) });
    }
  }
});
