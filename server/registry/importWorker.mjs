// Worker-thread entry of an upload's import job (see importInWorker.ts). Plain JavaScript so that
// Node can start it anywhere (npm start, vitest, a bench); it registers tsx to load the TypeScript
// job, runs it once on `workerData` and posts the result (the ONNX bytes transferred, not copied)
// or the error's code, field and message.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { runImportJob } = await import("./importJob.ts");
try {
  const result = await runImportJob(workerData);
  const bytes = result.bytes.byteOffset === 0 && result.bytes.byteLength === result.bytes.buffer.byteLength ? result.bytes : result.bytes.slice();
  parentPort.postMessage({ ok: true, result: { ...result, bytes } }, [bytes.buffer]);
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  parentPort.postMessage({ ok: false, error: { code: e.code, field: e.field, message: e.message, stack: e.stack } });
}
