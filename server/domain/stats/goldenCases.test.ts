import { describe, expect, it } from "vitest";
import golden from "./golden/cases.json";
import { compareMeans } from "./compare";
import { chiSquareUpperTail, normalTwoSidedPValue, studentTQuantile, studentTTwoSidedPValue } from "./distributions";
import { benjaminiHochbergAdjust, holmAdjust } from "./multiple";
import { signTest } from "./signTest";
import { srmCheck } from "./srm";
import { summarizeMean, summarizeProportion, type MeanSummary } from "./summary";

// Golden cases computed once by scipy and statsmodels (golden/generate.py, kept beside the file),
// checked to 1e-6 relative. A case scipy cannot compute (null) must come back without an interval
// or p-value and with the reason, never as a number.

const RELATIVE = 1e-6;
function close(actual: number, expected: number, what: string) {
  const scale = Math.max(Math.abs(expected), Number.MIN_VALUE);
  if (!(Math.abs(actual - expected) <= RELATIVE * scale)) throw new Error(`${what}: ${actual} vs scipy ${expected} (relative error ${Math.abs(actual - expected) / scale})`);
}

interface WelchExpected { pValue: number; t: number; df: number; ci: [number, number]; difference: number }
function checkWelch(name: string, control: MeanSummary, treatment: MeanSummary, expected: WelchExpected | null) {
  const r = compareMeans(control, treatment, { analysis: "fixedHorizon" });
  if (expected === null) {
    expect(r.pValue, name).toBeNaN();
    expect(r.unavailable, name).toMatch(/at least 2 units|no spread/);
    return;
  }
  close(r.pValue, expected.pValue, `${name}: p`);
  close(r.df, expected.df, `${name}: df`);
  close(r.absolute.estimate / r.absolute.se, expected.t, `${name}: t`);
  // The interval's ends can sit near 0, where a relative check is meaningless: compare them on the scale of the half-width.
  const half = (expected.ci[1] - expected.ci[0]) / 2;
  for (const i of [0, 1] as const) expect(Math.abs(r.absolute.ci[i] - expected.ci[i]), `${name}: ci[${i}]`).toBeLessThanOrEqual(RELATIVE * Math.max(half, Math.abs(expected.ci[i])));
}

describe("golden cases from scipy/statsmodels", () => {
  const count = golden.welch.length + golden.proportions.length + golden.srm.length + golden.multiple.length + golden.signTest.length + Object.values(golden.distributions).flat().length;
  it(`has at least 100 cases (${count})`, () => expect(count).toBeGreaterThanOrEqual(100));

  it.each(golden.welch.map((c) => [c.name, c] as const))("Welch: %s", (name, c) => {
    checkWelch(name, summarizeMean(c.control), summarizeMean(c.treatment), c.expected as WelchExpected | null);
  });

  it.each(golden.proportions.map((c) => [c.name, c] as const))("0/1 metric from counts: %s", (name, c) => {
    checkWelch(name, summarizeProportion(c.control.units, c.control.conversions), summarizeProportion(c.treatment.units, c.treatment.conversions), c.expected as WelchExpected | null);
  });

  it.each(golden.srm.map((c) => [c.name, c] as const))("SRM χ²: %s", (name, c) => {
    const r = srmCheck(c.counts, c.weights);
    close(r.chiSquare, c.expected.chiSquare!, `${name}: χ²`);
    close(r.pValue, c.expected.pValue!, `${name}: p`);
    expect(r.df).toBe(c.expected.df);
  });

  it.each(golden.multiple.map((c) => [c.name, c] as const))("Holm and Benjamini–Hochberg (statsmodels): %s", (name, c) => {
    holmAdjust(c.pValues).forEach((p, i) => close(p, c.holm[i]!, `${name}: holm[${i}]`));
    benjaminiHochbergAdjust(c.pValues).forEach((p, i) => close(p, c.benjaminiHochberg[i]!, `${name}: BH[${i}]`));
  });

  it.each(golden.signTest.map((c) => [c.name, c] as const))("sign test (scipy binomtest): %s", (name, c) => {
    close(signTest(c.winsA, c.winsB).pValue, c.pValue!, name);
  });

  it("distribution functions", () => {
    for (const c of golden.distributions.tTwoSided) close(studentTTwoSidedPValue(c.t, c.df), c.p!, `t tail t=${c.t} df=${c.df}`);
    for (const c of golden.distributions.tQuantile) close(studentTQuantile(c.p, c.df), c.q!, `t quantile p=${c.p} df=${c.df}`);
    for (const c of golden.distributions.chiSquareUpper) close(chiSquareUpperTail(c.x, c.df), c.p!, `χ² tail x=${c.x} df=${c.df}`);
    for (const c of golden.distributions.normalTwoSided) close(normalTwoSidedPValue(c.z), c.p!, `normal tail z=${c.z}`);
  });
});
