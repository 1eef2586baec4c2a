-- The experiment rollups' counters become bigint. They are added to in the statement that stores
-- the request-log or outcome-event row (server/telemetry/streams.ts), so an int4 sum past
-- 2,147,483,647 (22003) refused that row too: a rerank answered 200, or an event answered
-- accepted, was not stored. Each ALTER rewrites its table under an exclusive lock (one pass over
-- the rollups, not over the logs). rerank_errors.count (per surface and minute) and
-- rollout_steps.canary_requests / baseline_requests (written once per judged step) stay int4: the
-- first cannot reach 2^31 within a minute, the second is no running sum.
ALTER TABLE experiment_unit_stats
  ALTER COLUMN requests TYPE bigint,
  ALTER COLUMN impressions TYPE bigint,
  ALTER COLUMN clicks TYPE bigint,
  ALTER COLUMN add_to_carts TYPE bigint,
  ALTER COLUMN purchases TYPE bigint;

ALTER TABLE experiment_hourly_stats
  ALTER COLUMN requests TYPE bigint,
  ALTER COLUMN fallbacks TYPE bigint,
  ALTER COLUMN impressions TYPE bigint,
  ALTER COLUMN clicks TYPE bigint,
  ALTER COLUMN purchases TYPE bigint,
  ALTER COLUMN interleaving_wins_a TYPE bigint,
  ALTER COLUMN interleaving_wins_b TYPE bigint,
  ALTER COLUMN interleaving_ties TYPE bigint;
