/** Marks a stream that has our listener (a symbol shared by every bundle's copy of this module). */
const IGNORING = Symbol.for("rerank.ignoreClosedOutput");

/**
 * Makes writes to a closed standard output or error harmless in this process: a terminal that closed
 * (SIGHUP: EIO), a pipe whose reader is gone (`npm start | head`: EPIPE), a log collector that went
 * away. Node reports such a failed write as an 'error' event on process.stdout/stderr, and one no
 * listener of ours takes ends the process: `npm start | head` crash-looped the server (21 restarts in
 * 70 s, break test). Each process that writes logs calls this at its start (npm start and the CLIs,
 * the server's primary and workers, the pages thread); the lines are lost, the process goes on.
 * Idempotent. Other listeners do not count: a pipe into stdout (a worker thread's output) adds one
 * that re-throws the error when it is the only one.
 */
export function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr] as Array<NodeJS.WriteStream & { [IGNORING]?: true }>) {
    if (stream[IGNORING]) continue;
    stream[IGNORING] = true;
    stream.on("error", () => {});
  }
}
