// The counters and histograms a cluster's /api/metrics must not lose (WORKERS=N, server/http/cluster.ts):
// the sum over workers fell by a worker's count when the worker was restarted (its successor starts at
// 0) or left out of a scrape (it did not answer in time), and Prometheus reads a counter that falls as
// a reset, so rate() jumped (break test 2026-12-04: rerank_requests_total 100, then 90 after a SIGKILL
// and 40 more requests). The primary keeps each worker's last answer and sums, with this module, what
// the restarted workers last reported and what the silent ones last reported; that part joins the live
// workers' in every sum (server/telemetry/clusterMetrics.ts). Pure: no registry, no I/O.

/** The question /api/metrics asks every worker (server/cluster/ipc.ts topics). */
export const METRICS_TOPIC = "metrics";

/** One metric of prom-client's getMetricsAsJSON(), as far as this module reads it. */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

const isMetric = (m: unknown): m is MetricJson =>
  typeof m === "object" && m !== null && typeof (m as MetricJson).name === "string" && Array.isArray((m as MetricJson).values);

/** A value's series: its sample name (a histogram's _bucket, _sum, _count) and its labels, in name order. */
const seriesKey = (metric: string, value: MetricJson["values"][number]) =>
  `${value.metricName ?? metric}\u0000${JSON.stringify(Object.entries(value.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;

/**
 * The counters and histograms of several workers' metrics (each a getMetricsAsJSON() array; null,
 * undefined and anything else not an array are skipped) summed series by series into one such array.
 * Gauges and summaries are left out (a gone worker's gauge is no longer a state of the server, and a
 * summary's quantiles do not add), as are metrics whose aggregator is not `sum`.
 * @returns one metrics array, [] when there is nothing to carry.
 */
export function carriedTotals(parts: readonly unknown[]): MetricJson[] {
  const metrics = new Map<string, { metric: MetricJson; series: Map<string, MetricJson["values"][number]> }>();
  for (const part of parts) {
    if (!Array.isArray(part)) continue;
    for (const metric of part) {
      if (!isMetric(metric) || (metric.type !== "counter" && metric.type !== "histogram") || metric.aggregator !== "sum") continue;
      let kept = metrics.get(metric.name);
      if (!kept) metrics.set(metric.name, (kept = { metric: { name: metric.name, help: metric.help, type: metric.type, aggregator: "sum", values: [] }, series: new Map() }));
      for (const value of metric.values) {
        if (typeof value?.value !== "number" || !Number.isFinite(value.value)) continue;
        const key = seriesKey(metric.name, value);
        const sum = kept.series.get(key);
        if (sum) sum.value += value.value;
        else kept.series.set(key, { ...value, labels: { ...value.labels } });
      }
    }
  }
  return [...metrics.values()].map(({ metric, series }) => ({ ...metric, values: [...series.values()] }));
}
