-- An outcome event is counted once whatever copy of its request it was attached to. A retried
-- rerank that reaches another worker or replica is served and logged again with its own ts, and
-- outcome_events' key (event_id, request_ts) told the event attached to each copy apart: a retried
-- purchase was counted twice (#17 break test, WORKERS=2). A unique index on the event alone is
-- impossible on a table partitioned by request_ts, so each event keeps two rows here, under the
-- UTC day of its request copy's ts and the day after: any two copies served less than a day apart
-- share one of them, and the second insert meets the first's row (server/telemetry/streams.ts
-- outcomeEventSink). Partitioned by day like the logs and dropped with them (server/db/partitions.ts).
-- A new, empty table: existing events keep their (event_id, request_ts) key.
CREATE TABLE "outcome_event_keys" (
    "day" TIMESTAMPTZ(3) NOT NULL,
    "caller" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    CONSTRAINT "outcome_event_keys_pkey" PRIMARY KEY ("day", "caller", "request_id", "event_id")
) PARTITION BY RANGE ("day");
CREATE TABLE "outcome_event_keys_default" PARTITION OF "outcome_event_keys" DEFAULT;
