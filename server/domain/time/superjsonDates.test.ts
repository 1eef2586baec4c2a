import superjson from "superjson";
import { describe, expect, it } from "vitest";
import { strictSuperjsonDates } from "./superjsonDates";

type Envelope = Parameters<typeof superjson.deserialize>[0];
const read = (json: unknown, values: unknown) => superjson.deserialize<Record<string, unknown>>(strictSuperjsonDates({ json, meta: { values } } as Envelope));
const valid = (d: unknown) => d instanceof Date && !Number.isNaN(d.getTime());

describe("strictSuperjsonDates", () => {
  it("turns the text of a tagged Date that is not strict ISO 8601 into an Invalid Date", () => {
    for (const loose of ["12", "2026-02-30", "2026-11-28T14:02:00", "2026-11-28T14:02:00Z\u0000", "Nov 28 2026", ""]) {
      expect(valid(read({ at: loose }, { at: ["Date"] }).at)).toBe(false);
    }
  });

  it("keeps strict ISO 8601 and what superjson itself writes, at nested, escaped and array paths", () => {
    const sent = { at: new Date("2026-11-28T14:02:00.123Z"), filter: { from: new Date(0) }, "a.b": [new Date(86_400_000)] };
    const back = superjson.deserialize<typeof sent>(strictSuperjsonDates(superjson.serialize(sent)));
    expect(back).toEqual(sent);
    expect(read({ at: "2026-11-28" }, { at: ["Date"] }).at).toEqual(new Date("2026-11-28T00:00:00Z"));
    expect(read({ at: "2026-11-28T15:02+01:00" }, { at: ["Date"] }).at).toEqual(new Date("2026-11-28T14:02:00Z"));
  });

  it("checks nested, escaped and array paths and a tagged root, and leaves the payload unchanged", () => {
    const json = { filter: { from: "12" }, "a.b": ["2026-02-30", "2026-01-01"] };
    const payload = { json, meta: { values: { "filter.from": ["Date"], "a\\.b.0": ["Date"], "a\\.b.1": ["Date"] } } } as Envelope;
    const back = superjson.deserialize<{ filter: { from: Date }; "a.b": Date[] }>(strictSuperjsonDates(payload));
    expect([valid(back.filter.from), valid(back["a.b"][0]), valid(back["a.b"][1])]).toEqual([false, false, true]);
    expect(json).toEqual({ filter: { from: "12" }, "a.b": ["2026-02-30", "2026-01-01"] });
    expect(valid(superjson.deserialize(strictSuperjsonDates({ json: "12", meta: { values: ["Date"] } } as Envelope)))).toBe(false);
  });

  it("passes envelopes without Dates through as they are", () => {
    const payload = { json: { n: null }, meta: { values: { n: ["undefined"] } } } as Envelope;
    expect(strictSuperjsonDates(payload)).toBe(payload);
    expect(strictSuperjsonDates({ json: { a: 1 } } as Envelope)).toEqual({ json: { a: 1 } });
  });
});
