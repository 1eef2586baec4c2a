import { AggregatorRegistry, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics";
import { PER_PROCESS_AGGREGATORS } from "./processMetrics";

// Break test: with WORKERS=2, /api/metrics said process_max_fds 40000 (the sum of two workers'
// limits of 20000) and had no process_start_time_seconds (prom-client omits it when joining).

type Json = MetricObjectWithValues<MetricValue<string>>[];

/**
 * Two "workers'" registries, joined as /api/metrics joins them (clusterMetrics.ts: AggregatorRegistry):
 * ours (createMetrics, which sets the per-process aggregators), or bare prom-client defaults.
 */
async function joined(ours: boolean): Promise<{ parts: Json[]; text: string }> {
  const bare = () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    return registry;
  };
  const registries = ours ? [createMetrics().registry, createMetrics().registry] : [bare(), bare()];
  const parts = (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))) as Json[];
  return { parts, text: await AggregatorRegistry.aggregate(parts).metrics() };
}

const valueOf = (text: string, name: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
};
const single = (parts: Json[], name: string, worker: number) => parts[worker]!.find((m) => m.name === name)?.values[0]?.value;

describe("process metrics joined over the workers", () => {
  it("keeps one process's limit and start time instead of summing or omitting them", async () => {
    const { parts, text } = await joined(true);
    const maxFds = single(parts, "process_max_fds", 0);
    if (maxFds !== undefined) {
      expect(valueOf(text, "process_max_fds")).toBe(Math.min(maxFds, single(parts, "process_max_fds", 1)!));
      expect(valueOf(text, "process_open_fds")).toBe(Math.max(single(parts, "process_open_fds", 0)!, single(parts, "process_open_fds", 1)!));
    }
    const start = valueOf(text, "process_start_time_seconds");
    expect(start).toBe(Math.max(single(parts, "process_start_time_seconds", 0)!, single(parts, "process_start_time_seconds", 1)!));
    expect(start).toBeGreaterThan(1_600_000_000);
    // Amounts are still summed.
    const cpu = valueOf(text, "process_cpu_user_seconds_total")!;
    expect(cpu).toBeCloseTo(single(parts, "process_cpu_user_seconds_total", 0)! + single(parts, "process_cpu_user_seconds_total", 1)!, 6);
  });

  it("without it, prom-client's defaults sum the limit and drop the start time (what the fix changes)", async () => {
    const { parts, text } = await joined(false);
    const maxFds = single(parts, "process_max_fds", 0);
    if (maxFds !== undefined) expect(valueOf(text, "process_max_fds")).toBe(maxFds + single(parts, "process_max_fds", 1)!);
    expect(valueOf(text, "process_start_time_seconds")).toBeUndefined();
  });

  it("names only metrics prom-client registers", () => {
    const { registry } = createMetrics();
    const names = new Set(registry.getMetricsAsArray().map((m) => m.name));
    for (const name of Object.keys(PER_PROCESS_AGGREGATORS)) expect([name, names.has(name) || !name.includes("fds")]).toEqual([name, true]);
    expect(names.has("process_start_time_seconds")).toBe(true);
  });
});
