import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

// The benchmark's control for Next.js's own cost: a freshly generated App Router app with nothing
// but a root layout and one empty route handler (GET /api/ping), built with the same next package
// and served by `next start`. None of this project's code, config, instrumentation or bundle is in
// it, so what it costs per request is the framework's floor on this machine.

export const FLOOR_DIR = path.join(process.cwd(), ".data", "bench", "next-floor");
/** The control app builds and starts with its own (hard-linked) next: one React by path, or rendering fails. */
const FLOOR_NEXT_BIN = path.join(FLOOR_DIR, "node_modules", "next", "dist", "bin", "next");

const FILES: Record<string, string> = {
  "package.json": JSON.stringify({ name: "next-floor", private: true, type: "module" }),
  // Its own Turbopack root: left to infer one, Next picks this project's lockfile and compiles the
  // project's instrumentation.ts into the control app.
  "next.config.mjs":
    'import path from "node:path";\nimport { fileURLToPath } from "node:url";\n' +
    "export default { poweredByHeader: false, compress: false, turbopack: { root: path.dirname(fileURLToPath(import.meta.url)) } };\n",
  "app/layout.js":
    'import { createElement } from "react";\n' +
    'export default function RootLayout({ children }) { return createElement("html", null, createElement("body", null, children)); }\n',
  "app/api/ping/route.js":
    'export const dynamic = "force-dynamic";\n' +
    'export function GET() { return new Response("ok", { headers: { "content-type": "text/plain", "cache-control": "no-store" } }); }\n',
};

/** Writes and builds the control app (JavaScript only, so no tsconfig is generated); returns its `next start` arguments. */
export function buildNextFloorApp(): (port: number) => string[] {
  if (!existsSync(path.join(FLOOR_DIR, ".next", "BUILD_ID"))) {
    rmSync(FLOOR_DIR, { recursive: true, force: true });
    for (const [file, text] of Object.entries(FILES)) {
      mkdirSync(path.dirname(path.join(FLOOR_DIR, file)), { recursive: true });
      writeFileSync(path.join(FLOOR_DIR, file), text);
    }
    // Turbopack compiles nothing outside its root, symlinks included: hard-link the project's packages in.
    const linked = spawnSync("cp", ["-al", path.join(process.cwd(), "node_modules"), path.join(FLOOR_DIR, "node_modules")], { stdio: ["ignore", "ignore", "inherit"] });
    if (linked.status !== 0) throw new Error(`could not hard-link node_modules into ${FLOOR_DIR} (cp -al exited ${linked.status})`);
    const result = spawnSync(process.execPath, [FLOOR_NEXT_BIN, "build"], { cwd: FLOOR_DIR, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
    if (result.status !== 0) throw new Error(`next build of the control app in ${FLOOR_DIR} failed with exit code ${result.status}`);
  }
  return (port) => [FLOOR_NEXT_BIN, "start", FLOOR_DIR, "-p", String(port), "-H", "127.0.0.1"];
}
