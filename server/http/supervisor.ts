import { currentAncestors, launcherKind, readProcess, supervisorChain, watchChain, type ProcessInfo } from "../cli/launcher";

// A server that `npm start` runs (server/cli/start.ts spawns it with an IPC channel) lives only as
// long as that start: `kill -KILL` of the start left the server (and its workers) running, holding
// the port, with nobody to stop it (break test). The start is watched two ways: the IPC channel
// closes the moment the start's process ends, however it ends ('disconnect'); and, for --dev, where
// tsx watch stands between them (and would keep its channel open), the chain of processes up to the
// start is polled each second (server/cli/launcher.ts). A server started any other way (a container,
// a process manager, a test) has no IPC channel and is not watched.

/** How a member of the supervisor chain is named in the log: `tsx (pid 12)`, `npm start (pid 11)`. */
function describe(member: ProcessInfo | undefined): string {
  if (!member) return "the npm start that ran this server";
  return launcherKind(member.args) === "relay" ? `tsx (pid ${member.pid}), between this server and its npm start,` : `the npm start that ran this server (pid ${member.pid})`;
}

/**
 * In the primary (or the only process) of a server spawned with an IPC channel: once its start is
 * gone, logs one line and stops as on SIGTERM (the handlers of server/http/cluster.ts and
 * shutdown.ts: workers drained, logs flushed, exit), and at its exit sends SIGTERM to the relays left
 * between them (tsx watch, which would otherwise watch on, orphaned). A no-op without an IPC channel.
 * @param log the server's log (one line).
 * @returns a function that stops watching.
 */
export function stopWhenStartIsGone(log: (line: string) => void): () => void {
  if (!process.send) return () => {};
  const chain = supervisorChain(currentAncestors());
  let gone = false;
  const onGone = (member: ProcessInfo | undefined) => {
    if (gone) return;
    gone = true;
    stopWatching();
    log(`${describe(member)} is gone: stopping (as on SIGTERM)`);
    process.once("exit", () => {
      for (const relay of chain) {
        if (launcherKind(relay.args) !== "relay") continue;
        const now = readProcess(relay.pid);
        // Still that relay (not a reused pid): it would outlive its child.
        if (now && launcherKind(now.args) === "relay" && now.args.join(" ") === relay.args.join(" ")) {
          try {
            process.kill(relay.pid, "SIGTERM");
          } catch {
            // gone meanwhile
          }
        }
      }
    });
    process.kill(process.pid, "SIGTERM");
  };
  const onDisconnect = () => onGone(chain[0]);
  const stopPolling = watchChain(chain, onGone);
  const stopWatching = () => {
    stopPolling();
    process.off("disconnect", onDisconnect);
  };
  process.once("disconnect", onDisconnect);
  // The channel carries nothing: it must not keep this process's event loop alive.
  process.channel?.unref();
  return stopWatching;
}
