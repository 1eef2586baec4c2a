import type { Aggregator, Registry } from "prom-client";

// With WORKERS=N, /api/metrics joins the workers' registries metric by metric, each by its
// `aggregator` (clusterMetrics.ts). prom-client's standard process metrics sum by
// default, which is right for amounts (CPU seconds, memory, heap, handles) but not for a figure each
// process has once: with 2 workers process_max_fds read 40000 (twice the limit of either), and
// process_start_time_seconds, which prom-client marks "omit", was missing altogether (break test).
// Each such gauge gets the aggregator that keeps the meaning of its single-process value.

/**
 * The aggregator of each per-process gauge of prom-client's default metrics whose sum means nothing:
 * - process_max_fds: the smallest limit (the first process to run out of descriptors hits it);
 * - process_open_fds: the most any one process holds, to be read against that limit (their sum
 *   against one process's limit would alarm N times too early);
 * - process_start_time_seconds: the newest start (a worker restarted shows, as a single process's
 *   restart does; `time() - process_start_time_seconds` is the uptime of the youngest process).
 */
export const PER_PROCESS_AGGREGATORS: Readonly<Record<string, Aggregator>> = {
  process_max_fds: "min",
  process_open_fds: "max",
  process_start_time_seconds: "max",
};

/**
 * Sets PER_PROCESS_AGGREGATORS on `registry`'s metrics of those names (createMetrics calls it on each
 * process's registry: the aggregator travels with each worker's metrics to the one that joins them;
 * a single process never joins, so it changes nothing there).
 * Metrics the registry lacks (no /proc: no fd metrics) are skipped. Idempotent.
 */
export function joinProcessMetricsPerProcess(registry: Registry): void {
  for (const [name, aggregator] of Object.entries(PER_PROCESS_AGGREGATORS)) {
    const metric = registry.getSingleMetric(name) as { aggregator?: Aggregator } | undefined;
    if (metric) metric.aggregator = aggregator;
  }
}
