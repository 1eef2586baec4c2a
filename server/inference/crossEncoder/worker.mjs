// Piscina worker entry of the cross-encoder pool (pool.ts). Plain JavaScript so Node can start it
// anywhere (npm start, vitest, a bench); it registers tsx and hands the TypeScript task to piscina.
import { workerData } from "piscina";
import { register } from "tsx/esm/api";
import { lowerThreadPriority } from "../threadPriority.mjs";

// This thread's priority (workerPool.ts `nice`, `schedIdle`).
lowerThreadPriority(workerData);

register();
const { runScoreTask } = await import("./workerTask.ts");
export default runScoreTask;
