import { describe, expect, it } from "vitest";
import { FairShareAdmission, refusalMessage, type Ticket } from "./fairShare";

const admitMany = (admission: FairShareAdmission, caller: string, n: number): Ticket[] => {
  const tickets: Ticket[] = [];
  for (let i = 0; i < n; i++) {
    const { ticket } = admission.admit(caller);
    if (!ticket) break;
    tickets.push(ticket);
  }
  return tickets;
};

describe("FairShareAdmission", () => {
  it("refuses nobody below half of capacity, then a lone caller up to capacity", () => {
    const admission = new FairShareAdmission(8);
    expect(admitMany(admission, "flood", 100)).toHaveLength(8);
    expect(admission.admit("flood").refusal).toEqual({ reason: "caller_share", inFlight: 8, share: 8, callers: 1 });
  });

  it("admits another caller at once while the one that filled the capacity is refused until under its share", () => {
    const admission = new FairShareAdmission(8);
    const flood = admitMany(admission, "flood", 100);
    const light = admission.admit("light");
    expect(light.ticket).toBeDefined();
    // Two callers: shares of 4; the flooder holds 8.
    expect(admission.admit("flood").refusal).toEqual({ reason: "caller_share", inFlight: 8, share: 4, callers: 2 });
    for (const t of flood.slice(0, 4)) t.release();
    expect(admission.admit("flood").refusal).toMatchObject({ reason: "caller_share", inFlight: 4 });
    flood[4]!.release();
    expect(admission.admit("flood").ticket).toBeDefined();
    // The light caller may go up to its share too.
    expect(admitMany(admission, "light", 100)).toHaveLength(3);
    expect(admission.inFlight("light")).toBe(4);
  });

  it("admits callers under their share past capacity, up to twice it; then refuses everyone (503)", () => {
    const admission = new FairShareAdmission(4);
    admitMany(admission, "a", 4);
    // 4 in flight: b's share is 2, c's (three callers) 1, …
    expect(admitMany(admission, "b", 10)).toHaveLength(2);
    expect(admitMany(admission, "c", 10)).toHaveLength(1);
    expect(admitMany(admission, "d", 10)).toHaveLength(1);
    expect(admission.inFlight()).toBe(8);
    expect(admission.admit("e").refusal).toEqual({ reason: "capacity", inFlight: 8 });
  });

  it("uses idle capacity: below half of it, a caller over its nominal share is admitted", () => {
    const admission = new FairShareAdmission(64);
    for (let i = 0; i < 10; i++) admission.admit(`caller-${i}`);
    // Ten callers: shares of 6, but 10 of 64 in flight is idle capacity.
    expect(admitMany(admission, "caller-0", 100)).toHaveLength(22); // until 32 in all (half), then its share (6) stops it
    expect(admission.inFlight()).toBe(32);
  });

  it("releases once, and forgets a caller with nothing in flight", () => {
    const admission = new FairShareAdmission(4);
    const { ticket } = admission.admit("a");
    ticket!.release();
    ticket!.release();
    expect([admission.inFlight(), admission.callers]).toEqual([0, 0]);
  });

  it("refuses a capacity that is not an integer ≥ 2", () => {
    expect(() => new FairShareAdmission(1)).toThrow("capacity: an integer ≥ 2, got 1");
    expect(() => new FairShareAdmission(2.5)).toThrow(RangeError);
  });

  it("says what the caller holds, its share and what to do", () => {
    expect(refusalMessage({ reason: "caller_share", inFlight: 8, share: 4, callers: 2 }, 1)).toBe("caller: 8 of your requests are in flight, your share of this server while 2 callers send at once (4); retry in 1 s or send fewer at once");
    expect(refusalMessage({ reason: "capacity", inFlight: 128 }, 1)).toBe("the server has 128 serving requests in flight, the most it takes at once (twice RERANK_MAX_IN_FLIGHT); retry in 1 s");
  });
});
