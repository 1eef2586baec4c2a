import { parseCronItems } from "graphile-worker";
import { describe, expect, it } from "vitest";
import { SCHEDULES } from "./schedules";
import { TASKS } from "./tasks";

describe("the console's crontab", () => {
  it("names known tasks with valid crontab patterns and unique identifiers", () => {
    for (const s of SCHEDULES) expect(Object.keys(TASKS)).toContain(s.task);
    expect(() => parseCronItems(SCHEDULES.map((s) => ({ task: s.task, match: s.match, identifier: s.identifier ?? s.task })))).not.toThrow();
    const ids = SCHEDULES.map((s) => s.identifier ?? s.task);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("runs retention daily", () => {
    expect(SCHEDULES.find((s) => s.task === "retention.run")).toMatchObject({ match: "15 3 * * *" });
  });
});
