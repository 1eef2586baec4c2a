import { describe, expect, it } from "vitest";
import { BURN_ALERT_RULES, BURN_WINDOWS, FAST_BURN, SLOW_BURN, availabilityBurnRate, burnLevel, burnRate, errorBudget, firingBurnAlerts, objectiveProblem, unattributedBurnRate } from "./slo";

describe("burnRate", () => {
  it("divides the bad share by the error budget", () => {
    expect(burnRate(1, 1000, 0.999)).toBeCloseTo(1, 9);
    expect(burnRate(144, 10_000, 0.999)).toBeCloseTo(14.4, 9);
    expect(burnRate(0, 50, 0.99)).toBe(0);
    expect(burnRate(50, 50, 0.99)).toBeCloseTo(100, 9);
  });

  it("is null without traffic and refuses impossible inputs", () => {
    expect(burnRate(0, 0, 0.999)).toBeNull();
    expect(() => burnRate(1, 1, 1)).toThrow("objective 100 %: no error budget");
    expect(() => burnRate(1, 1, 1.5)).toThrow("objective must be within (0, 1), got 1.5");
    expect(() => burnRate(0, 0, Number.NaN)).toThrow("objective must be within (0, 1), got NaN");
    expect(() => burnRate(5, 4, 0.9)).toThrow("bad (5) must be within [0, total (4)]");
  });

  it("break test: is exact at the thresholds (6 of 1,000 at 99.9 % read 5.999999999999995 and did not page)", () => {
    // 1 − 0.999 is 0.0010000000000000009 in binary: the raw quotient fell just short of every threshold.
    expect(6 / 1000 / (1 - 0.999)).toBeLessThan(SLOW_BURN);
    expect(burnRate(6, 1000, 0.999)).toBe(6);
    expect(burnLevel(null, burnRate(6, 1000, 0.999))).toBe("page");
    expect(burnRate(144, 10_000, 0.999)).toBe(14.4);
    expect(burnLevel(burnRate(144, 10_000, 0.999), null)).toBe("page");
    expect(burnRate(1, 1000, 0.999)).toBe(1);
    expect(burnRate(3, 100, 0.99)).toBe(3);
    expect(burnRate(60, 100_000, 0.9999)).toBe(6);
    expect(burnRate(144, 1_000_000, 0.99999)).toBe(FAST_BURN);
    // Just under and just over stay on their side.
    expect(burnRate(5, 1000, 0.999)).toBe(5);
    expect(burnRate(5999, 1_000_000, 0.999)).toBe(5.999);
    expect(burnRate(6001, 1_000_000, 0.999)).toBe(6.001);
  });
});

describe("errorBudget and objectiveProblem", () => {
  it("rounds 1 − objective to the budget the objective means (12 decimals)", () => {
    expect(errorBudget(0.999)).toBe(0.001);
    expect(errorBudget(0.99)).toBe(0.01);
    expect(errorBudget(0.9995)).toBe(0.0005);
    expect(errorBudget(0.99999)).toBe(0.00001);
  });

  it("says why an objective leaves no budget, and nothing for a usable one", () => {
    expect(objectiveProblem(0.999)).toBeNull();
    expect(objectiveProblem(1)).toBe("objective 100 %: no error budget");
    expect(objectiveProblem(0)).toBe("objective must be within (0, 1), got 0");
    expect(objectiveProblem(-0.5)).toBe("objective must be within (0, 1), got -0.5");
    expect(objectiveProblem(1 - 1e-14)).toBe(`objective ${1 - 1e-14} leaves no error budget at 12 decimals`);
    expect(() => errorBudget(1)).toThrow("objective 100 %: no error budget");
  });
});

describe("availabilityBurnRate", () => {
  it("counts 5xx answers as bad events and as requests (break test: a 503 outage burned nothing)", () => {
    // 1,000 requests logged, none a fallback, and 20 answered 503: 20 bad of 1,020.
    expect(availabilityBurnRate({ requests: 1000, fallbacks: 0, errors: 20 }, 0.999)).toBeCloseTo(20 / 1020 / 0.001, 9);
    expect(availabilityBurnRate({ requests: 1000, fallbacks: 10, errors: 20 }, 0.999)).toBeCloseTo(30 / 1020 / 0.001, 9);
    // A full outage: nothing logged, every request an error: burn 1000 (the whole budget 1000× too fast).
    expect(availabilityBurnRate({ requests: 0, fallbacks: 0, errors: 7 }, 0.999)).toBeCloseTo(1000, 9);
    expect(availabilityBurnRate({ requests: 0, fallbacks: 0, errors: 0 }, 0.999)).toBeNull();
  });
});

describe("unattributedBurnRate (a service-level ratio: unattributed 5xx over every surface's requests)", () => {
  it("break test: one unattributed 5xx among 10,000 requests no longer pages (its own series' ratio was 1, a burn of 1000)", () => {
    // 9,999 logged requests on the surfaces, one 5xx before any surface was known.
    const burn = unattributedBurnRate(1, { requests: 9_999, errors: 1 }, 0.999);
    expect(burn).toBeCloseTo(1 / 10_000 / 0.001, 9); // 0.1
    expect(firingBurnAlerts({ "1h": burn, "5m": burn, "6h": burn, "30m": burn, "1d": burn, "2h": burn, "3d": burn })).toEqual([]);
    expect(burnLevel(burn, burn)).toBe("ok");
  });

  it("counts every surface's 5xx answers as requests, and pages when the unattributed ones are a large share", () => {
    // 1,000 logged, 30 attributed 5xx, 20 unattributed: 20 bad of 1,050.
    expect(unattributedBurnRate(20, { requests: 1000, errors: 50 }, 0.999)).toBeCloseTo(20 / 1050 / 0.001, 9);
    // The database down: every key check fails, nothing is logged: all 7 requests bad, burn 1000.
    expect(unattributedBurnRate(7, { requests: 0, errors: 7 }, 0.999)).toBeCloseTo(1000, 9);
    const outage = unattributedBurnRate(300, { requests: 9_700, errors: 300 }, 0.999); // 3 %: burn 30
    expect(firingBurnAlerts({ "1h": outage, "5m": outage }).map((a) => a.name)).toEqual(["FastBurn"]);
  });

  it("is null without traffic, 0 without unattributed 5xx, and refuses more unattributed 5xx than 5xx", () => {
    expect(unattributedBurnRate(0, { requests: 0, errors: 0 }, 0.999)).toBeNull();
    expect(unattributedBurnRate(0, { requests: 500, errors: 3 }, 0.999)).toBe(0);
    expect(() => unattributedBurnRate(4, { requests: 500, errors: 3 }, 0.999)).toThrow("unattributed errors (4) must be within the service's errors (3)");
  });
});

describe("burnLevel", () => {
  it("pages on a fast 1 h burn or a sustained 6 h burn, warns above 1", () => {
    expect(burnLevel(14.4, 2)).toBe("page");
    expect(burnLevel(3, 6)).toBe("page");
    expect(burnLevel(14.3, 5.9)).toBe("warn");
    expect(burnLevel(0.5, 1.2)).toBe("warn");
    expect(burnLevel(1, 1)).toBe("ok");
    expect(burnLevel(null, 0)).toBe("ok");
    expect(burnLevel(null, null)).toBe("no_traffic");
  });
});

describe("firingBurnAlerts (SRE Workbook multiwindow, multi-burn-rate)", () => {
  const SLO_PERIOD_S = 30 * 86_400;

  it("spends the share of a 30-day budget each rule says", () => {
    for (const rule of BURN_ALERT_RULES) {
      expect(rule.burnRate * BURN_WINDOWS[rule.longWindow] / SLO_PERIOD_S).toBeCloseTo(rule.budgetSpent, 9);
      // The short window is 1/12 of the long one (Workbook, "Multiwindow, Multi-Burn-Rate Alerts").
      expect(BURN_WINDOWS[rule.longWindow] / BURN_WINDOWS[rule.shortWindow]).toBe(12);
    }
  });

  it("pages at 14.4 over 1 h only while the last 5 minutes burn as fast", () => {
    // 99.9 %: 1.5 % of requests falling back burns 15×.
    const fast = burnRate(150, 10_000, 0.999)!;
    expect(firingBurnAlerts({ "5m": fast, "1h": fast }).map((a) => a.name)).toEqual(["FastBurn"]);
    // The incident is over: the hour still burns, the last 5 minutes do not.
    expect(firingBurnAlerts({ "5m": 0.5, "1h": fast })).toEqual([]);
    // A 5-minute spike does not page on its own.
    expect(firingBurnAlerts({ "5m": 100, "1h": 2 })).toEqual([]);
  });

  it("has the Workbook's four rules (table 5-8): 14.4 over 1 h, 6 over 6 h, 3 over 1 day, 1 over 3 days", () => {
    expect(BURN_ALERT_RULES.map((r) => [r.name, r.severity, r.burnRate, r.longWindow, r.shortWindow, r.budgetSpent])).toEqual([
      ["FastBurn", "page", 14.4, "1h", "5m", 0.02],
      ["SlowBurn", "page", 6, "6h", "30m", 0.05],
      ["BudgetBurn", "ticket", 3, "1d", "2h", 0.1],
      ["LongBudgetBurn", "ticket", 1, "3d", "6h", 0.1],
    ]);
    expect(BURN_WINDOWS["3d"]).toBe(3 * 86_400);
  });

  it("break test: tickets a steady 2.5× burn over 3 days (the 1-day rule at 3× never saw it), not a burn within budget", () => {
    const steady = (burn: number) => Object.fromEntries(Object.keys(BURN_WINDOWS).map((w) => [w, burn]));
    // 0.25 % of requests falling back at 99.9 %: 2.5× for three days spends a quarter of the 30-day budget.
    const leak = burnRate(25, 10_000, 0.999)!;
    expect(leak).toBe(2.5);
    expect(firingBurnAlerts(steady(leak)).map((a) => [a.name, a.severity, a.longWindow, a.shortWindow])).toEqual([["LongBudgetBurn", "ticket", "3d", "6h"]]);
    expect(firingBurnAlerts(steady(0.8))).toEqual([]);
    expect(firingBurnAlerts(steady(1))).toEqual([]); // strictly faster than the rate
    // The last 6 hours clean: the leak has stopped, the ticket clears.
    expect(firingBurnAlerts({ ...steady(leak), "6h": 0.2 })).toEqual([]);
  });

  it("pages at 6 over 6 h and tickets at 3 over 1 day", () => {
    const all = firingBurnAlerts({ "5m": 7, "30m": 7, "1h": 7, "2h": 7, "6h": 7, "1d": 7, "3d": 7 });
    expect(all.map((a) => [a.name, a.severity])).toEqual([["SlowBurn", "page"], ["BudgetBurn", "ticket"], ["LongBudgetBurn", "ticket"]]);
    expect(firingBurnAlerts({ "2h": 3.5, "1d": 3.5, "6h": 3.5, "30m": 3.5 }).map((a) => a.name)).toEqual(["BudgetBurn"]);
    expect(firingBurnAlerts({ "2h": 3, "1d": 3 })).toEqual([]); // strictly faster than the rate
  });

  it("never fires without traffic", () => {
    expect(firingBurnAlerts({ "5m": null, "1h": 50 })).toEqual([]);
    expect(firingBurnAlerts({})).toEqual([]);
  });
});
