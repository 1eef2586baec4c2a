import { describe, expect, it } from "vitest";
import { removeLine, waitLine } from "./embeddedGuard";

describe("waitLine", () => {
  it("tells the guard the process to wait for, its start time ('-' unknown) and whole seconds", () => {
    expect(waitLine(123, 4567, 35_000)).toBe("wait 123 4567 35\n");
    expect(waitLine(123, null, 1)).toBe("wait 123 - 1\n");
    expect(waitLine(7, 8, -5)).toBe("wait 7 8 0\n");
  });
  it("refuses a pid that is not a positive integer, naming it", () => {
    expect(() => waitLine(0, 1, 1)).toThrow("pid: a positive integer, got 0");
    expect(() => waitLine(1.5, 1, 1)).toThrow(/^pid: /);
  });
});

describe("removeLine", () => {
  it("tells the guard an absolute folder to remove, and refuses anything else, naming it", () => {
    expect(removeLine("/tmp/rerank-pg-abc")).toBe("remove /tmp/rerank-pg-abc\n");
    expect(removeLine("/tmp/a folder")).toBe("remove /tmp/a folder\n");
    for (const bad of ["relative", "/", "//", "/tmp/x\nremove /", ""]) expect(() => removeLine(bad)).toThrow(/^folder: an absolute path other than \/ without line breaks, got /);
  });
});
