-- Rollout steps: one row per judged step of a canary, with the verdict of every metric. The unique
-- (rollout_id, step) makes a step's verdict exactly-once however many processes judge it: the
-- second insert fails and its transaction (the step's move, audit and history) rolls back.
-- Rollouts keep the step they are at and when its window opened; a paused rollout keeps serving
-- its share while its analysis waits.

ALTER TABLE "rollouts"
    ADD COLUMN "step" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "step_started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

UPDATE "rollouts" SET "step_started_at" = coalesce(("analysis"->>'stepStartedAt')::timestamptz, "started_at") WHERE jsonb_typeof("analysis") = 'object';

CREATE TABLE "rollout_steps" (
    "id" TEXT NOT NULL,
    "rollout_id" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "percent" DOUBLE PRECISION NOT NULL,
    "decision" TEXT NOT NULL,
    "metrics" JSONB NOT NULL DEFAULT '[]',
    "reasons" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "canary_requests" INTEGER NOT NULL DEFAULT 0,
    "baseline_requests" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "judged_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "judged_by" TEXT NOT NULL,

    CONSTRAINT "rollout_steps_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "rollout_steps_rollout_id_step_key" ON "rollout_steps"("rollout_id", "step");
ALTER TABLE "rollout_steps" ADD CONSTRAINT "rollout_steps_rollout_id_fkey" FOREIGN KEY ("rollout_id") REFERENCES "rollouts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
