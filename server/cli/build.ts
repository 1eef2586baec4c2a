import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const ROOT = process.cwd();
export const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");
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

const BUILD_ENV = () => ({ ...process.env, NEXT_TELEMETRY_DISABLED: "1" });

/** Runs `next build` when there is no build or an input is newer than it. @throws when the build fails. */
export function buildIfNeeded(log: (line: string) => void = console.log) {
  if (!announceBuild(log)) return;
  const result = spawnSync(process.execPath, [NEXT_BIN, "build"], { stdio: "inherit", env: BUILD_ENV() });
  if (result.status !== 0) throw new Error(`next build failed with exit code ${result.status}`);
}

/**
 * buildIfNeeded for `npm start`, whose output may be a pipe that closes (`npm start | head`): unless
 * it is a terminal (where next build draws its progress itself), next build's output is relayed
 * through this process, which ignores a closed output (server/http/terminal.ts), instead of written
 * by next build itself, which died of the EPIPE and failed the start. It runs beside the event loop
 * (a synchronous build left the start deaf to signals for a minute: tsx then killed it with SIGKILL)
 * and is stopped if this process exits first. @throws when the build fails.
 */
export async function buildIfNeededRelayed(log: (line: string) => void = console.log): Promise<void> {
  if (!announceBuild(log)) return;
  const relay = !process.stdout.isTTY;
  const child = spawn(process.execPath, [NEXT_BIN, "build"], { stdio: relay ? ["ignore", "pipe", "pipe"] : "inherit", env: BUILD_ENV() });
  if (relay) {
    child.stdout!.on("data", (chunk: Buffer) => process.stdout.write(chunk));
    child.stderr!.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  }
  // The start stopped meanwhile (a signal, its launcher gone): the build must not run on without it.
  const stopBuild = () => child.kill("SIGTERM");
  process.on("exit", stopBuild);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  process.off("exit", stopBuild);
  if (code !== 0) throw new Error(`next build failed with ${signal ? `signal ${signal}` : `exit code ${code}`}`);
}
