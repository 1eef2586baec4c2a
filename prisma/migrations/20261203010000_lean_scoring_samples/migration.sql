-- The scoring samples kept lean like the request log (20261130020000_lean_request_log) and the shadow
-- rows (20261203000000_lean_shadow_records): the Debug page reads a sample whole, by request id, and
-- nothing queries inside it, so its feature rows, names and timings are kept as json (the text as
-- sent) instead of being built into jsonb trees on every insert (issue 12: telemetry's cost).
-- Existing rows are converted in place (one rewrite of the table's partitions).
ALTER TABLE "scoring_samples"
  ALTER COLUMN "feature_names" DROP DEFAULT,
  ALTER COLUMN "feature_names" TYPE JSON USING "feature_names"::json,
  ALTER COLUMN "feature_names" SET DEFAULT '[]',
  ALTER COLUMN "rows" TYPE JSON USING "rows"::json,
  ALTER COLUMN "timings" DROP DEFAULT,
  ALTER COLUMN "timings" TYPE JSON USING "timings"::json,
  ALTER COLUMN "timings" SET DEFAULT '{}';
