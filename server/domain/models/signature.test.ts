import { describe, expect, it } from "vitest";
import { checkSignature } from "./signature";

const input = (shape: Array<number | string>, type = "float32") => ({ name: "features", isTensor: true, type, shape });
const output = (shape: Array<number | string>) => ({ name: "score", isTensor: true, type: "float32", shape });

describe("checkSignature", () => {
  it("accepts [N, F] in and [N] or [N, 1] out", () => {
    expect(checkSignature([input(["N", 7])], [output(["N", 1])], 7)).toEqual([]);
    expect(checkSignature([input([-1, 7])], [output(["N"])], 7)).toEqual([]);
    expect(checkSignature([input(["N", "F"])], [output(["N", 1])], 7)).toEqual([]);
  });

  it("names each mismatch", () => {
    expect(checkSignature([input(["N", 5])], [output(["N", 1])], 7)).toEqual(['input "features" takes 5 features but the feature spec declares 7']);
    expect(checkSignature([input(["N", 7], "int64")], [output(["N", 1])], 7)[0]).toContain("must be a float32 tensor");
    expect(checkSignature([input([7])], [output(["N", 1])], 7)[0]).toContain("expected [N, 7]");
    expect(checkSignature([input([32, 7])], [output(["N", 1])], 7)[0]).toContain("fixed batch size 32");
    expect(checkSignature([input(["N", 7])], [output(["N", 3])], 7)[0]).toContain("expected [N] or [N, 1]");
    expect(checkSignature([input(["N", 7]), input(["N", 7])], [output(["N"])], 7)[0]).toContain("has 2 inputs");
    expect(checkSignature([input(["N", 7])], [], 7)).toEqual(["the model has no output"]);
  });
});
