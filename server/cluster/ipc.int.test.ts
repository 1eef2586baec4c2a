import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The primary of WORKERS=N relays questions between workers (server/cluster/ipc.ts). A worker can
// leave the IPC channel between the relay's isConnected() check and its send: a real node:cluster
// primary (server/testing/relayPrimary.ts) relays to such a worker and must neither crash nor wait
// for the question's timeout.

describe("relayQuestions in a real cluster primary", () => {
  it("a send to a worker that just disconnected counts as its (empty) answer: the asker is answered at once, the primary lives", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(process.cwd(), "server/testing/relayPrimary.ts")], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code, output).toBe(0);
    const reply = JSON.parse(output.match(/^reply (.*)$/m)![1]!);
    expect(reply).toEqual({ type: "rerank:reply", id: 7, values: [], asked: 1, primary: { workers: 1, restarts: { exit: 0, hang: 0 } } });
    // Well before the question's 10 s timeout: the failed send ended the wait.
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
