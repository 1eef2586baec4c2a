import { describe, expect, it } from "vitest";
import { perRequestMicros } from "./cpuAccounting";

describe("perRequestMicros", () => {
  it("sums PostgreSQL's CPU per backend: a new connection counts from zero, a closed one does not make the figure negative", () => {
    const before = { server: 10, postgres: new Map([[101, 5], [102, 3]]) };
    // 102 closed (idle timeout), 103 opened during the load, 101 worked 0.2 s.
    const after = { server: 10.5, postgres: new Map([[101, 5.2], [103, 0.3]]) };
    const perRequest = perRequestMicros(before, after, 1000);
    expect(perRequest.server).toBeCloseTo(500, 6);
    expect(perRequest.postgres).toBeCloseTo(500, 6);
  });
});
