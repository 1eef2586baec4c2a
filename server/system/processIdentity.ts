import { readFileSync } from "node:fs";
import os from "node:os";

// Who owns a file that outlives its process (a telemetry spill file, the embedded PostgreSQL's
// owner file), and whether that owner still runs. A pid alone cannot say: pids are reused; they are
// per pid namespace, so small and repeated in containers (a restarted container's new server often
// gets the pid of the one that wrote the file); and they mean nothing on another machine or after a
// reboot. So an owner is named by its host, the kernel's boot id, its pid and its start time, and is
// alive only when all four match a process running here.

export interface ProcessIdentity {
  /** os.hostname() reduced to [A-Za-z0-9-], at most 63 characters ("host" when empty). */
  host: string;
  /** The first 12 hex digits of /proc/sys/kernel/random/boot_id (new at every boot); "" where there is none (not Linux). */
  boot: string;
  pid: number;
  /** When the process started, in clock ticks after boot (/proc/<pid>/stat field 22); null where /proc is unreadable. */
  start: number | null;
}

/** os.hostname() as a file-name-safe label: other characters become "-", at most 63 characters. */
export function hostLabel(hostname = os.hostname()): string {
  return hostname.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 63) || "host";
}

let cachedBoot: string | undefined;

/** This boot's id: 12 hex digits of /proc/sys/kernel/random/boot_id, "" where the kernel has none. */
export function bootId(): string {
  if (cachedBoot !== undefined) return cachedBoot;
  try {
    cachedBoot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").replace(/[^0-9a-f]/gi, "").slice(0, 12).toLowerCase();
  } catch {
    cachedBoot = "";
  }
  return cachedBoot;
}

/**
 * When process `pid` started, in clock ticks after boot (field 22 of /proc/<pid>/stat, proc(5)),
 * or null when it is not running or /proc is unavailable. The command name (field 2) may hold
 * spaces and parentheses, so the fields are counted after its last ")".
 */
export function processStartTicks(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]); // fields[0] is field 3 (state)
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

/** Whether `pid` names a running process in this pid namespace (signal 0 probes without signalling; EPERM: it runs as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** This process's identity. */
export function currentProcess(): ProcessIdentity {
  return { host: hostLabel(), boot: bootId(), pid: process.pid, start: processStartTicks(process.pid) };
}

export interface LivenessProbes {
  alive: (pid: number) => boolean;
  startOf: (pid: number) => number | null;
}

const realProbes: LivenessProbes = { alive: processAlive, startOf: processStartTicks };

/**
 * Whether the process `owner` names still runs, seen from `here` (this process by default):
 * - another host: false. Its files are in a folder this host now has (a container recreated with a
 *   new hostname on the same volume); a folder is never shared by hosts running at once (README).
 * - another boot of this host: false.
 * - same host and boot: its pid runs and, when the start time was recorded and can be read, started
 *   at that tick (a pid reused by another process, e.g. in a restarted container, is not the owner).
 * An owner recorded without a start time (files of earlier versions) is judged by its pid alone.
 */
export function ownerAlive(owner: ProcessIdentity, here: Pick<ProcessIdentity, "host" | "boot"> = currentProcess(), probes: LivenessProbes = realProbes): boolean {
  if (owner.host !== here.host || owner.boot !== here.boot) return false;
  if (!probes.alive(owner.pid)) return false;
  if (owner.start === null) return true;
  const start = probes.startOf(owner.pid);
  return start === null || start === owner.start; // unreadable: it runs, so assume it is the owner (never take a live process's file)
}

/** A process identity as JSON fields (owner files), or null when `value` is not one. A record of earlier versions ({pid} only) is one of this host and boot without a start time. */
export function identityOf(value: unknown, here: Pick<ProcessIdentity, "host" | "boot"> = currentProcess()): ProcessIdentity | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!Number.isInteger(v.pid) || (v.pid as number) <= 0) return null;
  if (v.host === undefined && v.boot === undefined && v.start === undefined) return { host: here.host, boot: here.boot, pid: v.pid as number, start: null };
  if (typeof v.host !== "string" || typeof v.boot !== "string" || !(v.start === null || Number.isInteger(v.start))) return null;
  return { host: v.host, boot: v.boot, pid: v.pid as number, start: v.start as number | null };
}
