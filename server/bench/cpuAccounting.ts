import { readFileSync, readdirSync } from "node:fs";
import pg from "pg";

// CPU time per request, read from /proc (Linux): the server's process tree, and the PostgreSQL
// backends connected to the benchmark's database (the writes a server's telemetry causes). Shared
// PostgreSQL processes (WAL writer, checkpointer, autovacuum) and other databases are not counted.

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds from a /proc stat file (a process's or a thread's); 0 when it is gone or /proc is not there. */
function statCpuSeconds(file: string): number {
  try {
    const fields = readFileSync(file, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of one process, every thread (its event loop, V8's GC helpers, libuv's pool, Next.js's thread); 0 when it is gone. */
export const processCpuSeconds = (pid: number): number => statCpuSeconds(`/proc/${pid}/stat`);

/**
 * User + system CPU seconds of `pid`'s main thread alone (/proc/<pid>/task/<pid>/stat): a Node.js
 * server's event loop, without its GC helpers, libuv pool or scoring threads; 0 when it is gone.
 */
export const mainThreadCpuSeconds = (pid: number): number => statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);

/** `pid` and every descendant (a cluster primary's workers, a Next.js server's children). */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [pid];
  }
  for (const entry of entries) {
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const visit = (p: number) => {
    tree.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return tree;
}

export interface CpuReading {
  /** CPU seconds of the server's process tree. */
  server: number;
  /** CPU seconds of each PostgreSQL backend of the database, by pid. */
  postgres: Map<number, number>;
}

/** CPU µs per request of the server and of PostgreSQL's backends. */
export interface CpuPerRequest {
  server: number;
  postgres: number;
}

/** Reads CPU seconds so far (readCpu) on one connection held for the run; `close` ends it. */
export interface CpuReader {
  /**
   * A reading of CPU seconds so far: `serverPid`'s process tree, and the backends connected to the
   * database (pids from pg_stat_activity, the reader's own backend left out). Take one before and one
   * after a load, then perRequestMicros.
   */
  read: (serverPid: number) => Promise<CpuReading>;
  close: () => Promise<void>;
}

/**
 * A CpuReader for `databaseUrl`'s database. One connection for every reading: a connection a reading
 * (before 2026-12-03) forked a backend each time and took ~0.3 s, 48 times in a quick bench:serving run.
 */
export async function openCpuReader(databaseUrl: string): Promise<CpuReader> {
  const client = new pg.Client({ connectionString: databaseUrl });
  // A connection lost mid-run fails the next reading (an 'error' event with no listener would end the process).
  let lost: Error | null = null;
  client.on("error", (error) => (lost = error));
  await client.connect();
  return {
    read: async (serverPid) => {
      if (lost) throw lost;
      const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
      return {
        server: processTree(serverPid).reduce((sum, p) => sum + processCpuSeconds(p), 0),
        postgres: new Map(rows.map((r) => [r.pid, processCpuSeconds(r.pid)])),
      };
    },
    close: () => client.end(),
  };
}

/**
 * CPU µs per request between two readings over `requests` requests. PostgreSQL's share is summed per
 * backend: one connected since the first reading counts from zero, one gone by the second is missed
 * (a pool closes idle connections and opens new ones, so the sums of the two readings are not
 * comparable: a closed connection made the difference negative).
 */
export function perRequestMicros(before: CpuReading, after: CpuReading, requests: number): CpuPerRequest {
  let postgres = 0;
  for (const [pid, seconds] of after.postgres) postgres += Math.max(0, seconds - (before.postgres.get(pid) ?? 0));
  return { server: (1e6 * (after.server - before.server)) / Math.max(1, requests), postgres: (1e6 * postgres) / Math.max(1, requests) };
}

/**
 * Busy CPU seconds so far (/proc/stat: all but idle and iowait) of the lines named, summed: "cpu" is
 * the whole machine, "cpu0", "cpu1", … one CPU each; null where /proc or a line is not there.
 */
function busySeconds(lineNames: readonly string[]): number | null {
  try {
    const lines = readFileSync("/proc/stat", "utf8").split("\n");
    let busy = 0;
    for (const name of lineNames) {
      const fields = lines.find((l) => l.startsWith(`${name} `))?.trim().split(/\s+/).slice(1).map(Number);
      if (!fields) return null;
      busy += fields.slice(0, 8).reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!;
    }
    return busy / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * Busy CPU seconds of the whole machine so far, every core summed; null where /proc is not there.
 * With process.cpuUsage() over the same span it gives the CPU everything else took meanwhile
 * (PostgreSQL, another engineer's benchmark).
 */
export const machineBusySeconds = (): number | null => busySeconds(["cpu"]);

/** Busy CPU seconds so far of each CPU in `cpus` (numbers as in /proc/stat's cpuN lines), summed; null without /proc. */
export const cpusBusySeconds = (cpus: readonly number[]): number | null => busySeconds(cpus.map((cpu) => `cpu${cpu}`));
