import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { launchEnvironment } from "../config";

// `npm start` runs `sh -c "tsx server/cli/start.ts"`; tsx runs this script in a child node. `kill
// <npm's pid>` (SIGTERM, as a process manager or a script sends it) reaches npm, which passes it to
// its `sh` only; dash does not pass it on (nor exec its one command), so sh died and tsx, this start,
// the server and the embedded PostgreSQL ran on, orphaned (break test). So the start watches the
// processes that launched it and only relay to it (tsx, `sh -c`, npm): once one of them is gone, it
// stops as on SIGTERM. Ctrl-C and a closed terminal signal the whole process group and need none of
// this; `npm start &` with the terminal closed later (nohup) is unaffected: npm's own parent is not
// watched. A start whose npm was gone before it read its ancestors (`npm start | true`: npm died of
// EPIPE in its first second) has an empty chain: it stops at once instead (orphanedAtStart).

/** A process as the system shows it: its pid, its parent's pid and its command line. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  args: string[];
}

/**
 * What a process of the launch chain is: "npm" (npm or npx: the top of the chain, the process a user
 * or a process manager signals), "relay" (tsx's command line, a `sh -c` shell), or null (anything
 * else: a terminal's shell, a test runner, a process manager). Pure.
 */
export function launcherKind(args: string[]): "npm" | "relay" | null {
  const first = args[0] ?? "";
  // npm sets its process title ("npm start", "npm exec tsx …"), which replaces its command line.
  if (/^np[mx](\s|$)/.test(first) || args.some((a) => /(^|\/)np[mx]-cli\.js$/.test(a))) return "npm";
  if (["sh", "dash", "bash", "zsh"].includes(path.basename(first)) && args[1] === "-c") return "relay";
  if (isTsxCli(args)) return "relay";
  return null;
}

/** tsx's command line (`node …/.bin/tsx script`, `node …/tsx/dist/cli.mjs script`, `tsx script`); not `node --import tsx script`, a script of its own. Pure. */
const isTsxCli = (args: string[]) => path.basename(args[0] ?? "") === "tsx" || /(^|\/)(\.bin\/tsx|tsx\/dist\/cli\.mjs)$/.test(args[1] ?? "");

/**
 * The processes that launched this one and only relay to it, from its parent up: relays (tsx, `sh
 * -c`) up to and including the first npm; the chain ends before the first process of neither kind.
 * Empty when this process was started directly (by a test, a process manager, a container). Pure.
 * @param ancestors this process's parent, its parent, … (as far as they could be read).
 */
export function launchChain(ancestors: ProcessInfo[]): ProcessInfo[] {
  const chain: ProcessInfo[] = [];
  for (const ancestor of ancestors) {
    const kind = launcherKind(ancestor.args);
    if (kind === null) break;
    chain.push(ancestor);
    if (kind === "npm") break;
  }
  return chain;
}

/**
 * The first link of the chain that broke, or null when every one holds: `self` (this process's
 * current parent pid) and each member's current parent must be the next member. A member that is
 * gone breaks the link below it (its child was given another parent). Pure.
 * @param parentOf each member's current parent pid (null: the member is gone).
 * @returns the member that is gone or no longer the parent, for the log.
 */
export function brokenLink(chain: ProcessInfo[], selfParent: number, parentOf: (pid: number) => number | null): ProcessInfo | null {
  if (chain.length === 0) return null;
  if (selfParent !== chain[0]!.pid) return chain[0]!;
  for (let i = 0; i + 1 < chain.length; i++) if (parentOf(chain[i]!.pid) !== chain[i + 1]!.pid) return chain[i + 1]!;
  return null;
}

/** `pid (comm) state ppid …` of /proc/<pid>/stat: the parent pid (comm may hold spaces and parentheses). Pure. */
export function parentFromStat(stat: string): number | null {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : null;
}

/** A process's parent and command line (/proc on Linux, else `ps`); null when it is gone or unreadable. */
export function readProcess(pid: number): ProcessInfo | null {
  try {
    const ppid = parentFromStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    if (ppid === null) return null;
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, ppid, args };
  } catch {
    if (process.platform === "linux") return null;
  }
  try {
    const line = execFileSync("ps", ["-o", "ppid=", "-o", "args=", "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const match = /^(\d+)\s+(.*)$/.exec(line);
    return match ? { pid, ppid: Number(match[1]), args: match[2]!.split(/\s+/) } : null;
  } catch {
    return null;
  }
}

/** The processes whose parent is `pid` (from /proc; empty where there is none, or when it is gone). */
export function childrenOf(pid: number): ProcessInfo[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries.filter((name) => /^\d+$/.test(name)).map((name) => readProcess(Number(name))).filter((info): info is ProcessInfo => info !== null && info.ppid === pid);
}

/** This process's parent, its parent, … as far as they can be read (at most `levels`; never pid 1). */
export function currentAncestors(levels = 8): ProcessInfo[] {
  const ancestors: ProcessInfo[] = [];
  let parent = process.ppid;
  while (parent > 1 && ancestors.length < levels) {
    const info = readProcess(parent);
    if (!info) break;
    ancestors.push(info);
    parent = info.ppid;
  }
  return ancestors;
}

/** This process's launch chain (launchChain over its ancestors, read up to 8 levels). */
export function currentLaunchChain(): ProcessInfo[] {
  return launchChain(currentAncestors());
}

/**
 * The processes a server started by `npm start` lives for, from its parent up: the relays between
 * them (tsx watch, with --dev) and the first process of another kind (the start itself), inclusive.
 * Empty when there are no ancestors. Pure.
 * @param ancestors the server's parent, its parent, … (currentAncestors).
 */
export function supervisorChain(ancestors: ProcessInfo[]): ProcessInfo[] {
  const chain: ProcessInfo[] = [];
  for (const ancestor of ancestors) {
    chain.push(ancestor);
    if (launcherKind(ancestor.args) !== "relay") break;
  }
  return chain;
}

/** How a launcher is named in the log: `npm (pid 12)`, `sh (pid 13)`, `tsx (pid 14)`. Pure. */
export function launcherName(info: ProcessInfo): string {
  const kind = launcherKind(info.args);
  const name = kind === "npm" ? "npm" : isTsxCli(info.args) ? "tsx" : path.basename(info.args[0] ?? "?");
  return `${name} (pid ${info.pid})`;
}

/**
 * Calls `onGone` once when a process of this one's launch chain is gone (polled every `intervalMs`,
 * on an unref'd timer). A no-op when there is no chain (started directly).
 * @returns a function that stops watching.
 */
export function watchLaunchChain(onGone: (launcher: ProcessInfo) => void, intervalMs = 1000): () => void {
  return watchChain(currentLaunchChain(), onGone, intervalMs);
}

/**
 * Calls `onGone` once when a member of `chain` (this process's parent, its parent, …: launchChain,
 * supervisorChain) is gone or no longer the parent of the one below it (brokenLink), polled every
 * `intervalMs` on an unref'd timer. A no-op for an empty chain. @returns a function that stops watching.
 */
export function watchChain(chain: ProcessInfo[], onGone: (member: ProcessInfo) => void, intervalMs = 1000): () => void {
  if (chain.length === 0) return () => {};
  const timer = setInterval(() => {
    const broken = brokenLink(chain, process.ppid, (pid) => readProcess(pid)?.ppid ?? null);
    if (!broken) return;
    clearInterval(timer);
    onGone(broken);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Whether the package-manager script that npm (or pnpm, yarn) ran is the one that runs this process
 * (`exec node --import tsx server/cli/start.ts`): one of its words, resolved against `cwd` (npm runs
 * scripts in the package's folder), is this process's script. A test runner under `npm test`
 * inherits npm's environment, but its script (`vitest run …`) runs no start. Pure.
 * @param script npm_lifecycle_script (undefined when no package manager ran anything).
 * @param self this process's script (process.argv[1], absolute) and working folder.
 */
export function scriptRunsThis(script: string | undefined, self: { script: string | undefined; cwd: string }): boolean {
  if (!script || !self.script) return false;
  const target = path.resolve(self.cwd, self.script);
  return script.split(/[\s;&|()]+/).some((word) => word !== "" && path.resolve(self.cwd, word.replace(/^["']|["']$/g, "")) === target);
}

/**
 * Whether this process was launched by a package manager's script whose package manager was already
 * gone when it looked (npm exiting in its first second: `npm start | true` killed it with EPIPE
 * before the start had read its ancestors, so the launch chain was empty and the start, its
 * PostgreSQL and its server served on, orphaned). True only when: the script runs this process
 * (scriptRunsThis: with `exec`, npm was its parent), the launch chain is empty, and the current
 * parent is readable and neither npm, a relay, nor the package manager itself (its command line
 * names npm_execpath: pnpm, yarn), i.e. init or a subreaper adopted it. A container whose pid 1 is
 * npm, a test runner spawning the start directly, an unreadable parent: false. Pure.
 * @param parent this process's current parent (readProcess(process.ppid), pid 1 included; null: unreadable).
 * @param execPath npm_execpath: the package manager's script (npm-cli.js, pnpm.cjs, yarn.js).
 */
export function orphanedAtStart(input: { script: string | undefined; self: { script: string | undefined; cwd: string }; execPath: string | undefined; chain: ProcessInfo[]; parent: ProcessInfo | null }): boolean {
  if (input.chain.length > 0 || input.parent === null || !scriptRunsThis(input.script, input.self)) return false;
  const { args } = input.parent;
  if (launcherKind(args) !== null || /^(npm|npx|pnpm|yarn|bun)(\s|$)/.test(args[0] ?? "")) return false;
  const manager = input.execPath ? path.basename(input.execPath) : null;
  return !(manager && args.some((arg) => arg === input.execPath || path.basename(arg) === manager));
}

/** orphanedAtStart for this process (its environment, its script, its current parent). */
export function currentlyOrphanedAtStart(chain: ProcessInfo[]): ProcessInfo | null {
  const parent = readProcess(process.ppid);
  const launched = launchEnvironment();
  const orphaned = orphanedAtStart({ script: launched.npmLifecycleScript, self: { script: process.argv[1], cwd: process.cwd() }, execPath: launched.npmExecPath, chain, parent });
  return orphaned ? parent : null;
}
