-- When an experiment shipped: the executive page lists shipped experiments by it (they were sorted by
-- stopped_at, which for an experiment stopped before it shipped is the stop, days or weeks earlier).
ALTER TABLE "experiments" ADD COLUMN "shipped_at" TIMESTAMPTZ(3);

-- Experiments shipped before: the newest ship entry of the audit trail where there is one, else the
-- stop (a ship stops a running experiment at that moment), else the last update.
UPDATE "experiments" e
SET "shipped_at" = coalesce(
  (SELECT max(a."ts") FROM "audit_log" a WHERE a."action" = 'experiment.ship' AND a."entity_type" = 'experiment' AND a."entity_id" = e."id"),
  e."stopped_at",
  e."updated_at"
)
WHERE e."status" = 'shipped';
