import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { carriedTotals, type MetricJson } from "./carriedMetrics";

// Two "workers" as prom-client sees them: their registries' JSON, as /api/metrics gathers it.
async function worker(requests: number, latencies: number[], inFlight: number): Promise<MetricJson[]> {
  const registry = new Registry();
  const counter = new Counter({ name: "t_requests_total", help: "requests", labelNames: ["surface"], registers: [registry] });
  const histogram = new Histogram({ name: "t_latency_seconds", help: "latency", buckets: [0.01, 0.1], registers: [registry] });
  const gauge = new Gauge({ name: "t_in_flight", help: "in flight", registers: [registry] });
  counter.inc({ surface: "search" }, requests);
  counter.inc({ surface: "home" }, 1);
  for (const l of latencies) histogram.observe(l);
  gauge.set(inFlight);
  return (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
}

const sample = (text: string, line: string) => Number(text.split("\n").find((l) => l.startsWith(`${line} `))?.split(" ")[1]);

describe("carriedTotals", () => {
  it("sums counters and histograms series by series, and leaves gauges out", async () => {
    const carried = carriedTotals([await worker(50, [0.005, 0.05], 3), null, await worker(40, [0.5], 2), "not metrics"]);
    expect(carried.map((m) => m.name).sort()).toEqual(["t_latency_seconds", "t_requests_total"]);
    const text = await AggregatorRegistry.aggregate([carried as never]).metrics();
    expect(sample(text, 't_requests_total{surface="search"}')).toBe(90);
    expect(sample(text, 't_requests_total{surface="home"}')).toBe(2);
    expect(sample(text, 't_latency_seconds_bucket{le="0.01"}')).toBe(1);
    expect(sample(text, 't_latency_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(sample(text, "t_latency_seconds_count")).toBe(3);
    expect(sample(text, "t_latency_seconds_sum")).toBeCloseTo(0.555, 12);
    expect(text).not.toContain("t_in_flight");
  });

  it("keeps a cluster's sum from falling when a worker is replaced (break test: 100, then 90)", async () => {
    // Before: workers 1 and 2 answered 50 each. Worker 2 is killed; its successor has served 0, worker 1 now 70.
    const before = await AggregatorRegistry.aggregate([await worker(50, [], 0), await worker(50, [], 0)] as never).metrics();
    const lastOfKilled = await worker(50, [], 0);
    const after = await AggregatorRegistry.aggregate([await worker(70, [], 0), await worker(0, [], 1), carriedTotals([lastOfKilled])] as never).metrics();
    expect(sample(before, 't_requests_total{surface="search"}')).toBe(100);
    expect(sample(after, 't_requests_total{surface="search"}')).toBe(120);
    expect(sample(after, "t_in_flight")).toBe(1); // the gone worker's gauge is not carried
  });

  it("carries nothing from nothing", () => {
    expect(carriedTotals([])).toEqual([]);
    expect(carriedTotals([null, undefined, 3, [{ nope: true }]])).toEqual([]);
  });
});
