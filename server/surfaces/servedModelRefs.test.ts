import { describe, expect, it } from "vitest";
import { modelsToPrepare, servedModelRefs, type ModelRef, type RunningExperiment, type SurfaceConfig } from "./configCache";

const ref = (version: number, alias = `v${version}`): ModelRef => ({ alias, versionId: `version-${version}`, version });

function config(overrides: Partial<SurfaceConfig>): SurfaceConfig {
  return {
    id: "s", key: "search", constraints: {}, timeoutMs: 50, sloLatencyP99Ms: 50, defaultTopK: 10, maxCandidates: 1000, killSwitch: false, modelName: "m",
    primary: null, fallback: null, shadow: null, shadowSampleRate: 0, rollout: null, stage2: null, experiments: [], fingerprint: "", ...overrides,
  };
}

function experiment(models: Array<ModelRef | null>): RunningExperiment {
  return {
    id: "e", key: "exp", kind: "ab", phase: 1, seed: "s", hashVersion: 2, hashAttribute: "userKey", coverage: 1, namespace: null, targeting: [],
    variants: models.map((model, i) => ({ key: `arm-${i}`, weight: 1 / models.length, isControl: i === 0, model, constraints: {} })),
  };
}

describe("servedModelRefs: every version a config may score a request with, once", () => {
  it("lists primary, fallback, shadow, canary, stage 2 and every running experiment's arms", () => {
    const refs = servedModelRefs(config({
      primary: ref(1, "production"), fallback: ref(2, "fallback"), shadow: ref(3, "shadow"),
      rollout: { id: "r", percent: 5, canary: ref(4, "canary-search") },
      stage2: { model: "ce", alias: "production", ref: ref(5), rerankCount: 20, budgetMs: 100 },
      experiments: [experiment([ref(1, "production"), ref(6)]), experiment([null, ref(7)])],
    }));
    expect(refs.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("names a version once when several roles share it (an arm on the production version, a shadow equal to the canary)", () => {
    const refs = servedModelRefs(config({ primary: ref(1, "production"), shadow: ref(2, "shadow"), rollout: { id: "r", percent: 5, canary: ref(2, "canary-search") }, experiments: [experiment([ref(1), ref(1, "production")])] }));
    expect(refs).toEqual([ref(1, "production"), ref(2, "shadow")]);
  });

  it("is empty for a surface with no model (retrieval order only)", () => {
    expect(servedModelRefs(config({ stage2: { model: "gone", alias: "production", ref: null, rerankCount: 20, budgetMs: 100 } }))).toEqual([]);
  });
});

describe("modelsToPrepare: what a (re)loaded config waits for before it serves", () => {
  it("every served model while the surface serves models", () => {
    const live = config({ primary: ref(1, "production"), rollout: { id: "r", percent: 5, canary: ref(2, "canary-search") } });
    expect(modelsToPrepare(live)).toEqual(servedModelRefs(live));
  });

  it("nothing while the kill switch is on: a kill switch never waits for a canary still opening", () => {
    expect(modelsToPrepare(config({ killSwitch: true, primary: ref(1, "production"), rollout: { id: "r", percent: 5, canary: ref(2, "canary-search") } }))).toEqual([]);
  });
});
