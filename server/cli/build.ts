import { spawnSync } from "node:child_process";
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

/** Runs `next build` when there is no build or an input is newer than it. */
export function buildIfNeeded(log: (line: string) => void = console.log) {
  const needed = buildNeeded();
  if (!needed) return log("build is up to date");
  log(needed === "changed" ? "sources changed since the last build: building" : "no build yet: building (about a minute)");
  const result = spawnSync(process.execPath, [NEXT_BIN, "build"], { stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  if (result.status !== 0) throw new Error(`next build failed with exit code ${result.status}`);
}
