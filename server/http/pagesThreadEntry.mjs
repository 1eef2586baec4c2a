// The entry of the pages thread (server/http/pagesThread.ts): plain JavaScript so that Node starts
// it anywhere (npm start, vitest, a bench); it registers tsx and imports the TypeScript module
// named in workerData.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
