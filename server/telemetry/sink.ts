import type { BatchSink } from "./batchWriter";
import type { OutcomeEventRow, RequestLogEntry, ScoringSampleRow, ShadowEntry } from "./streams";

// Where the telemetry streams are written. A BatchWriter sits in front of each stream
// (batching, memory bound, spill file, retries with backoff, splitting out refused rows); a sink
// only has to write one batch, idempotently, and say which failures are about the rows themselves.
// PostgreSQL is the sink today (postgresTelemetrySink in streams.ts: the request log and events go
// to day-partitioned tables, the request log, shadow and scoring samples with COPY, and the same
// transaction maintains the experiment rollups). The next
// step at higher volume is a ClickHouse sink for the raw rows with the rollups kept in PostgreSQL:
// docs/SCALE-OUT.md.

export interface TelemetrySink {
  /** e.g. "postgresql"; used in messages. */
  readonly name: string;
  /** Served requests (rerank_requests). Replays of a batch must add nothing twice. */
  readonly requests: BatchSink<RequestLogEntry>;
  /** Outcome events (outcome_events), idempotent on eventId. */
  readonly events: BatchSink<OutcomeEventRow>;
  /** Shadow comparisons (shadow_records), idempotent on request id + shadow version. */
  readonly shadow: BatchSink<ShadowEntry>;
  /** Sampled full scoring rows for the Debug page (scoring_samples), idempotent on request id. */
  readonly scoringSamples: BatchSink<ScoringSampleRow>;
  /** True when a write failed because of the rows (retrying the same rows cannot succeed). */
  isRowError(error: unknown): boolean;
  /** Releases connections; the writers are closed (flushed) first. */
  close(): Promise<void>;
}
