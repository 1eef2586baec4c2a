import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { joinProcessMetricsPerProcess } from "./processMetrics";

// Prometheus metrics of this process (GET /api/metrics). One registry, kept on globalThis so that
// Next's module reloads do not register the same metric twice. With WORKERS=N, /api/metrics joins
// the workers' registries (clusterMetrics.ts) by each metric's `aggregator`: prom-client's default
// "sum" for counters, histograms and per-process counts; "max" for a gauge that is a state or an
// extreme (an age, an open circuit), whose sum over workers means nothing.

/** A new registry with every metric of ours (one per process; tests build their own for several "workers"). */
export function createMetrics() {
  const registry = new Registry();
  // Node's standard process metrics under their standard names (process_cpu_user_seconds_total,
  // nodejs_heap_size_used_bytes…), which Node.js dashboards expect; the prefix "rerank_process_" that
  // was here made them rerank_process_process_* and rerank_process_nodejs_*.
  collectDefaultMetrics({ register: registry });
  // Joined over workers, the per-process gauges (max fds, start time) take min/max, not the sum.
  joinProcessMetricsPerProcess(registry);
  const stageBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000];
  return {
    registry,
    requests: new Counter({ name: "rerank_requests_total", help: "Rerank requests by surface and outcome (model, fallback, error)", labelNames: ["surface", "outcome"], registers: [registry] }),
    slowRequests: new Counter({ name: "rerank_requests_slow_total", help: "Logged rerank requests (model or fallback) slower than their surface's p99 latency target (slo_latency_p99_ms): the latency SLI's bad events", labelNames: ["surface"], registers: [registry] }),
    stage2: new Counter({ name: "rerank_stage2_total", help: "Cascade stage-2 runs by outcome (served, timeout, error, skipped: stage 1's order served otherwise)", labelNames: ["surface", "outcome"], registers: [registry] }),
    pagesThreadUp: new Gauge({ name: "rerank_pages_thread_up", help: "1 while the pages thread (Next.js on its own thread: the console's pages) of every worker answers, 0 while any is restarting or hung (the least over the workers)", aggregator: "min", registers: [registry] }),
    pagesThreadRestarts: new Counter({ name: "rerank_pages_thread_restarts_total", help: "Times a pages thread died and was started again (serving went on; pages answered 503 meanwhile)", registers: [registry] }),
    pagesThreadHangs: new Counter({ name: "rerank_pages_thread_hangs_total", help: "Times a pages thread answered no heartbeat for 30 s (its event loop blocked) and was stopped, then started again (counted in rerank_pages_thread_restarts_total too)", registers: [registry] }),
    admissionRefused: new Counter({ name: "rerank_admission_refused_total", help: "Serving requests refused before they ran: caller_share (429: the caller held its fair share of a contended process), key_rate_limit (429: a serving key over its own rate limit) or capacity (503: twice RERANK_MAX_IN_FLIGHT in flight)", labelNames: ["reason"], registers: [registry] }),
    rateLimitUnchecked: new Counter({ name: "rerank_rate_limit_unchecked_total", help: "Requests of rate-limited keys admitted without being counted because the cluster's primary, which counts them, did not answer within 250 ms", registers: [registry] }),
    fallbacks: new Counter({ name: "rerank_fallbacks_total", help: "Responses served by a fallback, by reason", labelNames: ["surface", "reason"], registers: [registry] }),
    stageMs: new Histogram({ name: "rerank_stage_duration_ms", help: "Time per pipeline stage in milliseconds", labelNames: ["surface", "stage"], buckets: stageBuckets, registers: [registry] }),
    inferenceMs: new Histogram({ name: "rerank_inference_duration_ms", help: "onnxruntime session.run time in milliseconds", labelNames: ["model"], buckets: stageBuckets, registers: [registry] }),
    candidates: new Histogram({ name: "rerank_candidates_per_request", help: "Candidates per request", labelNames: ["surface"], buckets: [1, 10, 25, 50, 100, 200, 500, 1000], registers: [registry] }),
    defaultedFeatures: new Counter({ name: "rerank_features_defaulted_total", help: "Feature values replaced by their default (missing, stale or not finite)", labelNames: ["surface", "feature"], registers: [registry] }),
    staleFeatures: new Counter({ name: "rerank_features_stale_total", help: "Stored feature values older than their freshness limit", labelNames: ["surface"], registers: [registry] }),
    featureAge: new Gauge({ name: "rerank_feature_max_age_seconds", help: "Age of the oldest stored feature value used by the last request (the oldest over the workers)", labelNames: ["surface"], aggregator: "max", registers: [registry] }),
    featureReadTimeouts: new Counter({ name: "rerank_feature_reads_timed_out_total", help: "Requests served with default features because the feature store's read of a cache miss passed its deadline (FEATURE_READ_BUDGET_SHARE of the surface's budget) or failed", labelNames: ["surface"], registers: [registry] }),
    modelQueueTimeouts: new Counter({ name: "rerank_model_queue_timeouts_total", help: "Model runs withdrawn unrun because no worker thread (cross-encoder or scoring pool) started them within the surface's budget: the machine was saturated; the request was served its fallback (reason timeout)", labelNames: ["surface", "model"], registers: [registry] }),
    unknownCandidates: new Counter({ name: "rerank_unknown_candidates_total", help: "Candidate ids not in the catalog, served with default features", labelNames: ["surface"], registers: [registry] }),
    telemetryBuffered: new Gauge({ name: "rerank_telemetry_buffered_rows", help: "Telemetry rows waiting in memory", labelNames: ["stream"], registers: [registry] }),
    telemetryBufferedBytes: new Gauge({ name: "rerank_telemetry_buffered_bytes", help: "Estimated heap bytes of the telemetry rows waiting in memory (bounded by TELEMETRY_BUFFER_MAX_BYTES per stream)", labelNames: ["stream"], registers: [registry] }),
    telemetryOverflowRows: new Gauge({ name: "rerank_telemetry_overflow_rows", help: "Telemetry rows sent to the spill file since start because the memory buffer was full (TELEMETRY_BUFFER_MAX_BYTES or its row bound)", labelNames: ["stream"], registers: [registry] }),
    telemetrySpilledRows: new Gauge({ name: "rerank_telemetry_spilled_rows", help: "Telemetry rows in the local spill file", labelNames: ["stream"], registers: [registry] }),
    telemetrySpillBytes: new Gauge({ name: "rerank_telemetry_spill_bytes", help: "Size of the local spill file", labelNames: ["stream"], registers: [registry] }),
    telemetryWritten: new Gauge({ name: "rerank_telemetry_written_rows", help: "Telemetry rows written to the database since start", labelNames: ["stream"], registers: [registry] }),
    telemetryDropped: new Gauge({ name: "rerank_telemetry_dropped_rows", help: "Telemetry rows dropped (memory and spill full)", labelNames: ["stream"], registers: [registry] }),
    telemetryFailures: new Gauge({ name: "rerank_telemetry_write_failures", help: "Failed telemetry batch writes since start", labelNames: ["stream"], registers: [registry] }),
    events: new Counter({ name: "rerank_outcome_events_total", help: "Outcome events accepted, by type", labelNames: ["type"], registers: [registry] }),
    shadowRequests: new Counter({ name: "rerank_shadow_requests_total", help: "Mirrored requests by outcome (compared, shadow_error, dropped_queue_full)", labelNames: ["surface", "outcome"], registers: [registry] }),
    traceExportFailures: new Counter({ name: "rerank_trace_export_failures_total", help: "Failed OTLP exports of trace spans (OTEL_EXPORTER_OTLP_ENDPOINT), by error name", labelNames: ["reason"], registers: [registry] }),
    traceSpansDropped: new Counter({ name: "rerank_trace_spans_dropped_total", help: "Trace spans lost in failed OTLP exports", registers: [registry] }),
    breakerState: new Gauge({ name: "rerank_circuit_open", help: "1 while the surface-wide circuit breaker of a surface's model is open (every caller falls back) on any worker", labelNames: ["surface", "model"], aggregator: "max", registers: [registry] }),
    // Each worker keeps its own circuits for the same callers: a sum would count one caller once per worker.
    callerCircuitsOpen: new Gauge({ name: "rerank_caller_circuits_open", help: "Callers whose own circuit breaker of a surface's model is open (only their requests fall back); the most on any worker", labelNames: ["surface", "model"], aggregator: "max", registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
const holder = globalThis as unknown as { __rerankMetrics?: Metrics };
export const metrics: Metrics = (holder.__rerankMetrics ??= createMetrics());
