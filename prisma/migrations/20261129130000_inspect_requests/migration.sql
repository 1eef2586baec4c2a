-- Looking at single requests (issues 14 and 15).
-- Shadow comparisons keep rank-biased overlap and, for the items the two models disagree about most,
-- their ranks and the features the models saw (null on rows written before this migration).
ALTER TABLE "shadow_records" ADD COLUMN "rbo" DOUBLE PRECISION;
ALTER TABLE "shadow_records" ADD COLUMN "moves" JSONB;

-- Full scoring rows of a sample of requests (DEBUG_SAMPLE_RATE, and every request sent from the
-- Debug page): the features the model saw for the served items, their scores, the stage timings.
-- Day-partitioned like the request log it complements, so retention drops whole days.
CREATE TABLE "scoring_samples" (
    "request_id" TEXT NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "surface" TEXT NOT NULL,
    "model_version_id" TEXT,
    "reason" TEXT NOT NULL,
    "feature_names" JSONB NOT NULL DEFAULT '[]',
    "rows" JSONB NOT NULL,
    "timings" JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "scoring_samples_pkey" PRIMARY KEY ("request_id", "ts")
) PARTITION BY RANGE ("ts");
CREATE TABLE "scoring_samples_default" PARTITION OF "scoring_samples" DEFAULT;
CREATE INDEX "scoring_samples_surface_ts_idx" ON "scoring_samples"("surface", "ts");
