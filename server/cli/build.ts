import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { readProcess } from "./launcher";
import { launchEnvironment } from "../config";

const ROOT = process.cwd();
export const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");
/** The preload that makes `next build` and its workers die with the process that started it (server/cli/buildGuard.mjs). */
export const BUILD_GUARD = path.join(ROOT, "server", "cli", "buildGuard.mjs");

/** `next build` failed (its own output, above, says why): one line for the user, never a stack trace. */
export class BuildFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildFailedError";
  }
}
/**
 * Everything `next build` reads: the pages, the server code they import, the proxy (Next 16's
 * middleware), the configs that change how it compiles (next.config.ts, tsconfig.json: paths, target),
 * the schema the generated client comes from, the dependencies (package.json, package-lock.json),
 * the static files in public/ and the .env files whose NEXT_PUBLIC_ values are inlined. A missing one counts as never changed.
 */
export const BUILD_INPUTS = [
  "app", "server", "public", "instrumentation.ts", "proxy.ts", "prisma/schema.prisma", "next.config.ts", "tsconfig.json", "package.json", "package-lock.json",
  ".env", ".env.production", ".env.local", ".env.production.local",
];

function newestMtime(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target)) {
    if (entry === "generated" || entry === "node_modules") continue;
    newest = Math.max(newest, newestMtime(path.join(target, entry)));
  }
  return newest;
}

/** Whether `next build` must run in `root`: no build yet, or an input (BUILD_INPUTS) newer than the last build's BUILD_ID. */
export function buildNeeded(root = ROOT): "none" | "changed" | false {
  const buildId = path.join(root, ".next", "BUILD_ID");
  const built = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
  if (!built) return "none";
  const changed = Math.max(...BUILD_INPUTS.map((s) => newestMtime(path.join(root, s))));
  return changed > built ? "changed" : false;
}

/** Whether to build now (buildNeeded), said in one line. */
function announceBuild(log: (line: string) => void): boolean {
  const needed = buildNeeded();
  if (!needed) log("build is up to date");
  else log(needed === "changed" ? "sources changed since the last build: building" : "no build yet: building (about a minute)");
  return Boolean(needed);
}

/**
 * next build's environment: no telemetry, and the guard preloaded (NODE_OPTIONS, so that every node
 * process of the build has it, Next's workers too): each watches its parent and kills the build's
 * process group once that parent is gone (server/cli/buildGuard.mjs). `parent` is the process the
 * top of the build must outlive: this one.
 */
const BUILD_ENV = (parent = process.pid) => ({ ...process.env,
  NEXT_TELEMETRY_DISABLED: "1",
  NODE_OPTIONS: `${launchEnvironment().nodeOptions ?? ""} --import=${pathToFileURL(BUILD_GUARD).href}`.trim(),
  RERANK_BUILD_PARENT: String(parent),
  RERANK_BUILD_GROUP: "",
});

/** Whether a command line is `next build` (node …/next/dist/bin/next build, …/.bin/next build, `next build`, or the title Next gives it: `next-build (v16.4.6)`). Pure. */
export function isNextBuild(args: string[]): boolean {
  if (/^next-build(\s|$)/.test(args[0] ?? "")) return true;
  const next = args.findIndex((arg, i) => i < 3 && /(^|\/)(next\/dist\/bin\/next|\.bin\/next|next)$/.test(arg));
  return next >= 0 && args[next + 1] === "build";
}

/** A `next build` other than this process's running in `root` (from /proc; null where there is none, or no /proc). */
export function otherNextBuild(root = ROOT): number | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!/^\d+$/.test(name) || pid === process.pid) continue;
    const info = readProcess(pid);
    if (!info || !isNextBuild(info.args)) continue;
    try {
      if (path.resolve(readlinkSync(`/proc/${pid}/cwd`)) === path.resolve(root)) return pid;
    } catch {
      // another user's, or gone
    }
  }
  return null;
}

/** Waits while another `next build` runs in this folder (it holds .next's lock: a second one fails at once), said in one line. */
async function waitForOtherBuild(log: (line: string) => void): Promise<void> {
  let other = otherNextBuild();
  if (other === null) return;
  log(`another next build (pid ${other}) is running in this folder: waiting for it to finish`);
  while (other !== null) {
    await new Promise((r) => setTimeout(r, 500));
    other = otherNextBuild();
  }
}

/** The one line for a failed build: Next's lock ("Another next build process is already running") is named as such. Pure. */
export function buildFailure(code: number | null, signal: string | null, output: string): string {
  const how = signal ? `signal ${signal}` : `exit code ${code}`;
  if (/Another next build process is already running/.test(output)) return `next build failed (${how}): another next build is running in this folder (it holds .next/lock): wait for it to finish or stop it, then start again`;
  return `next build failed with ${how} (its output above says why)`;
}

/** Runs `next build` when there is no build or an input is newer than it. @throws BuildFailedError when the build fails. */
export function buildIfNeeded(log: (line: string) => void = console.log) {
  if (!announceBuild(log)) return;
  // Synchronous: no process group of its own, so each process of the build kills itself once its parent is gone (buildGuard.mjs).
  const result = spawnSync(process.execPath, [NEXT_BIN, "build"], { stdio: "inherit", env: BUILD_ENV() });
  if (result.status !== 0) throw new BuildFailedError(buildFailure(result.status, result.signal, ""));
}

const runningBuilds = new Set<() => void>();

/** Kills the `next build` buildIfNeededRelayed runs, workers and all (a start stopping: nothing to wait for). A no-op when none runs. */
export function stopRunningBuild(): void {
  for (const stop of runningBuilds) stop();
}

/**
 * buildIfNeeded for `npm start`, whose output may be a pipe that closes (`npm start | head`): unless
 * it is a terminal (where next build draws its progress itself), next build's output is relayed
 * through this process, which ignores a closed output (server/http/terminal.ts), instead of written
 * by next build itself, which died of the EPIPE and failed the start. It runs beside the event loop
 * (a synchronous build left the start deaf to signals for a minute: tsx then killed it with SIGKILL),
 * in a process group of its own that dies with this process however it ends: killed at its exit,
 * and by the build's guard (buildGuard.mjs) when it is killed outright. A build already running in
 * this folder is waited for first. @throws BuildFailedError when the build fails.
 */
export async function buildIfNeededRelayed(log: (line: string) => void = console.log): Promise<void> {
  await waitForOtherBuild(log);
  if (!announceBuild(log)) return;
  const relay = !process.stdout.isTTY;
  // Never stdin: a build prompt (Next's upgrade menu) would wait for an answer in a start.
  const child = spawn(process.execPath, [NEXT_BIN, "build"], { stdio: ["ignore", relay ? "pipe" : "inherit", "pipe"], env: BUILD_ENV(), detached: true });
  let tail = "";
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000));
  if (relay) {
    child.stdout!.on("data", (chunk: Buffer) => {
      keep(chunk);
      process.stdout.write(chunk);
    });
  }
  child.stderr!.on("data", (chunk: Buffer) => {
    keep(chunk);
    process.stderr.write(chunk);
  });
  // The start stopped meanwhile (a signal, its launcher gone): the build, workers and all, must not run on without it.
  const stopBuild = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone already
    }
  };
  runningBuilds.add(stopBuild);
  process.on("exit", stopBuild);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  process.off("exit", stopBuild);
  runningBuilds.delete(stopBuild);
  stopBuild(); // a worker the build left behind
  if (code !== 0) throw new BuildFailedError(buildFailure(code, signal, tail));
}
