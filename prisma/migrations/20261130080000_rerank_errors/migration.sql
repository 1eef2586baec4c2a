-- Rerank requests answered with a 5xx (database down, shutting down, overloaded, a fault of ours),
-- counted per surface and minute: they never reach the request log, yet the availability SLI of
-- the On-call page must count them as bad events (server/telemetry/errorTally.ts writes them).
-- Surface "unknown": answered before the request's body named one (a 503 while checking the key).
CREATE TABLE rerank_errors (
  surface TEXT NOT NULL,
  minute TIMESTAMPTZ(0) NOT NULL,
  count INTEGER NOT NULL,
  CONSTRAINT rerank_errors_pkey PRIMARY KEY (surface, minute)
);
CREATE INDEX rerank_errors_minute_idx ON rerank_errors (minute);
