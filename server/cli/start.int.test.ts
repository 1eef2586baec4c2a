import { spawn } from "node:child_process";
import getPort from "get-port";
import { describe, expect, it } from "vitest";

function runStart(env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/cli/start.ts", "--no-seed"], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("npm start", () => {
  it("exits non-zero with one line naming host and port when DATABASE_URL points at a closed port", async () => {
    const port = await getPort();
    const result = await runStart({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/rerank` });
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`Cannot reach PostgreSQL at 127.0.0.1:${port}`);
  });
});
