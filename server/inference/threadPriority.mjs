// The priority a model worker thread gives itself when it starts (workerPool.ts `nice` and
// `schedIdle`), shared by both pools' worker entries. Linux applies both to the calling thread only,
// so the main thread (the event loop) keeps its own. Plain JavaScript: the entries load it as is.
import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import os from "node:os";

/**
 * Lowers this thread's priority: `nice` (0–19) added to its nice value (at most 19), then, with `schedIdle`, Linux's SCHED_IDLE
 * policy. Under SCHED_IDLE the scheduler preempts the thread as soon as a normal thread (the event
 * loop, PostgreSQL) wakes up on its core (kernel/sched/fair.c, check_preempt_wakeup_fair: "Idle
 * tasks are by definition preempted by non-idle tasks"); a nice value only lowers its weight, and a
 * woken event loop may wait out the model thread's slice. Node has no call for the policy, so
 * util-linux's `chrt` sets it on this thread's id (/proc/thread-self). Either step that is not
 * permitted or not available (another OS, no chrt) is skipped: the thread keeps the priority it had.
 * @returns whether SCHED_IDLE was set.
 */
export function lowerThreadPriority({ nice = 0, schedIdle = false } = {}) {
  if (nice) {
    try {
      // Relative to the priority the thread started with (the process's): under `nice -n 10` an
      // absolute 10 would put the model threads level with the event loop they are meant to yield to.
      os.setPriority(0, Math.min(19, os.getPriority(0) + nice));
    } catch {
      // not permitted here: the thread runs at the process's priority
    }
  }
  if (!schedIdle || process.platform !== "linux") return false;
  try {
    const tid = readlinkSync("/proc/thread-self").split("/").at(-1);
    execFileSync("chrt", ["--idle", "--pid", "0", tid], { stdio: "ignore", timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
