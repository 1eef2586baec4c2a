import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { NEXT_BIN } from "../cli/build";

// The benchmark's control for Next.js's own cost: a freshly generated App Router app with nothing
// but a root layout and one empty route handler (GET /api/ping), built with the same next package
// and served by `next start`. None of this project's code, config, instrumentation or bundle is in
// it, so what it costs per request is the framework's floor on this machine.

export const FLOOR_DIR = path.join(process.cwd(), ".data", "bench", "next-floor");

const FILES: Record<string, string> = {
  "package.json": JSON.stringify({ name: "next-floor", private: true, type: "module" }),
  "next.config.mjs": "export default { poweredByHeader: false, compress: false };\n",
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
    const result = spawnSync(process.execPath, [NEXT_BIN, "build"], { cwd: FLOOR_DIR, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
    if (result.status !== 0) throw new Error(`next build of the control app in ${FLOOR_DIR} failed with exit code ${result.status}`);
  }
  return (port) => [NEXT_BIN, "start", FLOOR_DIR, "-p", String(port), "-H", "127.0.0.1"];
}
