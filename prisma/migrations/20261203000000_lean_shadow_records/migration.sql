-- A leaner shadow log (issue 12: telemetry on costs at most 10 % of serving throughput). With the
-- demo's 25 % mirror rate the shadow rows cost PostgreSQL more per served request than the request
-- log itself: ~250 µs each, most of it building the jsonb trees of two rankings and the largest
-- moves' feature maps (~3 KB of text per row), which only the Shadow pages ever open. As the request
-- log's served list did (20261130020000_lean_request_log), they are kept as json, the text as sent;
-- the rankings are written compact ([id, score] tuples, server/domain/ranking/servedList.ts) and rows
-- written before (objects) read the same. Existing rows are converted in place (one rewrite of the
-- table's partitions).
ALTER TABLE "shadow_records"
  ALTER COLUMN "primary_ranking" TYPE JSON USING "primary_ranking"::json,
  ALTER COLUMN "shadow_ranking" TYPE JSON USING "shadow_ranking"::json,
  ALTER COLUMN "moves" TYPE JSON USING "moves"::json;
