-- Offline evaluations of model versions are kept (version card, shadow and rollout flows).
CREATE TABLE "model_evaluations" (
    "id" TEXT NOT NULL,
    "version_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "result" JSONB NOT NULL,
    "created_by" TEXT NOT NULL DEFAULT 'system',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "model_evaluations_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "model_evaluations_version_id_kind_created_at_idx" ON "model_evaluations"("version_id", "kind", "created_at");
ALTER TABLE "model_evaluations" ADD CONSTRAINT "model_evaluations_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
