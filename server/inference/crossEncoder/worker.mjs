// Piscina worker entry of the cross-encoder pool (pool.ts). Plain JavaScript so Node can start it
// anywhere (npm start, vitest, a bench); it registers tsx and hands the TypeScript task to piscina.
import os from "node:os";
import { workerData } from "piscina";
import { register } from "tsx/esm/api";

// This thread's priority (workerPool.ts `nice`): Linux applies it to the calling thread only.
if (workerData?.nice) {
  try {
    os.setPriority(0, workerData.nice);
  } catch {
    // not permitted here: the thread runs at the process's priority
  }
}

register();
const { runScoreTask } = await import("./workerTask.ts");
export default runScoreTask;
