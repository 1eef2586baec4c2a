import { describe, expect, it } from "vitest";
import { percentileGuardrail } from "./guardrails";

describe("percentileGuardrail", () => {
  const rise20 = { direction: "increase" as const, threshold: 0.2 };
  it("flags a treatment whose p95 rises past the threshold", () => {
    expect(percentileGuardrail(rise20, { p95: 10, requests: 500 }, [{ p95: 12.5, requests: 500 }])).toBe("violated");
    expect(percentileGuardrail(rise20, { p95: 10, requests: 500 }, [{ p95: 11.9, requests: 500 }])).toBe("ok");
    // The worst treatment decides.
    expect(percentileGuardrail(rise20, { p95: 10, requests: 500 }, [{ p95: 9, requests: 500 }, { p95: 13, requests: 500 }])).toBe("violated");
  });
  it("guards a fall when asked to", () => {
    expect(percentileGuardrail({ direction: "decrease", threshold: 0.1 }, { p95: 10, requests: 500 }, [{ p95: 8, requests: 500 }])).toBe("violated");
    expect(percentileGuardrail({ direction: "decrease", threshold: 0.1 }, { p95: 10, requests: 500 }, [{ p95: 30, requests: 500 }])).toBe("ok");
  });
  it("does not judge thin or missing data", () => {
    expect(percentileGuardrail(rise20, null, [{ p95: 50, requests: 500 }])).toBe("no data");
    expect(percentileGuardrail(rise20, { p95: 10, requests: 50 }, [{ p95: 50, requests: 500 }])).toBe("no data");
    expect(percentileGuardrail(rise20, { p95: 10, requests: 500 }, [{ p95: 50, requests: 10 }, null])).toBe("no data");
    expect(percentileGuardrail(rise20, { p95: 0, requests: 500 }, [{ p95: 50, requests: 500 }])).toBe("no data");
  });
});
