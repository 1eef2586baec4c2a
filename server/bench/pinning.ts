import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import pg from "pg";

// BENCH_PIN=1 for npm run bench:serving (Linux, taskset from util-linux): the servers under test get
// CPU 0 to themselves; the load generator (this process) and PostgreSQL (its postmaster and every
// process it forks, so later backends too) run on the other CPUs. On a machine where the server, the
// database and the load generator share two cores, throughput then measures what one core gives a
// server, and telemetry's figure is the server's own cost (serialising rows, its pg thread), not the
// database's CPU taken from the same cores — what a deployment with PostgreSQL elsewhere sees, as long
// as the other CPUs are not saturated (bench:serving prints how busy they were).

export interface Pinning {
  /** CPU list (taskset syntax) of the servers under test. */
  server: string;
  /** CPU list of the load generator and PostgreSQL's backends. */
  others: string;
  /** CPU numbers of `others`, whose busy time bench:serving reads (cpuAccounting.cpusBusySeconds). */
  otherCpus: number[];
}

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

/** The parent pid of `pid` (/proc/<pid>/stat's 4th field), or null when it is gone. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** `pid`'s CPU list as taskset reports it ("0-1", "0,2"). @throws Error with taskset's message. */
function affinityOf(pid: number): string {
  const result = spawnSync("taskset", ["-c", "-p", String(pid)], { encoding: "utf8" });
  const list = /:\s*(\S+)\s*$/.exec(result.stdout.trim())?.[1];
  if (result.status !== 0 || !list) throw new Error(`taskset -c -p ${pid}: ${result.stderr.trim() || result.stdout.trim() || `exit ${result.status}`}`);
  return list;
}

/**
 * Pins PostgreSQL to `cpus`: its postmaster (the parent of this connection's backend) and every
 * process it has started, so backends it forks later inherit the pin (a pool that closes an idle
 * connection and opens another stays pinned). Returns a function that puts the postmaster and its
 * children back on the CPUs the postmaster had; call it in a finally (the benchmark also calls it on
 * SIGINT/SIGTERM). Every database of that PostgreSQL is pinned meanwhile: a benchmark's setting.
 * @throws Error when taskset fails (not root, no such CPU).
 */
export async function pinPostgres(databaseUrl: string, cpus: string): Promise<() => void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let backend: number;
  let postmaster: number | null;
  try {
    backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    postmaster = parentOf(backend); // while the backend lives
  } finally {
    await client.end();
  }
  if (postmaster === null || postmaster <= 1) throw new Error(`PostgreSQL's postmaster not found (backend ${backend}'s parent: ${postmaster})`);
  const original = affinityOf(postmaster);
  const family = () => [postmaster, ...readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((p) => parentOf(p) === postmaster)];
  const pinAll = (list: string) => {
    for (const pid of family()) {
      try {
        pinProcess(pid, list);
      } catch {
        // a backend that ended meanwhile
      }
    }
  };
  pinAll(cpus);
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    pinAll(original);
  };
}
