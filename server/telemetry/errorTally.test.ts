import { describe, expect, it } from "vitest";
import { attributedSurface, UNATTRIBUTED_SURFACE } from "./errorTally";

// The label of a rerank 5xx (rerank_requests_total{outcome="error"}, rerank_errors) is always one the
// server's own config produced: a caller cannot mint label values by naming surfaces during an outage.

const known = (surface: string) => surface === "search";

describe("attributedSurface", () => {
  it("charges a surface the client named only when the server's config knows it", () => {
    expect(attributedSurface({ named: "search" }, known)).toBe("search");
    expect(attributedSurface({ named: "made-up-1" }, known)).toBe(UNATTRIBUTED_SURFACE);
    expect(attributedSurface({ named: "made-up-1" }, known)).toBe("unattributed");
  });

  it("charges a surface resolved from the database; an answer given before any surface is unattributed", () => {
    expect(attributedSurface({ resolved: "docs-search" }, known)).toBe("docs-search");
    expect(attributedSurface(undefined, known)).toBe(UNATTRIBUTED_SURFACE);
  });
});
