/**
 * After SIGHUP the terminal that started the process is gone: writing the shutdown's log lines there
 * must not crash the drain (EIO, EPIPE on stdout or stderr). Idempotent.
 */
export function ignoreClosedTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) if (stream.listenerCount("error") === 0) stream.on("error", () => {});
}
