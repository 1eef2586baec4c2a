import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, inCanary, judgeCanary, validateSteps } from "./canary";

const policy = { ...DEFAULT_POLICY, minRequests: 100 };

describe("inCanary", () => {
  it("takes about `percent` of uniform hashes, and a unit in at p% stays in at every larger share", () => {
    let at5 = 0;
    for (let i = 0; i < 10_000; i++) if (inCanary(Math.floor(((i + 0.5) / 10_000) * 2 ** 32), 5)) at5++;
    expect(at5).toBe(500);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (h, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (inCanary(h, lo)) expect(inCanary(h, hi)).toBe(true);
      }),
    );
    expect(inCanary(0, 0)).toBe(false);
  });
});

describe("validateSteps", () => {
  it("accepts rising shares below 100 and names what is wrong otherwise", () => {
    expect(validateSteps([1, 5, 25, 50])).toBeNull();
    expect(validateSteps([])).toBe("give at least one step");
    expect(validateSteps([5, 5])).toBe("steps must rise: 5 then 5");
    expect(validateSteps([10, 100])).toBe("step 2 (100) must be above 0 and below 100: the version is promoted after the last step");
  });
});

describe("judgeCanary", () => {
  it("waits until both arms have enough requests", () => {
    expect(judgeCanary({ requests: 50, fallbacks: 0, p99: 3 }, { requests: 900, fallbacks: 0, p99: 3 }, policy)).toEqual({
      decision: "wait", reasons: ["50 canary and 900 current requests of the 100 each needed"],
    });
  });

  it("advances when fallback rate and p99 are within tolerance", () => {
    expect(judgeCanary({ requests: 200, fallbacks: 1, p99: 4 }, { requests: 800, fallbacks: 2, p99: 3.5 }, policy).decision).toBe("advance");
  });

  it("fails early on a clearly higher fallback rate, even before the step has its requests", () => {
    const v = judgeCanary({ requests: 40, fallbacks: 40, p99: 1 }, { requests: 800, fallbacks: 0, p99: 3 }, policy);
    expect(v.decision).toBe("fail");
    expect(v.reasons[0]).toBe("fallback rate 100.00% vs 0.00% on the current version: above the tolerated +1.00% (one-sided z-test, α = 0.05)");
  });

  it("does not fail on one or two fallbacks, however high their share", () => {
    expect(judgeCanary({ requests: 1, fallbacks: 1, p99: 1 }, { requests: 0, fallbacks: 0, p99: null }, policy).decision).toBe("wait");
    expect(judgeCanary({ requests: 4, fallbacks: 4, p99: 1 }, { requests: 1000, fallbacks: 2, p99: 3 }, policy).decision).toBe("wait");
    expect(judgeCanary({ requests: 5, fallbacks: 5, p99: 1 }, { requests: 1000, fallbacks: 2, p99: 3 }, policy).decision).toBe("fail");
  });

  it("does not fail on a rise within noise of the tolerated margin", () => {
    // 3 of 200 (1.5 %) against 0.5 %: +1 point is tolerated, and 0.5 point more is not significant.
    expect(judgeCanary({ requests: 200, fallbacks: 3, p99: 3 }, { requests: 800, fallbacks: 4, p99: 3 }, policy).decision).toBe("advance");
  });

  it("fails on a p99 above the tolerated rise once there are enough requests", () => {
    const v = judgeCanary({ requests: 150, fallbacks: 0, p99: 9 }, { requests: 600, fallbacks: 0, p99: 5 }, policy);
    expect(v).toEqual({ decision: "fail", reasons: ["p99 9.00 ms vs 5.00 ms on the current version: above the tolerated 8.00 ms"] });
    expect(judgeCanary({ requests: 150, fallbacks: 0, p99: 7.9 }, { requests: 600, fallbacks: 0, p99: 5 }, policy).decision).toBe("advance");
  });
});
