// The task of a scoring worker thread (server/inference/scoringPool.ts, on the one worker-pool kind
// of server/inference/workerPool.ts, whose poolWorker.mjs imports this module): runs heavy models off the main thread, so their onnxruntime
// runs never block the event loop that serves other requests. Plain JavaScript: it needs no
// TypeScript loader in whichever bundle starts it.
import { parentPort } from "node:worker_threads";
import * as ort from "onnxruntime-node";

/** Sessions by model version id, opened from the shared bytes of a version's first task on this thread. */
const sessions = new Map();

/** workerPool.ts's RUN_STARTED: the pool counts a task's deadline from this message. */
const RUN_STARTED = "runStarted";

/**
 * Scores one task: { jobId (a task with a deadline), live, versionId, bytes (SharedArrayBuffer), inputName, outputName, data, rows, cols }.
 * @returns { ok: true, scores, modelMs, openSessions } or { ok: false, message, openSessions }.
 */
export default async function scoreTask(task) {
  // Versions the pool no longer holds leave this thread's heap.
  for (const [versionId, session] of sessions) {
    if (task.live.includes(versionId)) continue;
    sessions.delete(versionId);
    session.then((s) => s.release()).catch(() => {});
  }
  try {
    let session = sessions.get(task.versionId);
    if (!session) {
      // As openSession does, on one thread: the worker is the extra thread. A copy: onnxruntime reads an ordinary buffer.
      session = ort.InferenceSession.create(new Uint8Array(task.bytes).slice(), { executionProviders: ["cpu"], graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 });
      sessions.set(task.versionId, session);
      // A session that failed to open is forgotten: the next task opens it again from its bytes.
      const opening = session;
      opening.catch(() => sessions.get(task.versionId) === opening && sessions.delete(task.versionId));
    }
    const ready = await session;
    if (task.jobId !== undefined) parentPort?.postMessage({ [RUN_STARTED]: task.jobId });
    const started = performance.now();
    const output = await ready.run({ [task.inputName]: new ort.Tensor("float32", task.data, [task.rows, task.cols]) });
    const modelMs = performance.now() - started;
    const tensor = output[task.outputName];
    if (!tensor) return { ok: false, message: `the model returned no output named "${task.outputName}"`, openSessions: sessions.size };
    return { ok: true, scores: Float32Array.from(tensor.data), modelMs, openSessions: sessions.size };
  } catch (error) {
    return { ok: false, message: String(error?.message ?? error).split("\n")[0], openSessions: sessions.size };
  }
}
