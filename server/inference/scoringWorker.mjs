// A scoring worker thread (server/inference/scoringPool.ts): runs heavy models off the main thread,
// so their onnxruntime runs never block the event loop that serves other requests. Plain JavaScript:
// it needs no TypeScript loader in whichever bundle starts it.
import { parentPort } from "node:worker_threads";
import * as ort from "onnxruntime-node";

/** Sessions by model version id; a version's bytes arrive with its first job on this worker. */
const sessions = new Map();

parentPort.on("message", async (job) => {
  try {
    let session = sessions.get(job.versionId);
    if (!session) {
      if (!job.bytes) throw new Error(`model version ${job.versionId} is not loaded on this worker`);
      // As openSession does, on one thread: the worker is the extra thread.
      session = ort.InferenceSession.create(job.bytes, { executionProviders: ["cpu"], graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 });
      sessions.set(job.versionId, session);
      session.catch(() => sessions.delete(job.versionId));
    }
    const ready = await session;
    const started = performance.now();
    const output = await ready.run({ [job.inputName]: new ort.Tensor("float32", job.data, [job.rows, job.cols]) });
    const modelMs = performance.now() - started;
    const tensor = output[job.outputName];
    const scores = tensor ? Float32Array.from(tensor.data) : null;
    parentPort.postMessage({ id: job.id, scores, modelMs }, scores ? [scores.buffer] : []);
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String(error?.message ?? error).split("\n")[0] });
  }
});
