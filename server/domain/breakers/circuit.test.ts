import { describe, expect, it } from "vitest";
import { Circuit } from "./circuit";

const options = { windowMs: 10_000, volumeThreshold: 5, errorThreshold: 0.5, resetMs: 300, minCallers: 1 };

describe("Circuit: closed → open → half-open → closed", () => {
  it("opens once the window holds enough calls and half of them are faults", () => {
    const c = new Circuit(options);
    for (let i = 0; i < 4; i++) expect(c.record(i, { fault: true, caller: "a" })).toBe("closed"); // below the volume
    expect(c.record(4, { fault: true, caller: "a" })).toBe("open");
    expect(c.admit(100)).toBe("reject");
  });

  it("stays closed while faults are under the threshold", () => {
    const c = new Circuit(options);
    for (let i = 0; i < 20; i++) c.record(i, { fault: i % 3 === 0, caller: "a" });
    expect(c.state(20)).toBe("closed");
  });

  it("forgets outcomes older than the window", () => {
    const c = new Circuit(options);
    for (let i = 0; i < 4; i++) c.record(i, { fault: true, caller: "a" });
    expect(c.window(5).faults).toBe(4);
    expect(c.record(20_000, { fault: true, caller: "a" })).toBe("closed");
    expect(c.window(20_000)).toEqual({ calls: 1, faults: 1, faultCallers: 1 });
  });

  it("lets one trial through after resetMs: its success closes the circuit, its fault opens it again", () => {
    const c = new Circuit(options);
    for (let i = 0; i < 5; i++) c.record(i, { fault: true, caller: "a" });
    expect(c.state(304)).toBe("half-open");
    expect(c.admit(304)).toBe("trial");
    expect(c.admit(305)).toBe("reject"); // one trial at a time
    expect(c.record(310, { fault: true, caller: "a", trial: true })).toBe("open");
    expect(c.admit(500)).toBe("reject");
    expect(c.admit(620)).toBe("trial");
    expect(c.record(625, { fault: false, caller: "a", trial: true })).toBe("closed");
    expect(c.window(625).calls).toBe(0);
  });

  it("gives up a trial that never reports back, and an abandoned trial lets the next call try", () => {
    const c = new Circuit(options);
    for (let i = 0; i < 5; i++) c.record(i, { fault: true, caller: "a" });
    expect(c.admit(310)).toBe("trial");
    expect(c.admit(700)).toBe("trial");
    c.abandonTrial();
    expect(c.admit(701)).toBe("trial");
  });

  it("with minCallers 2, one caller's faults never open it; a second caller's do", () => {
    const c = new Circuit({ ...options, minCallers: 2 });
    for (let i = 0; i < 50; i++) c.record(i, { fault: true, caller: "mallory" });
    expect(c.state(50)).toBe("closed");
    expect(c.record(51, { fault: true, caller: "bob" })).toBe("open");
  });

  it("keeps a bounded number of outcomes whatever the rate", () => {
    const c = new Circuit(options);
    for (let i = 0; i < 100_000; i++) c.record(i / 100, { fault: false, caller: "a" });
    expect(c.window(1000).calls).toBeLessThanOrEqual(4096);
  });

  it("refuses options that cannot work", () => {
    expect(() => new Circuit({ ...options, errorThreshold: 0 })).toThrow(RangeError);
    expect(() => new Circuit({ ...options, minCallers: 0 })).toThrow(RangeError);
  });
});
