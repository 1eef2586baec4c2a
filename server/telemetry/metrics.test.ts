import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics";

describe("createMetrics", () => {
  it("exports Node's process metrics under their standard names (they were rerank_process_process_*)", async () => {
    const names = (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain("process_cpu_user_seconds_total");
    expect(names).toContain("process_resident_memory_bytes");
    expect(names).toContain("nodejs_heap_size_used_bytes");
    expect(names.filter((n) => /process_process|^rerank_process_|^rerank_nodejs_/.test(n))).toEqual([]);
    // Ours keep their prefix.
    expect(names).toContain("rerank_requests_total");
  });
});
