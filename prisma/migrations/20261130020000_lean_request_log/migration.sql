-- A leaner request log (issue 12: telemetry on costs at most 10 % of serving throughput).
-- Served lists, context and stage timings are kept as json text, not jsonb: PostgreSQL spent most of
-- a row's insert (~40 of 62 µs) building the jsonb tree of the served list, which only a handful of
-- readers ever open (Debug by id, events lookup, interleaving results, feature health); json keeps
-- the text as sent, and every jsonb operator those readers use exists for json. Existing rows are
-- converted in place (one rewrite of the table's partitions), so old and new rows read alike.
ALTER TABLE "rerank_requests"
  ALTER COLUMN "served" TYPE JSON USING "served"::json,
  ALTER COLUMN "context" DROP DEFAULT,
  ALTER COLUMN "context" TYPE JSON USING "context"::json,
  ALTER COLUMN "context" SET DEFAULT '{}',
  ALTER COLUMN "timings" DROP DEFAULT,
  ALTER COLUMN "timings" TYPE JSON USING "timings"::json,
  ALTER COLUMN "timings" SET DEFAULT '{}';

-- No reader filters the request log by model version (Debug by id reads one row by its key; the
-- dashboards go by surface or experiment): one index fewer to update per served request.
DROP INDEX IF EXISTS "rerank_requests_model_version_id_ts_idx";

-- Issue 11: the feature-read deadline's mark (features.timedOut) is kept with the request, so
-- on-call can count requests served with defaults because the feature store was late.
ALTER TABLE "rerank_requests" ADD COLUMN "features_timed_out" BOOLEAN NOT NULL DEFAULT false;

-- Issue 11 (callers are isolated): whose request id this is. A request id the client chose belongs
-- to the API key that sent it ("api_key:<id>", as server/auth/principal.ts callerOf names it), so
-- events from another caller do not find it in the log; null when the server generated the id (a
-- random UUID, shared by whoever was given it) or the console / an in-process caller sent it.
ALTER TABLE "rerank_requests" ADD COLUMN "caller" TEXT;
