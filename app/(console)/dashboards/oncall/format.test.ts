import { describe, expect, it } from "vitest";
import { describeBurnAlertRules, formatBurn, formatObjective } from "./format";

describe("formatBurn", () => {
  it("break test: a burn of 14.45 read \"14\" beside \"fires over 14.4×\"; it reads 14.45", () => {
    expect(formatBurn(14.45)).toBe("14.45");
    expect(formatBurn(14.36)).toBe("14.36");
    expect(formatBurn(14.4)).toBe("14.4");
    expect(formatBurn(14.4001)).toBe("14.4001");
  });

  it("writes two decimals below 10, one below 1,000, none above, more only near a threshold", () => {
    expect(formatBurn(0)).toBe("0.00");
    expect(formatBurn(2.5)).toBe("2.50");
    expect(formatBurn(6)).toBe("6.00");
    expect(formatBurn(5.999)).toBe("5.999");
    expect(formatBurn(1.001)).toBe("1.001");
    expect(formatBurn(19.6)).toBe("19.6");
    expect(formatBurn(200)).toBe("200.0");
    expect(formatBurn(1000)).toBe("1000");
    expect(formatBurn(null)).toBe("—");
  });
});

describe("formatObjective", () => {
  it("break test: 99.95 %, 99.99 % and 99.999 % read \"100.0%\"; they read with the digits they have", () => {
    expect(formatObjective(0.9995)).toBe("99.95%");
    expect(formatObjective(0.9999)).toBe("99.99%");
    expect(formatObjective(0.99999)).toBe("99.999%");
    expect(formatObjective(0.999)).toBe("99.9%");
    expect(formatObjective(0.99)).toBe("99.0%");
  });
});

describe("describeBurnAlertRules", () => {
  it("lists the rules of server/domain/stats/slo.ts, the 3-day ticket included", () => {
    expect(describeBurnAlertRules()).toBe("page: 14.4× over 1 h and 5 min, 6× over 6 h and 30 min · ticket: 3× over 1 day and 2 h, 1× over 3 days and 6 h");
  });
});
