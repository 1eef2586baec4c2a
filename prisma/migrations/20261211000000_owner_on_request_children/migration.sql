-- Review of 20261210000000_request_log_owner: a request's identity is (request_id, ts, owner), but the
-- rows that hang off a request kept the old key. Two API keys that chose the same request id and were
-- served in the same millisecond have two request rows; their events, scoring samples and shadow
-- comparisons met on (event_id, request_ts), (request_id, ts) and (id, ts): the second caller's was
-- dropped by ON CONFLICT DO NOTHING, and joins from events to the request log matched both rows
-- (canary CTR and revenue per unit counted an event twice, interleaving credited the other caller's
-- list). Each now carries its request's owner ('' when shared: server/rerank/recent.ts
-- requestIdOwner) in its key, and readers join on it.
-- Existing rows take their request's owner where the request log has exactly one row for their
-- (request_id, ts); otherwise (rows past the log's retention, or the collision itself) they stay
-- shared. Adding a column with a constant default changes no row; the UPDATEs and the new keys
-- (an index build per partition) hold each table's lock while they run: on a large deployment, run
-- this migration when events may wait (the telemetry writers spill their batches to disk meanwhile).
ALTER TABLE "outcome_events" ADD COLUMN "owner" TEXT NOT NULL DEFAULT '';
ALTER TABLE "scoring_samples" ADD COLUMN "owner" TEXT NOT NULL DEFAULT '';
ALTER TABLE "shadow_records" ADD COLUMN "owner" TEXT NOT NULL DEFAULT '';

UPDATE "outcome_events" o SET "owner" = r."owner" FROM "rerank_requests" r
WHERE r."request_id" = o."request_id" AND r."ts" = o."request_ts" AND r."owner" <> ''
  AND NOT EXISTS (SELECT 1 FROM "rerank_requests" x WHERE x."request_id" = o."request_id" AND x."ts" = o."request_ts" AND x."owner" <> r."owner");
UPDATE "scoring_samples" s SET "owner" = r."owner" FROM "rerank_requests" r
WHERE r."request_id" = s."request_id" AND r."ts" = s."ts" AND r."owner" <> ''
  AND NOT EXISTS (SELECT 1 FROM "rerank_requests" x WHERE x."request_id" = s."request_id" AND x."ts" = s."ts" AND x."owner" <> r."owner");
UPDATE "shadow_records" s SET "owner" = r."owner" FROM "rerank_requests" r
WHERE r."request_id" = s."request_id" AND r."ts" = s."ts" AND r."owner" <> ''
  AND NOT EXISTS (SELECT 1 FROM "rerank_requests" x WHERE x."request_id" = s."request_id" AND x."ts" = s."ts" AND x."owner" <> r."owner");

ALTER TABLE "outcome_events" DROP CONSTRAINT "outcome_events_pkey",
  ADD CONSTRAINT "outcome_events_pkey" PRIMARY KEY ("event_id", "request_ts", "owner");
ALTER TABLE "scoring_samples" DROP CONSTRAINT "scoring_samples_pkey",
  ADD CONSTRAINT "scoring_samples_pkey" PRIMARY KEY ("request_id", "ts", "owner");
ALTER TABLE "shadow_records" DROP CONSTRAINT "shadow_records_pkey",
  ADD CONSTRAINT "shadow_records_pkey" PRIMARY KEY ("id", "ts", "owner");
