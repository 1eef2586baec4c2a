import { readdirSync, readFileSync } from "node:fs";

/** /proc/<pid>/task/<tid>/stat fields (proc(5)), counted from the one after the command's ")": 16 nice, 38 policy. */
export const THREAD_STAT = { nice: 16, policy: 38 } as const;

/**
 * One stat field of each of this process's threads, by thread id (Linux /proc): e.g. nice values
 * (THREAD_STAT.nice) or scheduling policies (THREAD_STAT.policy: 0 normal, 5 SCHED_IDLE).
 */
export function threadStatField(field: number): Map<number, number> {
  const values = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    values.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[field]));
  }
  return values;
}
