-- Outcome events carry the analysis phase of the request they refer to, so the experiment rollups
-- can be updated when the event is written, even before its request row is flushed.
ALTER TABLE "outcome_events" ADD COLUMN "experiment_phase" INTEGER;
