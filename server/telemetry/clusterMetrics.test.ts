import { describe, expect, it } from "vitest";
import { joinWorkerMetrics, primaryMetricsText, type MetricsJson } from "./clusterMetrics";
import { createMetrics } from "./metrics";

// Two workers' registries joined as /api/metrics joins them (WORKERS=2): counts add up, states and
// extremes do not.

/** A sample's value in Prometheus text, by its full series name with labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("joinWorkerMetrics", () => {
  it("sums counters and per-process counts, and takes the maximum of circuit states, feature ages and open caller circuits", async () => {
    const [a, b] = [createMetrics(), createMetrics()];
    a.requests.inc({ surface: "search", outcome: "model" }, 3);
    b.requests.inc({ surface: "search", outcome: "model" }, 4);
    a.telemetryBuffered.set({ stream: "requests" }, 10);
    b.telemetryBuffered.set({ stream: "requests" }, 5);
    // Both workers opened the surface's circuit, and the same one caller's own circuit.
    a.breakerState.set({ surface: "search", model: "m@1" }, 1);
    b.breakerState.set({ surface: "search", model: "m@1" }, 1);
    a.callerCircuitsOpen.set({ surface: "search", model: "m@1" }, 1);
    b.callerCircuitsOpen.set({ surface: "search", model: "m@1" }, 1);
    a.featureAge.set({ surface: "search" }, 40);
    b.featureAge.set({ surface: "search" }, 900);
    // One worker's pages thread is restarting: the pages are down for the requests it gets (break test: summed, 1 of 2 read as up).
    a.pagesThreadUp.set(1);
    b.pagesThreadUp.set(0);

    const parts = [(await a.registry.getMetricsAsJSON()) as MetricsJson, (await b.registry.getMetricsAsJSON()) as MetricsJson];
    const text = await joinWorkerMetrics(parts);

    expect(sample(text, 'rerank_requests_total{surface="search",outcome="model"}')).toBe(7);
    expect(sample(text, 'rerank_telemetry_buffered_rows{stream="requests"}')).toBe(15);
    expect(sample(text, 'rerank_circuit_open{surface="search",model="m@1"}')).toBe(1);
    expect(sample(text, 'rerank_caller_circuits_open{surface="search",model="m@1"}')).toBe(1);
    expect(sample(text, 'rerank_feature_max_age_seconds{surface="search"}')).toBe(900);
    expect(sample(text, "rerank_pages_thread_up")).toBe(0);
  });

  it("the primary's figures follow the workers' once each: workers configured and answering, restarts by why", async () => {
    const joined = await joinWorkerMetrics([(await createMetrics().registry.getMetricsAsJSON()) as MetricsJson]);
    const text = joined + primaryMetricsText({ workers: 2, restarts: { exit: 3, hang: 1 } }, 1);
    expect(sample(text, "rerank_workers_configured")).toBe(2);
    expect(sample(text, "rerank_workers_answering")).toBe(1);
    expect(sample(text, 'rerank_worker_restarts_total{reason="exit"}')).toBe(3);
    expect(sample(text, 'rerank_worker_restarts_total{reason="hang"}')).toBe(1);
    // Valid exposition: every family typed once, and the text ends with a newline.
    const types = text.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]);
    expect(new Set(types).size).toBe(types.length);
    expect(text.endsWith("\n")).toBe(true);
  });

});
