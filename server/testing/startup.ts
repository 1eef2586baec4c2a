import type { ChildProcess } from "node:child_process";
import os from "node:os";

// Waiting for a child process the integration tests start (a server, a job worker) to be ready.
// A start takes a few seconds on an idle machine and can take a minute or more at a load of 15
// (tsx compiles the server's modules, onnxruntime loads the models): the deadline is generous, the
// child's readiness is polled rather than assumed from a log line, a child that exits ends the wait
// at once, and a timeout says how long it waited, the machine's load and what the child printed.

/** How long a child may take to be ready: minutes, for a machine under heavy load. */
export const START_DEADLINE_MS = 180_000;

/** The last `lines` lines of `text`. */
const tail = (text: string, lines = 40) => text.trimEnd().split("\n").slice(-lines).join("\n");

/**
 * Resolves once `ready()` is true (polled every 250 ms; a probe that throws counts as not ready).
 * @throws when `child` exits first, or at `deadlineMs`: the message names `what`, the time waited,
 *   the load average and the tail of `output()`.
 */
export async function waitForStart(child: ChildProcess, what: string, ready: () => Promise<boolean>, output: () => string, deadlineMs = START_DEADLINE_MS): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}); its output:\n${tail(output())}`);
    }
    if (await ready().catch(() => false)) return;
    const waited = Date.now() - started;
    if (waited > deadlineMs) {
      const load = os.loadavg().map((l) => l.toFixed(1)).join(", ");
      throw new Error(`${what} was not ready after ${Math.round(waited / 1000)} s (load average ${load} on ${os.availableParallelism()} cores); its output:\n${tail(output())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** True when GET `url` answers 200 within `timeoutMs` and its body passes `check`. */
export async function answers(url: string, check: (body: string) => boolean = () => true, timeoutMs = 5_000): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  return response.status === 200 && check(body);
}
