-- Rerank Console: initial schema (written to match prisma/schema.prisma; the schema-drift
-- integration test checks every table, column, default, unique constraint and index).

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('viewer', 'pm', 'ml_engineer', 'oncall', 'admin');
CREATE TYPE "ExperimentStatus" AS ENUM ('draft', 'running', 'stopped', 'shipped');
CREATE TYPE "ExperimentKind" AS ENUM ('ab', 'interleaving');
CREATE TYPE "OutcomeType" AS ENUM ('impression', 'click', 'add_to_cart', 'purchase');
CREATE TYPE "RolloutStatus" AS ENUM ('pending', 'running', 'paused', 'promoted', 'rolled_back', 'aborted');

-- access control
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "role" "Role" NOT NULL DEFAULT 'viewer',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

CREATE TABLE "api_tokens" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");
CREATE INDEX "api_tokens_user_id_idx" ON "api_tokens"("user_id");

-- surfaces
CREATE TABLE "surfaces" (
    "id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "model_id" TEXT,
    "model_alias" TEXT NOT NULL DEFAULT 'production',
    "fallback_alias" TEXT,
    "constraints" JSONB NOT NULL DEFAULT '{}',
    "timeout_ms" INTEGER NOT NULL DEFAULT 50,
    "default_top_k" INTEGER NOT NULL DEFAULT 20,
    "max_candidates" INTEGER NOT NULL DEFAULT 1000,
    "kill_switch" BOOLEAN NOT NULL DEFAULT false,
    "shadow_alias" TEXT,
    "shadow_sample_rate" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "slo_latency_p99_ms" DOUBLE PRECISION NOT NULL DEFAULT 50,
    "slo_availability" DOUBLE PRECISION NOT NULL DEFAULT 0.999,
    "config_version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "surfaces_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "surfaces_key_key" ON "surfaces"("key");

-- model registry
CREATE TABLE "models" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "surface_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "models_name_key" ON "models"("name");

CREATE TABLE "model_versions" (
    "id" TEXT NOT NULL,
    "model_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "format" TEXT NOT NULL DEFAULT 'onnx',
    "source" TEXT NOT NULL DEFAULT 'upload',
    "sha256" TEXT NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "input_name" TEXT NOT NULL,
    "output_name" TEXT NOT NULL,
    "feature_spec" JSONB NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "metrics" JSONB NOT NULL DEFAULT '{}',
    "parent_version_id" TEXT,
    "created_by" TEXT NOT NULL DEFAULT 'system',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "model_versions_model_id_version_key" ON "model_versions"("model_id", "version");
CREATE UNIQUE INDEX "model_versions_model_id_sha256_key" ON "model_versions"("model_id", "sha256");

CREATE TABLE "model_artifacts" (
    "version_id" TEXT NOT NULL,
    "bytes" BYTEA NOT NULL,
    CONSTRAINT "model_artifacts_pkey" PRIMARY KEY ("version_id")
);

CREATE TABLE "model_aliases" (
    "id" TEXT NOT NULL,
    "model_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version_id" TEXT NOT NULL,
    "updated_by" TEXT NOT NULL DEFAULT 'system',
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "model_aliases_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "model_aliases_model_id_name_key" ON "model_aliases"("model_id", "name");
CREATE INDEX "model_aliases_version_id_idx" ON "model_aliases"("version_id");

-- experiments
CREATE TABLE "experiments" (
    "id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "surface_id" TEXT NOT NULL,
    "kind" "ExperimentKind" NOT NULL DEFAULT 'ab',
    "hypothesis" TEXT NOT NULL DEFAULT '',
    "owner" TEXT NOT NULL,
    "status" "ExperimentStatus" NOT NULL DEFAULT 'draft',
    "hash_attribute" TEXT NOT NULL DEFAULT 'userKey',
    "hash_version" INTEGER NOT NULL DEFAULT 2,
    "seed" TEXT NOT NULL,
    "coverage" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "namespace" JSONB,
    "targeting" JSONB NOT NULL DEFAULT '[]',
    "primary_metric" TEXT NOT NULL DEFAULT 'ctr',
    "secondary_metrics" JSONB NOT NULL DEFAULT '[]',
    "guardrails" JSONB NOT NULL DEFAULT '[]',
    "min_detectable_effect" DOUBLE PRECISION,
    "analysis_mode" TEXT NOT NULL DEFAULT 'sequential',
    "phase" INTEGER NOT NULL DEFAULT 0,
    "shipped_variant_key" TEXT,
    "started_at" TIMESTAMPTZ(3),
    "stopped_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "experiments_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "experiments_key_key" ON "experiments"("key");
CREATE INDEX "experiments_surface_id_status_idx" ON "experiments"("surface_id", "status");

CREATE TABLE "experiment_variants" (
    "id" TEXT NOT NULL,
    "experiment_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL,
    "is_control" BOOLEAN NOT NULL DEFAULT false,
    "model_alias" TEXT,
    "model_version_id" TEXT,
    "constraint_overrides" JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "experiment_variants_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "experiment_variants_experiment_id_key_key" ON "experiment_variants"("experiment_id", "key");

CREATE TABLE "experiment_phases" (
    "id" TEXT NOT NULL,
    "experiment_id" TEXT NOT NULL,
    "phase" INTEGER NOT NULL,
    "weights" JSONB NOT NULL,
    "coverage" DOUBLE PRECISION NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),
    "reason" TEXT NOT NULL DEFAULT '',
    CONSTRAINT "experiment_phases_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "experiment_phases_experiment_id_phase_key" ON "experiment_phases"("experiment_id", "phase");

CREATE TABLE "experiment_unit_stats" (
    "experiment_id" TEXT NOT NULL,
    "phase" INTEGER NOT NULL,
    "variant_key" TEXT NOT NULL,
    "unit_key" TEXT NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "impressions" INTEGER NOT NULL DEFAULT 0,
    "clicks" INTEGER NOT NULL DEFAULT 0,
    "add_to_carts" INTEGER NOT NULL DEFAULT 0,
    "purchases" INTEGER NOT NULL DEFAULT 0,
    "revenue" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "experiment_unit_stats_pkey" PRIMARY KEY ("experiment_id", "phase", "unit_key")
);
CREATE INDEX "experiment_unit_stats_experiment_id_phase_variant_key_idx" ON "experiment_unit_stats"("experiment_id", "phase", "variant_key");

CREATE TABLE "experiment_hourly_stats" (
    "experiment_id" TEXT NOT NULL,
    "phase" INTEGER NOT NULL,
    "variant_key" TEXT NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "fallbacks" INTEGER NOT NULL DEFAULT 0,
    "impressions" INTEGER NOT NULL DEFAULT 0,
    "clicks" INTEGER NOT NULL DEFAULT 0,
    "purchases" INTEGER NOT NULL DEFAULT 0,
    "revenue" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "latency_ms_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "latency_buckets" JSONB NOT NULL DEFAULT '[]',
    "ndcg_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "reciprocal_rank_sum" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "interleaving_wins_a" INTEGER NOT NULL DEFAULT 0,
    "interleaving_wins_b" INTEGER NOT NULL DEFAULT 0,
    "interleaving_ties" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "experiment_hourly_stats_pkey" PRIMARY KEY ("experiment_id", "phase", "variant_key", "hour")
);

-- high-volume logs: range-partitioned by day (partitions are created ahead by the application;
-- the DEFAULT partition catches anything outside them)
CREATE TABLE "rerank_requests" (
    "request_id" TEXT NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "surface" TEXT NOT NULL,
    "user_key" TEXT,
    "session_key" TEXT,
    "context" JSONB NOT NULL DEFAULT '{}',
    "experiment_key" TEXT,
    "experiment_phase" INTEGER,
    "variant_key" TEXT,
    "exposed" BOOLEAN NOT NULL DEFAULT false,
    "model_version_id" TEXT,
    "fallback_used" BOOLEAN NOT NULL DEFAULT false,
    "fallback_reason" TEXT,
    "candidate_count" INTEGER NOT NULL,
    "top_k" INTEGER NOT NULL,
    "served" JSONB NOT NULL,
    "timings" JSONB NOT NULL DEFAULT '{}',
    "latency_ms" DOUBLE PRECISION NOT NULL,
    "defaulted_features" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "rerank_requests_pkey" PRIMARY KEY ("request_id", "ts")
) PARTITION BY RANGE ("ts");
CREATE TABLE "rerank_requests_default" PARTITION OF "rerank_requests" DEFAULT;
CREATE INDEX "rerank_requests_surface_ts_idx" ON "rerank_requests"("surface", "ts");
CREATE INDEX "rerank_requests_experiment_key_ts_idx" ON "rerank_requests"("experiment_key", "ts");
CREATE INDEX "rerank_requests_model_version_id_ts_idx" ON "rerank_requests"("model_version_id", "ts");

CREATE TABLE "outcome_events" (
    "event_id" TEXT NOT NULL,
    "request_ts" TIMESTAMPTZ(3) NOT NULL,
    "request_id" TEXT NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "surface" TEXT NOT NULL,
    "type" "OutcomeType" NOT NULL,
    "item_id" TEXT NOT NULL,
    "position" INTEGER,
    "revenue" DOUBLE PRECISION,
    "user_key" TEXT,
    "experiment_key" TEXT,
    "variant_key" TEXT,
    CONSTRAINT "outcome_events_pkey" PRIMARY KEY ("event_id", "request_ts")
) PARTITION BY RANGE ("request_ts");
CREATE TABLE "outcome_events_default" PARTITION OF "outcome_events" DEFAULT;
CREATE INDEX "outcome_events_request_id_idx" ON "outcome_events"("request_id");
CREATE INDEX "outcome_events_surface_request_ts_idx" ON "outcome_events"("surface", "request_ts");
CREATE INDEX "outcome_events_experiment_key_request_ts_idx" ON "outcome_events"("experiment_key", "request_ts");

CREATE TABLE "shadow_records" (
    "id" TEXT NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "request_id" TEXT NOT NULL,
    "surface" TEXT NOT NULL,
    "primary_version_id" TEXT,
    "shadow_version_id" TEXT NOT NULL,
    "primary_ranking" JSONB NOT NULL,
    "shadow_ranking" JSONB NOT NULL,
    "overlap_at_10" DOUBLE PRECISION,
    "kendall_tau" DOUBLE PRECISION,
    "spearman_rho" DOUBLE PRECISION,
    "primary_latency_ms" DOUBLE PRECISION,
    "shadow_latency_ms" DOUBLE PRECISION,
    "error" TEXT,
    CONSTRAINT "shadow_records_pkey" PRIMARY KEY ("id", "ts")
) PARTITION BY RANGE ("ts");
CREATE TABLE "shadow_records_default" PARTITION OF "shadow_records" DEFAULT;
CREATE INDEX "shadow_records_surface_shadow_version_id_ts_idx" ON "shadow_records"("surface", "shadow_version_id", "ts");

-- online feature store & catalog
CREATE TABLE "catalog_items" (
    "id" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "brand" TEXT NOT NULL DEFAULT '',
    "price" DOUBLE PRECISION NOT NULL,
    "provider_group" TEXT NOT NULL DEFAULT 'default',
    "safety_flags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "catalog_items_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "catalog_items_category_idx" ON "catalog_items"("category");

CREATE TABLE "item_features" (
    "item_id" TEXT NOT NULL,
    "values" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "item_features_pkey" PRIMARY KEY ("item_id")
);
CREATE INDEX "item_features_updated_at_idx" ON "item_features"("updated_at");

CREATE TABLE "user_features" (
    "user_key" TEXT NOT NULL,
    "values" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "user_features_pkey" PRIMARY KEY ("user_key")
);

CREATE TABLE "feature_drift_snapshots" (
    "id" TEXT NOT NULL,
    "model_version_id" TEXT NOT NULL,
    "surface" TEXT NOT NULL,
    "feature" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "window_end" TIMESTAMPTZ(3) NOT NULL,
    "summary" JSONB NOT NULL,
    "psi" DOUBLE PRECISION,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "feature_drift_snapshots_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "feature_drift_snapshots_model_version_id_feature_window_start_idx" ON "feature_drift_snapshots"("model_version_id", "feature", "window_start");

-- rollouts & audit
CREATE TABLE "rollouts" (
    "id" TEXT NOT NULL,
    "surface_id" TEXT NOT NULL,
    "model_id" TEXT NOT NULL,
    "from_version_id" TEXT,
    "to_version_id" TEXT NOT NULL,
    "status" "RolloutStatus" NOT NULL DEFAULT 'pending',
    "steps" JSONB NOT NULL DEFAULT '[1, 5, 25, 50, 100]',
    "current_percent" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "analysis" JSONB NOT NULL DEFAULT '[]',
    "created_by" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),
    CONSTRAINT "rollouts_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "rollouts_surface_id_started_at_idx" ON "rollouts"("surface_id", "started_at");

CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" TEXT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "reason" TEXT,
    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_log_entity_type_entity_id_ts_idx" ON "audit_log"("entity_type", "entity_id", "ts");
CREATE INDEX "audit_log_ts_idx" ON "audit_log"("ts");

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "surfaces" ADD CONSTRAINT "surfaces_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "models" ADD CONSTRAINT "models_surface_id_fkey" FOREIGN KEY ("surface_id") REFERENCES "surfaces"("id") ON DELETE SET NULL ON UPDATE CASCADE;
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_parent_version_id_fkey" FOREIGN KEY ("parent_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "model_artifacts" ADD CONSTRAINT "model_artifacts_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "model_aliases" ADD CONSTRAINT "model_aliases_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "model_aliases" ADD CONSTRAINT "model_aliases_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "experiments" ADD CONSTRAINT "experiments_surface_id_fkey" FOREIGN KEY ("surface_id") REFERENCES "surfaces"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "experiment_variants" ADD CONSTRAINT "experiment_variants_experiment_id_fkey" FOREIGN KEY ("experiment_id") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "experiment_variants" ADD CONSTRAINT "experiment_variants_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "experiment_phases" ADD CONSTRAINT "experiment_phases_experiment_id_fkey" FOREIGN KEY ("experiment_id") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "item_features" ADD CONSTRAINT "item_features_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "catalog_items"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_surface_id_fkey" FOREIGN KEY ("surface_id") REFERENCES "surfaces"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
