import { afterEach, describe, expect, it, vi } from "vitest";
import { runShutdownSteps, shutdownSteps, type ShutdownStep } from "./shutdown";

// The order of a stopping process's steps, and how a slow or failing step is passed. Fake timers:
// a step's grace is a timer, so the clock is moved instead of waited on.

afterEach(() => {
  vi.useRealTimers();
});

describe("shutdownSteps", () => {
  it("closes both worker pools after the last shadow job and before the telemetry flush", () => {
    expect(shutdownSteps().map((s) => s.name)).toEqual(["jobs", "shadow", "worker pools", "telemetry", "tracing", "database"]);
  });
});

describe("runShutdownSteps", () => {
  it("starts each step after the previous one settled", async () => {
    const log: string[] = [];
    const step = (name: string): ShutdownStep => ({
      name,
      run: async () => {
        log.push(`${name} start`);
        await Promise.resolve();
        log.push(`${name} end`);
      },
    });
    await runShutdownSteps([step("shadow"), step("pools"), step("telemetry")]);
    expect(log).toEqual(["shadow start", "shadow end", "pools start", "pools end", "telemetry start", "telemetry end"]);
  });

  it("leaves a step behind after its grace and runs the next one", async () => {
    vi.useFakeTimers();
    const started: string[] = [];
    const steps: ShutdownStep[] = [
      { name: "shadow", run: () => (started.push("shadow"), new Promise(() => {})), graceMs: 5000 },
      { name: "telemetry", run: async () => void started.push("telemetry") },
    ];
    let done = false;
    const running = runShutdownSteps(steps).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(4999);
    expect(started).toEqual(["shadow"]);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await running;
    expect(started).toEqual(["shadow", "telemetry"]);
  });

  it("reports a failing step by name and still runs the later ones", async () => {
    const reported: Array<[string, string]> = [];
    const ran: string[] = [];
    await runShutdownSteps(
      [
        { name: "jobs", run: () => Promise.reject(new Error("the job runner was already gone")), graceMs: 5000 },
        { name: "database", run: async () => void ran.push("database") },
      ],
      (name, error) => reported.push([name, (error as Error).message]),
    );
    expect(reported).toEqual([["jobs", "the job runner was already gone"]]);
    expect(ran).toEqual(["database"]);
  });
});
