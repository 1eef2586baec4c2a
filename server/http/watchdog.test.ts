import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startWatchdog } from "./watchdog";

// The heartbeat watchdog the pages thread and the cluster's workers are watched by, on fake time.

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("startWatchdog", () => {
  it("pings every sixth of the timeout and declares a hang once, after the timeout without an answer", () => {
    const pings: number[] = [];
    const onHang = vi.fn();
    startWatchdog({ timeoutMs: 6_000, ping: (n) => pings.push(n), onHang });
    vi.advanceTimersByTime(5_999);
    expect(pings).toEqual([1, 2, 3, 4, 5]);
    expect(onHang).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onHang).toHaveBeenCalledTimes(1);
    expect(onHang).toHaveBeenCalledWith(6_000);
    vi.advanceTimersByTime(60_000);
    expect(onHang).toHaveBeenCalledTimes(1);
    expect(pings).toHaveLength(5);
  });

  it("an answer opens a new window; stop() ends the pings and no hang is declared", () => {
    const onHang = vi.fn();
    const pings: number[] = [];
    const watchdog = startWatchdog({ timeoutMs: 6_000, ping: (n) => pings.push(n), onHang });
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(3_000);
      watchdog.answered();
    }
    expect(onHang).not.toHaveBeenCalled();
    watchdog.stop();
    const sent = pings.length;
    vi.advanceTimersByTime(60_000);
    expect(pings).toHaveLength(sent);
    expect(onHang).not.toHaveBeenCalled();
  });

  it("declares a side that answers only now and then hung: stopped 5.3 s, running 0.4 s, over and over (re-break), though it answers within every timeout", () => {
    const onHang = vi.fn();
    let running = true;
    const watchdog = startWatchdog({ timeoutMs: 6_000, ping: () => running && watchdog.answered(), onHang });
    // Healthy for a minute: every beat answered.
    vi.advanceTimersByTime(60_000);
    expect(onHang).not.toHaveBeenCalled();
    let stoppedFor = 0;
    for (let cycle = 0; cycle < 8 && onHang.mock.calls.length === 0; cycle++) {
      running = false;
      vi.advanceTimersByTime(5_300);
      stoppedFor += 5_300;
      running = true;
      watchdog.answered(); // the queued heartbeats are answered at once on SIGCONT
      vi.advanceTimersByTime(400);
    }
    expect(onHang).toHaveBeenCalledTimes(1);
    expect(onHang.mock.calls[0]![1]).toEqual({ answered: expect.any(Number), beats: 18 });
    expect(onHang.mock.calls[0]![1].answered).toBeLessThan(5);
    // Within four cycles (three timeouts of beats, once the window is full of the stopped pattern).
    expect(stoppedFor).toBeLessThanOrEqual(4 * 5_300);
  });

  it("keeps a side that misses a beat now and then (a busy event loop): 12 of every 18 answered", () => {
    const onHang = vi.fn();
    let n = 0;
    const watchdog = startWatchdog({ timeoutMs: 6_000, ping: () => n++ % 3 !== 0 && watchdog.answered(), onHang });
    vi.advanceTimersByTime(600_000);
    expect(onHang).not.toHaveBeenCalled();
  });

  it("does not blame the other side for this side's own stall: a timer that fired more than two beats late gives a fresh window", () => {
    const onHang = vi.fn();
    startWatchdog({ timeoutMs: 6_000, ping: () => undefined, onHang });
    vi.advanceTimersByTime(1_000);
    // This side's event loop is held up for 31 s (the clock moves, no timer fires), then runs again.
    vi.setSystemTime(Date.now() + 31_000);
    vi.advanceTimersByTime(1_000);
    expect(onHang).not.toHaveBeenCalled();
    // From then on, silence is the other side's again.
    vi.advanceTimersByTime(6_000);
    expect(onHang).toHaveBeenCalledTimes(1);
  });
});
