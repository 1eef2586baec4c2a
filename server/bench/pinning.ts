import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import pg from "pg";

// BENCH_PIN=1 for npm run bench:serving (Linux, taskset from util-linux): the servers under test get
// CPU 0 to themselves; the load generator (this process), PostgreSQL's backends for the benchmark's
// database and everything they start run on the other CPUs. On a machine where the server, the
// database and the load generator share two cores, throughput then measures what one core gives a
// server, and telemetry's figure is the server's own cost (serialising rows, its pg thread), not the
// database's CPU taken from the same cores — what a deployment with PostgreSQL elsewhere sees, as long
// as the other CPUs are not saturated (`busyShare` says).

export interface Pinning {
  /** CPU list (taskset syntax) of the servers under test. */
  server: string;
  /** CPU list of the load generator and PostgreSQL's backends. */
  others: string;
  /** CPU numbers of `others`, for busyShare. */
  otherCpus: number[];
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** The split for this machine: null with fewer than 2 CPUs or without taskset. */
export function machinePinning(): Pinning | null {
  const cpus = os.availableParallelism();
  if (cpus < 2 || spawnSync("taskset", ["--version"]).status !== 0) return null;
  const otherCpus = Array.from({ length: cpus - 1 }, (_, i) => i + 1);
  return { server: "0", others: otherCpus.join(","), otherCpus };
}

/** `command` (argv for node) run on `cpus` through taskset: [file, args] for spawn. taskset execs node, so the child's pid is node's. */
export const pinnedCommand = (cpus: string, command: string[]): [string, string[]] => ["taskset", ["-c", cpus, process.execPath, ...command]];

/**
 * Pins every thread of `pid` to `cpus` (taskset -a -p).
 * @throws Error with taskset's message when it fails (no such process, an invalid list).
 */
export function pinProcess(pid: number, cpus: string): void {
  const result = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid}: ${result.stderr.trim() || `exit ${result.status}`}`);
}

/** Pins the PostgreSQL backends connected to `databaseUrl`'s database to `cpus`; a backend gone meanwhile is skipped. Returns how many were pinned. */
export async function pinBackends(databaseUrl: string, cpus: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    let pinned = 0;
    for (const { pid } of rows) {
      try {
        pinProcess(pid, cpus);
        pinned++;
      } catch {
        // the connection closed between the query and taskset
      }
    }
    return pinned;
  } finally {
    await client.end();
  }
}

/** Busy CPU seconds so far of each CPU in `cpus` (/proc/stat's cpuN lines: all but idle and iowait), summed; null without /proc. */
export function cpusBusySeconds(cpus: readonly number[]): number | null {
  try {
    const lines = readFileSync("/proc/stat", "utf8").split("\n");
    let busy = 0;
    for (const cpu of cpus) {
      const fields = lines.find((l) => l.startsWith(`cpu${cpu} `))?.trim().split(/\s+/).slice(1).map(Number);
      if (!fields) return null;
      busy += fields.slice(0, 8).reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!;
    }
    return busy / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
