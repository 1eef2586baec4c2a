import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import { answer, askWorkers, workerId, type PrimaryState } from "../cluster/ipc";
import { metrics } from "./metrics";
import { METRICS_TOPIC } from "./carriedMetrics";
import { publishTelemetryStats } from "./streams";

// /api/metrics across the workers of one server (WORKERS=N, server/http/cluster.ts). Each worker
// keeps its own registry; the worker that gets the scrape asks every worker for its metrics as JSON
// (server/cluster/ipc.ts) and joins them with prom-client's AggregatorRegistry, each metric by
// its own `aggregator` (metrics.ts): counters, histograms and the gauges that count or size
// something per process (buffered rows, spill bytes) are summed; the gauges that are a state or an
// extreme (rerank_circuit_open, rerank_feature_max_age_seconds, rerank_caller_circuits_open) take
// the workers' maximum, rerank_pages_thread_up their minimum (0 while any worker's pages are down);
// the process metrics use prom-client's own choices. A worker that does not
// answer within COLLECT_TIMEOUT_MS is left out of that scrape, and the first line says so (its last
// counters and histograms are carried, as a restarted worker's are: carriedMetrics.ts); the
// primary's own figures follow the workers' (primaryMetricsText): how many workers there should be,
// how many answered, and how often the primary started one again, by why.

const TOPIC = METRICS_TOPIC;
const COLLECT_TIMEOUT_MS = 2000;

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

async function ownMetricsJson(): Promise<MetricsJson> {
  publishTelemetryStats();
  return (await metrics.registry.getMetricsAsJSON()) as MetricsJson;
}

/** A worker answers collections from its start, not only once it was scraped itself. */
export function answerMetricsCollection(): void {
  answer(TOPIC, ownMetricsJson);
}

/**
 * The Prometheus text of /api/metrics: this process's registry, or in a worker of a cluster the
 * sum over every worker (this worker's own figures alone if the primary does not answer).
 */
export async function prometheusText(): Promise<string> {
  const gathered = workerId() ? await askWorkers(TOPIC, null, COLLECT_TIMEOUT_MS) : null;
  if (!gathered) {
    publishTelemetryStats();
    const own = await metrics.registry.metrics();
    return workerId() ? `# the primary did not answer: metrics of worker ${workerId()} only\n${own}` : own;
  }
  const parts = gathered.values as MetricsJson[];
  const missing = gathered.asked - parts.length;
  const header = `# workers: ${parts.length} of ${gathered.asked} answered${missing > 0 ? ` (${missing} left out: no answer within ${COLLECT_TIMEOUT_MS} ms)` : ""}\n`;
  // What restarted workers, and those that did not answer, last reported: counters and histograms only (carriedMetrics.ts), so the sums never fall.
  const carried = Array.isArray(gathered.carried) && gathered.carried.length > 0 ? (gathered.carried as MetricsJson) : null;
  const carriedNote = carried ? "# counters and histograms include the last figures of workers restarted or not answering (they never fall)\n" : "";
  return header + carriedNote + (await joinWorkerMetrics(carried ? [...parts, carried] : parts)) + (gathered.primary ? primaryMetricsText(gathered.primary, parts.length) : "");
}

/**
 * The primary's figures in Prometheus text: `rerank_workers_configured` (WORKERS),
 * `rerank_workers_answering` (`answered`: the workers this scrape joined; one stopped, blocked or
 * restarting is missing) and `rerank_worker_restarts_total{reason="exit"|"hang"}` (counters for
 * the primary's lifetime).
 */
export function primaryMetricsText(primary: PrimaryState, answered: number): string {
  return [
    "# HELP rerank_workers_configured Server processes this server runs (WORKERS), as its primary says",
    "# TYPE rerank_workers_configured gauge",
    `rerank_workers_configured ${primary.workers}`,
    `# HELP rerank_workers_answering Workers whose metrics this scrape joined (one stopped, blocked or restarting does not answer within ${COLLECT_TIMEOUT_MS} ms)`,
    "# TYPE rerank_workers_answering gauge",
    `rerank_workers_answering ${answered}`,
    "# HELP rerank_worker_restarts_total Workers the primary started again, by why the last one ended: exit (it died) or hang (it answered no heartbeat for WORKER_HANG_TIMEOUT_MS and was killed)",
    "# TYPE rerank_worker_restarts_total counter",
    `rerank_worker_restarts_total{reason="exit"} ${primary.restarts.exit}`,
    `rerank_worker_restarts_total{reason="hang"} ${primary.restarts.hang}`,
    "",
  ].join("\n");
}

/** The Prometheus text of several workers' registries (getMetricsAsJSON of each), each metric joined by its aggregator. */
export async function joinWorkerMetrics(parts: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate(parts).metrics();
}

export const PROMETHEUS_CONTENT_TYPE = metrics.registry.contentType;
