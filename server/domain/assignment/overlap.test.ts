import { describe, expect, it } from "vitest";
import { trafficTaken, type Reach } from "./overlap";

const all: Reach = { hashAttribute: "userKey", coverage: 1, namespace: null, targetingRules: 0 };

describe("trafficTaken", () => {
  it("an earlier experiment on all the traffic takes every unit of a later one", () => {
    expect(trafficTaken(all, all)).toBe("all");
    expect(trafficTaken(all, { ...all, coverage: 0.3, targetingRules: 2 })).toBe("all");
    expect(trafficTaken(all, { ...all, namespace: { id: "ns", start: 0, end: 0.5 } })).toBe("all");
    // A namespace of the same id whose range holds the later one's.
    expect(trafficTaken({ ...all, namespace: { id: "ns", start: 0, end: 0.6 } }, { ...all, namespace: { id: "ns", start: 0.1, end: 0.5 } })).toBe("all");
  });

  it("coverage, targeting, another unit or a partial namespace leave the later one part of its traffic", () => {
    expect(trafficTaken({ ...all, coverage: 0.5 }, all)).toBe("some");
    expect(trafficTaken({ ...all, targetingRules: 1 }, all)).toBe("some");
    expect(trafficTaken({ ...all, hashAttribute: "sessionKey" }, all)).toBe("some");
    expect(trafficTaken({ ...all, namespace: { id: "ns", start: 0, end: 0.5 } }, all)).toBe("some");
    expect(trafficTaken({ ...all, namespace: { id: "ns", start: 0, end: 0.5 } }, { ...all, namespace: { id: "ns", start: 0.4, end: 1 } })).toBe("some");
    expect(trafficTaken({ ...all, namespace: { id: "a", start: 0, end: 1 } }, { ...all, namespace: { id: "b", start: 0, end: 1 } })).toBe("some");
  });

  it("disjoint ranges of one namespace never share a unit", () => {
    expect(trafficTaken({ ...all, namespace: { id: "ns", start: 0, end: 0.5 } }, { ...all, namespace: { id: "ns", start: 0.5, end: 1 } })).toBe("none");
    expect(trafficTaken({ ...all, namespace: { id: "ns", start: 0.5, end: 1 } }, { ...all, namespace: { id: "ns", start: 0, end: 0.5 } })).toBe("none");
  });
});
