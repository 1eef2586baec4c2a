-- A unit seen in more than one arm of an experiment phase (its key changed arm, or a restart
-- reshuffled it) is a multiple exposure: counted on the results page and excluded from every metric.
ALTER TABLE "experiment_unit_stats" ADD COLUMN "multiple_exposure" BOOLEAN NOT NULL DEFAULT false;
