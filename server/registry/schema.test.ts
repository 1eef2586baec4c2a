import { describe, expect, it } from "vitest";
import { demoFeatureSpec } from "../demo/models";
import { describeDistribution } from "../domain/features/drift";
import { createRng } from "../domain/random";
import { describeZodError } from "../validation";
import { uploadFieldsSchema } from "./schema";

// The feature spec an upload takes (break test: contradictory or unusable fields were stored, 201, none named).

const feature = { name: "ctr_7d", source: "item", default: 0.05 };
const range = { mean: 0.5, std: 0.2, min: 0, max: 1 };
/** The upload's message for a one-feature spec (`featureSpec` is the form field), or null when it is taken. */
const problem = (f: Record<string, unknown>) => {
  const parsed = uploadFieldsSchema.safeParse({ featureSpec: [f] });
  return parsed.success ? null : describeZodError(parsed.error);
};

describe("featureSpec", () => {
  it("refuses contradictory or unusable fields, naming each", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...feature, distribution: { ...range, min: 5, max: 1, mean: 3 } }, "featureSpec[0].distribution.min: 5 is above max (1)"],
      [{ ...feature, distribution: { ...range, mean: 100 } }, "featureSpec[0].distribution.mean: 100 lies outside [min, max] = [0, 1]"],
      [{ ...feature, distribution: { ...range, std: 0 } }, "featureSpec[0].distribution.std: 0, yet the values range over [0, 1]: values that vary have a positive sd"],
      [{ ...feature, distribution: { mean: 1, std: 0.5, min: 1, max: 1 } }, "featureSpec[0].distribution.std: 0.5, yet min equals max (1): a constant has sd 0"],
      [
        { ...feature, distribution: { ...range, kind: "quantiles", edges: [10, 20, 30, 40, 50, 60, 70, 80, 90], shares: new Array(10).fill(0.1) } },
        "featureSpec[0].distribution.edges[0]: 10 is above max (1), yet the bin above it holds a share of 0.1 of the training values",
      ],
      [
        { ...feature, distribution: { ...range, kind: "quantiles", edges: [-3, -2], shares: [0.5, 0.5, 0] } },
        "featureSpec[0].distribution.edges[0]: -3 is at or below min (0), yet the bin below it holds a share of 0.5 of the training values",
      ],
      [{ ...feature, distribution: { ...range, kind: "categories", values: [5, 7], shares: [0.5, 0.5] } }, "featureSpec[0].distribution.values[0]: 5 lies outside [min, max] = [0, 1]"],
      [{ ...feature, distribution: { ...range, kind: "quantiles", edges: [], shares: [1] } }, "featureSpec[0].distribution.edges: at least one edge: a single bin holds every value, so drift could never show"],
      [
        { ...feature, distribution: { ...range, kind: "quantiles", edges: [0, 0.3, 0.6, 1.000002], shares: [0, 0.5, 0, 0.5, 0] } },
        "featureSpec[0].distribution.shares[2]: 0 for bin 2, within the training range [0, 1]: no training value fell in it, so one served value there reads as drift; merge it with a neighbour",
      ],
      [
        { ...feature, distribution: { ...range, kind: "categories", values: [0, 0.5, 1], shares: [0.5, 0, 0.5] } },
        "featureSpec[0].distribution.shares[1]: 0 for the category 0.5: no training row took it; leave it out (a served value that training never took already counts as unseen)",
      ],
      [
        { ...feature, distribution: { ...range, kind: "categories", values: [0.1, 0.1 + 1e-12], shares: [0.5, 0.5] } },
        "featureSpec[0].distribution.values[1]: values must be distinct and ascending (as float32, the precision the model reads)",
      ],
      [{ ...feature, name: "   " }, "featureSpec[0].name: is blank: name the feature"],
      [{ ...feature, name: "ctr_7d " }, 'featureSpec[0].name: "ctr_7d " has leading or trailing whitespace: a request or the store would have to send it exactly so'],
      [
        { name: "retrieval_score", source: "candidate", default: 0, freshnessSeconds: 3600 },
        "featureSpec[0].freshnessSeconds: a candidate feature comes with each request and is never stale: freshnessSeconds applies to item and user features",
      ],
    ];
    for (const [f, message] of cases) expect(problem(f)).toBe(message);
  });

  it("takes the demo spec, specs describeDistribution makes (empty bins below min and above max), old mean/sd specs and a candidate with freshnessSeconds null", () => {
    expect(uploadFieldsSchema.safeParse({ featureSpec: demoFeatureSpec() }).success).toBe(true);
    const rng = createRng(3);
    for (const values of [
      Array.from({ length: 2000 }, () => rng.normal()),
      Array.from({ length: 2000 }, () => (rng.next() < 0.97 ? 0 : rng.next() * 100)),
      Array.from({ length: 2000 }, () => (rng.next() < 0.4 ? 0.7 : Math.round(rng.next() * 1000) / 1000)),
      Array.from({ length: 12 }, (_, i) => i * i),
      [...new Array<number>(40).fill(0), ...Array.from({ length: 19 }, (_, i) => 5 + i / 1000), 9.9, ...new Array<number>(40).fill(10)],
      Array.from({ length: 500 }, () => (rng.next() < 0.3 ? 1 : 0)),
    ]) {
      expect(problem({ ...feature, distribution: describeDistribution(values) })).toBeNull();
    }
    expect(problem({ ...feature, distribution: range })).toBeNull();
    expect(problem({ name: "retrieval_score", source: "candidate", default: 0, freshnessSeconds: null })).toBeNull();
  });

  it("takes a constant feature's mean and sd with floating-point rounding noise, and still refuses real contradictions (review: exact comparisons refused them)", () => {
    // describeDistribution([0.1, 0.1, 0.1]): mean 0.10000000000000002 > max 0.1, sd 1.4e-17.
    const three = describeDistribution([0.1, 0.1, 0.1])!;
    expect(three.mean).toBeGreaterThan(three.max);
    expect(three.std).toBeGreaterThan(0);
    expect(problem({ ...feature, distribution: three })).toBeNull();
    // numpy: np.full(1000, 0.7).mean() is 0.6999999999999998 < min, .std() 1.1e-16; and a large constant's.
    expect(problem({ ...feature, distribution: { mean: 0.6999999999999998, std: 1.1102230246251565e-16, min: 0.7, max: 0.7 } })).toBeNull();
    expect(problem({ ...feature, distribution: { mean: 0.6999999999999998, std: 1.1102230246251565e-16, min: 0.7, max: 0.7, kind: "categories", values: [0.7], shares: [1] } })).toBeNull();
    expect(problem({ ...feature, distribution: { mean: 1000000.0999999995, std: 4.656612873077393e-10, min: 1000000.1, max: 1000000.1 } })).toBeNull();
    // Beyond rounding: refused as before.
    expect(problem({ ...feature, distribution: { mean: 0.100001, std: 0, min: 0.1, max: 0.1 } })).toBe("featureSpec[0].distribution.mean: 0.100001 lies outside [min, max] = [0.1, 0.1]");
    expect(problem({ ...feature, distribution: { mean: 0.1, std: 1e-6, min: 0.1, max: 0.1 } })).toBe("featureSpec[0].distribution.std: 0.000001, yet min equals max (0.1): a constant has sd 0");
    expect(problem({ ...feature, distribution: { ...range, mean: 1 + 1e-6 } })).toBe("featureSpec[0].distribution.mean: 1.000001 lies outside [min, max] = [0, 1]");
  });
});

