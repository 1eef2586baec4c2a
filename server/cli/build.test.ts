import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BUILD_GUARD, BuildFailedError, buildFailure, buildNeeded, isNextBuild, otherNextBuild } from "./build";

// First-run break test: `npm start` skipped `next build` after proxy.ts or tsconfig.json changed
// (its freshness list missed them), and served the old proxy.

const root = mkdtempSync(path.join(os.tmpdir(), "rerank-build-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const at = (file: string, seconds: number) => {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), "x");
  utimesSync(path.join(root, file), seconds, seconds);
};

describe("buildNeeded", () => {
  it("is 'none' without a build, false when every input is older than the build", () => {
    expect(buildNeeded(root)).toBe("none");
    for (const file of ["app/page.tsx", "server/x.ts", "next.config.ts", "package-lock.json"]) at(file, 1_000);
    utimesSync(path.join(root, "app"), 1_000, 1_000);
    utimesSync(path.join(root, "server"), 1_000, 1_000);
    at(".next/BUILD_ID", 2_000);
    expect(buildNeeded(root)).toBe(false);
  });

  it.each(["proxy.ts", "tsconfig.json", "package.json", "public/logo.svg", ".env.production"])("break test: %s newer than the build makes one needed", (file) => {
    at(".next/BUILD_ID", 2_000);
    at(file, 3_000);
    expect(buildNeeded(root)).toBe("changed");
    rmSync(path.join(root, file));
    if (file.includes("/")) rmSync(path.join(root, path.dirname(file)), { recursive: true });
    expect(buildNeeded(root)).toBe(false);
  });
});

describe("isNextBuild", () => {
  it("tells next build's command lines from other commands", () => {
    expect(isNextBuild(["node", "/w/node_modules/next/dist/bin/next", "build"])).toBe(true);
    expect(isNextBuild(["/usr/bin/node", "/w/node_modules/.bin/next", "build"])).toBe(true);
    expect(isNextBuild(["next", "build"])).toBe(true);
    expect(isNextBuild(["next-build (v16.4.6)                                         "])).toBe(true); // the title Next sets
    expect(isNextBuild(["node", "/w/node_modules/next/dist/bin/next", "start"])).toBe(false);
    expect(isNextBuild(["node", "--import", "tsx", "server/cli/start.ts"])).toBe(false);
    expect(isNextBuild(["node", "/w/node_modules/next/dist/compiled/jest-worker/processChild.js"])).toBe(false);
  });
});

describe("buildFailure", () => {
  it("says one line, naming Next's lock when another build holds it (break test: a stack trace)", () => {
    expect(buildFailure(1, null, " ⨯ Another next build process is already running.\n")).toBe("next build failed (exit code 1): another next build is running in this folder (it holds .next/lock): wait for it to finish or stop it, then start again");
    expect(buildFailure(1, null, "Type error")).toBe("next build failed with exit code 1 (its output above says why)");
    expect(buildFailure(null, "SIGKILL", "")).toBe("next build failed with signal SIGKILL (its output above says why)");
    expect(new BuildFailedError("x")).toBeInstanceOf(Error);
  });
});

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};
const until = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
};

describe("otherNextBuild", () => {
  it.skipIf(process.platform !== "linux")("finds a next build running in the folder, not one elsewhere", async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), "rerank-otherbuild-"));
    mkdirSync(path.join(folder, "node_modules", ".bin"), { recursive: true });
    writeFileSync(path.join(folder, "node_modules", ".bin", "next"), "setInterval(() => {}, 1000);");
    const fake = spawn(process.execPath, [path.join(folder, "node_modules", ".bin", "next"), "build"], { cwd: folder, stdio: "ignore" });
    try {
      expect(await until(() => otherNextBuild(folder) === fake.pid, 5_000)).toBe(true);
      expect(otherNextBuild(root)).toBeNull();
    } finally {
      fake.kill("SIGKILL");
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

// Break test: `kill -KILL` of a start 4 s into `next build` left the build (two processes) running for
// 45 s; the next start failed on its lock. The build runs detached with the guard preloaded
// (NODE_OPTIONS): a stand-in start spawns a stand-in build, which forks a worker; killing the start
// outright must take both with it.
describe("buildGuard.mjs", () => {
  it.skipIf(process.platform === "win32")("kills the build's process group, workers too, once the start is killed outright", async () => {
    const worker = "setInterval(() => {}, 1000);";
    const build = `const { fork, spawn } = require("node:child_process"); const w = spawn(process.execPath, ["-e", ${JSON.stringify(worker)}], { stdio: "ignore" }); console.log("pids", process.pid, w.pid); setInterval(() => {}, 1000);`;
    const start = `const { spawn } = require("node:child_process"); const b = spawn(process.execPath, ["-e", ${JSON.stringify(build)}], { detached: true, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, RERANK_BUILD_PARENT: String(process.pid), RERANK_BUILD_GROUP: "" } }); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["-e", start], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_OPTIONS: `--import=${pathToFileURL(BUILD_GUARD).href}` } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    expect(await until(() => /pids \d+ \d+/.test(out), 10_000)).toBe(true);
    const [buildPid, workerPid] = /pids (\d+) (\d+)/.exec(out)!.slice(1).map(Number) as [number, number];
    await new Promise((r) => setTimeout(r, 500));
    expect([gone(buildPid), gone(workerPid)]).toEqual([false, false]); // a live start keeps its build
    child.kill("SIGKILL");
    expect(await until(() => gone(buildPid) && gone(workerPid), 3_000)).toBe(true);
  });
});
