import cluster, { type Worker } from "node:cluster";
import { relayQuestions } from "../cluster/ipc";

// A cluster primary for server/cluster/ipc.int.test.ts: it forks one worker that disconnects from
// the IPC channel at once (as a dying or stopping worker does), then relays a question to that
// worker as if it were still connected (the race between relayQuestions' isConnected() filter and
// its send). Prints "reply <json>" when the asker gets its reply and exits 0; an unhandled send
// error would end this process first, with a non-zero code.

if (cluster.isPrimary) {
  const worker = cluster.fork();
  worker.once("disconnect", () => {
    // The relay sees the worker as connected: its filter ran just before the channel closed.
    const stale = Object.create(worker, { isConnected: { value: () => true } }) as Worker;
    const relay = relayQuestions(() => [stale], () => ({ workers: 1, restarts: { exit: 0, hang: 0 } }));
    const asker = {
      isConnected: () => true,
      send: (message: unknown, callback?: (error: Error | null) => void) => {
        console.log(`reply ${JSON.stringify(message)}`);
        callback?.(null);
        // Give a late 'error' event the time to surface before exiting cleanly.
        setTimeout(() => {
          worker.process.kill();
          process.exit(0);
        }, 300);
        return true;
      },
    } as unknown as Worker;
    relay(asker, { type: "rerank:ask", id: 7, topic: "anything", payload: null, timeoutMs: 10_000 });
  });
} else {
  process.disconnect();
  setTimeout(() => undefined, 30_000);
}
