import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildNeeded } from "./build";

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
