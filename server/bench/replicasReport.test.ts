import { describe, expect, it } from "vitest";
import { lostRequestBound, quantile, replicaAssertions } from "./replicasReport";

const run = { delays: [120, 480, 510, 90], servedA: 1000, loggedA: 1000, status5xx: 0, transportErrors: 0, requestsAcknowledgedByVictim: 40, eventsAcknowledgedByVictim: 30, lostRequests: 0, lostEvents: 0, flushIntervalMs: 200, victimRequestsPerSecond: 39 };

describe("test:replicas verdicts", () => {
  it("takes nearest-rank quantiles, a change never seen counting as infinite", () => {
    expect(quantile([30, 10, 20], 0.5)).toBe(20);
    expect(quantile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99)).toBe(99);
    expect(quantile([5, null], 0.99)).toBe(Infinity);
    expect(quantile([], 0.99)).toBeNull();
  });

  it("passes a run that meets every target", () => {
    expect(replicaAssertions(run).map((a) => a.ok)).toEqual([true, true, true, true, true]);
  });

  it("fails each assertion on its own evidence", () => {
    const slow = replicaAssertions({ ...run, delays: [200, 1200] });
    expect(slow[0]).toMatchObject({ ok: false, detail: "p99 1200 ms over 2 replica × change samples" });
    expect(replicaAssertions({ ...run, delays: [200, null] })[0]!.detail).toContain("never");
    expect(replicaAssertions({ ...run, loggedA: 998 })[1]).toMatchObject({ ok: false, detail: "served 1000, logged 998" });
    expect(replicaAssertions({ ...run, status5xx: 2 })[2]!.ok).toBe(false);
    // One acknowledged event lost fails the run, whatever else held.
    expect(replicaAssertions({ ...run, lostEvents: 1 })[3]).toMatchObject({ ok: false, detail: "lost 1 of 30 events the killed replica acknowledged" });
    // Request rows: up to one flush interval's worth at the measured rate (39 req/s × 200 ms → 8) plus the one sent at the kill.
    expect(lostRequestBound(200, 39)).toBe(9);
    expect(replicaAssertions({ ...run, lostRequests: 9 })[4]!.ok).toBe(true);
    expect(replicaAssertions({ ...run, lostRequests: 10 })[4]).toMatchObject({ ok: false, detail: "lost 10 of 40 requests the killed replica acknowledged; bound 9 = ⌈39.0 req/s × 200 ms⌉ + 1 sent at the kill" });
    // A kill that hit an idle replica proves nothing.
    expect(replicaAssertions({ ...run, eventsAcknowledgedByVictim: 0 })[3]!.ok).toBe(false);
    expect(replicaAssertions({ ...run, requestsAcknowledgedByVictim: 0 })[4]!.ok).toBe(false);
  });
});
