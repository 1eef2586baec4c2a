import type { ChildProcess } from "node:child_process";

/**
 * SIGTERM to each child server, then wait until every one has exited (at most `timeoutMs`, then
 * SIGKILL). A server drains and flushes its telemetry on SIGTERM: the benchmark's database must stay
 * up until it has, or the flush is reported as a database fault (and rows go to the spill file).
 */
export async function stopServers(children: readonly ChildProcess[], timeoutMs = 30_000): Promise<void> {
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = running.map((c) => new Promise<void>((resolve) => c.once("exit", () => resolve())));
  for (const child of running) child.kill("SIGTERM");
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeoutMs).unref());
  if ((await Promise.race([Promise.all(exited), timer])) === "timeout") for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
}
