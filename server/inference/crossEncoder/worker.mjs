// Task module of the cross-encoder pool (pool.ts), imported by the pool's worker entry
// (../poolWorker.mjs, which has already set the thread's priority). Plain JavaScript so Node can
// load it anywhere (npm start, vitest, a bench); it registers tsx and hands over the TypeScript task.
import { register } from "tsx/esm/api";

register();
const { runScoreTask } = await import("./workerTask.ts");
export default runScoreTask;
