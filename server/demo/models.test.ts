import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEMO_MODELS, demoFeatureSpec, demoModelBytes } from "./models";

describe("committed demo models", () => {
  it("equal what the generator writes (run `npm run models:demo` after changing it)", () => {
    for (const which of Object.keys(DEMO_MODELS) as Array<keyof typeof DEMO_MODELS>) {
      expect(Buffer.from(demoModelBytes(which)).equals(readFileSync(DEMO_MODELS[which].file))).toBe(true);
    }
    expect(JSON.parse(readFileSync("models/demo/feature-spec.json", "utf8"))).toEqual(demoFeatureSpec());
  });
});
