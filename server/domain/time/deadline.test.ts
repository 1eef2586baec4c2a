import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { withDeadline } from "./deadline";

// Fake timers: the deadline is a timer, so the tests move the clock instead of waiting on it.

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A promise settled by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("withDeadline", () => {
  it("answers the work's value when it settles first, and clears its timer", async () => {
    const work = deferred<number>();
    const onTimeout = vi.fn(() => "late" as const);
    const waiting = withDeadline(work.promise, 100, onTimeout);
    await vi.advanceTimersByTimeAsync(99);
    work.resolve(7);
    await expect(waiting).resolves.toBe(7);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(onTimeout).not.toHaveBeenCalled();
  });

  it("passes the work's rejection through when it comes first", async () => {
    const work = deferred<number>();
    const waiting = withDeadline(work.promise, 100, () => null);
    work.reject(new Error("read failed"));
    await expect(waiting).rejects.toThrow("read failed");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("answers onTimeout's value once the deadline passes, and drops the work's late result", async () => {
    const work = deferred<number>();
    const onTimeout = vi.fn(() => "over_budget" as const);
    const waiting = withDeadline(work.promise, 100, onTimeout);
    await vi.advanceTimersByTimeAsync(100);
    await expect(waiting).resolves.toBe("over_budget");
    work.resolve(7);
    work.reject(new Error("ignored"));
    await vi.advanceTimersByTimeAsync(1000);
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  it("rejects with what onTimeout throws", async () => {
    const work = deferred<void>();
    const waiting = withDeadline(work.promise, 50, () => {
      throw new Error("no acknowledgement within 50 ms");
    });
    const settled = expect(waiting).rejects.toThrow("no acknowledgement within 50 ms");
    await vi.advanceTimersByTimeAsync(50);
    await settled;
  });

  it("a late rejection of the work is not an unhandled rejection", async () => {
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    try {
      const work = deferred<number>();
      const waiting = withDeadline(work.promise, 10, () => "timeout");
      await vi.advanceTimersByTimeAsync(10);
      await expect(waiting).resolves.toBe("timeout");
      work.reject(new Error("late"));
      // Unhandled rejections are reported after the microtask queue drains: let a few turns pass.
      for (let i = 0; i < 3; i++) await vi.advanceTimersByTimeAsync(1);
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });

  it("waits without a timer when ms is Infinity", async () => {
    const work = deferred<string>();
    const waiting = withDeadline(work.promise, Infinity, () => "never");
    expect(vi.getTimerCount()).toBe(0);
    work.resolve("done");
    await expect(waiting).resolves.toBe("done");
  });

  it("refuses a negative or non-numeric deadline, naming ms", async () => {
    await expect(withDeadline(Promise.resolve(1), -1, () => 0)).rejects.toThrow(/ms must be a number of milliseconds ≥ 0, got -1/);
    await expect(withDeadline(Promise.resolve(1), Number.NaN, () => 0)).rejects.toThrow(/ms must be .* got NaN/);
  });
});
