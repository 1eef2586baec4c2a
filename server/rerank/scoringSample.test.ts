import { afterEach, describe, expect, it, vi } from "vitest";
import type { ScoringSampleInput } from "./scoringSample";

// The record stage's sample, deferred past the response: nothing awaits it, so nothing it throws may escape.

const enqueue = vi.fn();
vi.mock("../telemetry/streams", () => ({ telemetry: () => ({ enabled: true, scoringSamples: { enqueue } }) }));
vi.mock("../inference/sessions", () => ({ openModel: () => Promise.resolve({ featureSpec: [] }) }));
const { keepScoringRows } = await import("./scoringSample");

afterEach(() => vi.restoreAllMocks());

describe("keepScoringRows", () => {
  it("a row the writer refuses (enqueue throws) is logged, not an unhandled rejection (review: Node 20 ends the process)", async () => {
    enqueue.mockImplementation(() => {
      throw new Error("row refused");
    });
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const input = {
        request: { candidates: [] }, response: { requestId: "r-1", surface: "search", modelVersion: null, items: [], timings: {} },
        ts: new Date(), items: new Map(), user: undefined, always: true,
      } as unknown as ScoringSampleInput;
      keepScoringRows(input);
      for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(enqueue).toHaveBeenCalledTimes(1);
      expect(unhandled).not.toHaveBeenCalled();
      expect(logged).toHaveBeenCalledWith(expect.stringMatching(/^\[rerank\] a scoring sample was not kept: .*row refused/));
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });
});
