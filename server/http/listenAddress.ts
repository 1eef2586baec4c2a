import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { currentAncestors, readProcess } from "../cli/launcher";
import { urlFor } from "../cli/listenUrl";

// Whether the server can listen where it is told to (HOST, PORT), asked before anything is started:
// `npm start` asks before it starts a database or builds, the server's primary before it forks its
// workers. A bad HOST (a name that does not resolve, an address of another machine) made every
// worker fail at listen after its minute of start-up, and the primary restart them with backoff for
// the start's whole 240 s (break test); now it is one line naming the setting, its value and the
// system's error code, and exit 1. A port that is taken is looked at first (explainListenFailure):
// when a Rerank Console answers there (a leftover of an earlier start, or a start in another
// terminal), the line says so, with the process to stop (break test: "port in use" with nothing to
// tell it was our own console, left running by a start killed with SIGKILL).

/** Which settings the host and port came from, as the message names them: `HOST`/`PORT`, or the start's `--host`/`--port`. */
export interface ListenSettings {
  host: "HOST" | "--host";
  port: "PORT" | "--port";
}

const ENV_SETTINGS: ListenSettings = { host: "HOST", port: "PORT" };

/**
 * Listens on host:port exclusively (not through a cluster's shared handle) and closes again at once.
 * Port 0 checks the host alone (any free port).
 * @returns null when it could, else the error: its `code` is the system's (ENOTFOUND, EAI_AGAIN,
 *   EADDRNOTAVAIL, EADDRINUSE, EACCES, …).
 */
export function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

/** Who holds a port that could not be listened on, as far as this process can tell (findPortHolder). */
export interface PortHolder {
  /** The process listening on it (null: none this user may see, or no /proc). */
  pid: number | null;
  /** That process's command line, shortened for the message. */
  command: string | null;
  /** A Rerank Console answers there (its /api/health, or the holder's command line): its version when it said one. */
  console: { version: string | null } | null;
  /** The npm start (server/cli/start.ts) that runs the holder, if any: the process to stop (it stops its server and database). */
  startPid: number | null;
}

/** A link-local IPv6 address (fe80::/10), which needs a zone id (fe80::1%eth0) to be listened on. Pure. */
export const isLinkLocalIpv6 = (host: string) => /^fe[89ab][0-9a-f]?:/i.test(host) && !host.includes("%");

/**
 * The one line (without a log prefix) that says why the server cannot listen on host:port, naming
 * the setting to change, its value and the system's error code. Pure.
 * @param error a listen error (`code` as node:net reports it; `message` used for codes not named here).
 * @param port the requested port, or 0 when none was (only the host was checked).
 * @param holder for EADDRINUSE, who holds the port (findPortHolder), named with what to stop.
 */
export function listenFailure(error: { code?: string; message: string }, host: string, port: number, settings: ListenSettings = ENV_SETTINGS, holder: PortHolder | null = null): string {
  const hostIs = settings.host === "HOST" ? `HOST=${host}` : `--host ${host}`;
  const portIs = settings.port === "PORT" ? `PORT=${port}` : `--port ${port}`;
  const fixHost = "set HOST (or --host) to an address of this machine, such as 127.0.0.1, 0.0.0.0 (every IPv4 interface) or :: (every interface)";
  const fixPort = "set PORT (or --port) to a free port";
  switch (error.code) {
    case "ENOTFOUND":
    case "EAI_NONAME":
      return `cannot listen on ${hostIs}: no such host name (${error.code}): ${fixHost}`;
    case "EAI_AGAIN":
      return `cannot listen on ${hostIs}: the name did not resolve (EAI_AGAIN: no answer from DNS): ${fixHost}`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${hostIs}: it is not an address of this machine (EADDRNOTAVAIL): ${fixHost}`;
    case "EAFNOSUPPORT":
      return `cannot listen on ${hostIs}: this machine has no network of that address family (EAFNOSUPPORT; IPv6 disabled?): ${fixHost}`;
    case "EADDRINUSE": {
      if (holder?.console) {
        const version = holder.console.version ? ` ${holder.console.version}` : "";
        const stopPid = holder.startPid ?? holder.pid;
        const who = [holder.pid === null ? null : `pid ${holder.pid}`, holder.startPid === null ? null : `run by npm start pid ${holder.startPid}`].filter(Boolean).join(", ");
        const stop = stopPid === null ? "stop it (Ctrl-C in its terminal)" : `stop it (Ctrl-C in its terminal, or kill ${stopPid})`;
        return `cannot listen on ${hostIs} ${portIs}: a Rerank Console${version} already runs there (EADDRINUSE${who ? `; ${who}` : ""}): ${stop}, or ${fixPort}`;
      }
      const by = holder?.pid ? `; pid ${holder.pid}${holder.command ? `: ${holder.command}` : ""}` : "";
      return `cannot listen on ${hostIs} ${portIs}: the port is in use by another process (EADDRINUSE${by}): stop it, or ${fixPort}`;
    }
    case "EINVAL":
      if (isLinkLocalIpv6(host)) {
        return `cannot listen on ${hostIs}: a link-local IPv6 address (fe80::/10) needs a zone id naming its interface, such as ${host}%eth0 (EINVAL), and the console's addresses take none: set HOST (or --host) to :: (every interface, this one included), 127.0.0.1, or another address of this machine`;
      }
      return `cannot listen on ${hostIs}${port ? ` ${portIs}` : ""}: not an address this machine can listen on (EINVAL): ${fixHost}`;
    case "EACCES":
      return `cannot listen on ${hostIs} ${portIs}: permission denied (EACCES; ports below 1024 need root or CAP_NET_BIND_SERVICE): ${fixPort} of 1024 or above`;
    default:
      return `cannot listen on ${hostIs}${port ? ` ${portIs}` : ""}: ${error.message}${error.code && !error.message.includes(error.code) ? ` (${error.code})` : ""}`;
  }
}

/**
 * The sockets listening on `port` in the text of /proc/net/tcp or /proc/net/tcp6 (any local
 * address): their inode numbers. Pure.
 */
export function listeningInodes(procNetTcp: string, port: number): number[] {
  const inodes: number[] = [];
  for (const line of procNetTcp.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== "0A") continue; // 0A: TCP_LISTEN
    const local = fields[1]!;
    if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== port) continue;
    const inode = Number(fields[9]);
    if (Number.isInteger(inode) && inode > 0) inodes.push(inode);
  }
  return inodes;
}

/** The process holding one of the socket inodes open (/proc/<pid>/fd), among those this user may read; null when none. */
function processHolding(inodes: number[]): number | null {
  if (inodes.length === 0) return null;
  const wanted = new Set(inodes.map((inode) => `socket:[${inode}]`));
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's, or gone
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

/** The version a Rerank Console's /api/health reports at `url`, "" when it answered as one without a version, null when nothing there answers as one (within `timeoutMs`). */
async function consoleVersionAt(url: string, timeoutMs: number): Promise<string | null> {
  try {
    const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json()) as Record<string, unknown> | null;
    // Its shape (server/system/health.ts): 200 when the database answers, 503 with the same body when not.
    if (body && typeof body === "object" && (body.status === "ok" || body.status === "degraded") && typeof body.database === "object" && "migrationLevel" in body) {
      return typeof body.version === "string" ? body.version : "";
    }
  } catch {
    // not HTTP, not JSON, no answer in time
  }
  return null;
}

const isStartCommand = (args: string[]) => args.some((a) => /(^|\/)server\/cli\/start\.ts$/.test(a));
const isServerCommand = (args: string[]) => args.some((a) => /(^|\/)server\/http\/main\.ts$/.test(a));

/**
 * Who holds `port` (a listen on host:port failed with EADDRINUSE): the listening process from
 * /proc/net/tcp{,6} and /proc/<pid>/fd (Linux; processes of other users only as root), whether a
 * Rerank Console answers at host:port (its /api/health, at most `timeoutMs`) or the holder's command
 * line is the console's server, and the npm start among the holder's ancestors. Never throws.
 */
export async function findPortHolder(host: string, port: number, timeoutMs = 1500): Promise<PortHolder> {
  let inodes: number[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      inodes = inodes.concat(listeningInodes(readFileSync(file, "utf8"), port));
    } catch {
      // no /proc, or no IPv6
    }
  }
  const pid = processHolding(inodes);
  const info = pid === null ? null : readProcess(pid);
  let startPid: number | null = null;
  if (info) {
    for (let next = info.ppid, depth = 0; next > 1 && depth < 8; depth++) {
      const ancestor = readProcess(next);
      if (!ancestor) break;
      if (isStartCommand(ancestor.args)) {
        startPid = ancestor.pid;
        break;
      }
      next = ancestor.ppid;
    }
  }
  const version = await consoleVersionAt(urlFor(host === "" ? "127.0.0.1" : host, port), timeoutMs);
  const known = version !== null || (info !== null && isServerCommand(info.args)) || startPid !== null;
  const command = info ? info.args.join(" ").slice(0, 120) : null;
  return { pid, command, console: known ? { version: version || null } : null, startPid };
}

/**
 * listenFailure's line, with the holder of a taken port looked up first (findPortHolder: the
 * console's own leftovers named, with what to stop). This process's own ancestors are never named
 * as the holder's start (a start whose check fails is not the one to stop).
 */
export async function explainListenFailure(error: NodeJS.ErrnoException, host: string, port: number, settings: ListenSettings = ENV_SETTINGS): Promise<string> {
  if (error.code !== "EADDRINUSE") return listenFailure(error, host, port, settings);
  const holder = await findPortHolder(host, port);
  const own = new Set([process.pid, ...currentAncestors().map((p) => p.pid)]);
  if (holder.startPid !== null && own.has(holder.startPid)) holder.startPid = null;
  return listenFailure(error, host, port, settings, holder);
}
