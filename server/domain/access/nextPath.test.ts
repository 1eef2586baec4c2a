import { describe, expect, it } from "vitest";
import { safeNextPath } from "./nextPath";

describe("safeNextPath", () => {
  it("keeps a path of the console with its query", () => {
    expect(safeNextPath("/dashboards/oncall?hours=6")).toBe("/dashboards/oncall?hours=6");
    expect(safeNextPath("/models")).toBe("/models");
  });

  it("sends every other destination home (open redirect)", () => {
    for (const next of ["/\\evil.example/phish", "//evil.example", "https://evil.example", "/%5Cevil", "\\\\evil", "/\tevil", "javascript:alert(1)", "", undefined, null, "evil.example"]) {
      expect([next, safeNextPath(next)]).toEqual([next, next === "/%5Cevil" ? "/%5Cevil" : "/"]);
    }
  });
});
