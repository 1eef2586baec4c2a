import { describe, expect, it } from "vitest";
import { parseIsoInstant } from "./isoInstant";

describe("parseIsoInstant", () => {
  it("reads a calendar date as midnight UTC and a date-time by its offset", () => {
    expect(parseIsoInstant("2026-11-28")?.toISOString()).toBe("2026-11-28T00:00:00.000Z");
    expect(parseIsoInstant("2026-11-28T14:02Z")?.toISOString()).toBe("2026-11-28T14:02:00.000Z");
    expect(parseIsoInstant("2026-11-28T14:02:05.123456+01:30")?.toISOString()).toBe("2026-11-28T12:32:05.123Z");
    expect(parseIsoInstant("2026-11-28T00:30:00-02:00")?.toISOString()).toBe("2026-11-28T02:30:00.000Z");
    expect(parseIsoInstant("2024-02-29")?.toISOString()).toBe("2024-02-29T00:00:00.000Z");
    expect(parseIsoInstant("0099-01-01")?.toISOString()).toBe("0099-01-01T00:00:00.000Z");
  });

  it("refuses what new Date() accepts loosely: a bare number, a day that does not exist, a trailing NUL, no offset", () => {
    for (const loose of ["12", "2026-02-30", "2025-02-29", "2026-11-28\u0000", "2026-11-28T14:02", "2026-11-28 14:02Z", "2026-13-01", "2026-11-28T24:00Z",
      "2026-11-28T14:60Z", "2026-11-28T14:02+24:00", "Nov 28 2026", "", " 2026-11-28", "2026-11-28T14:02:05.Z", "+002026-11-28"]) {
      expect(parseIsoInstant(loose), JSON.stringify(loose)).toBeNull();
    }
  });
});
