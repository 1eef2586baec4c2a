-- Promotion history: which version served when. One row per change of what a model alias points
-- at (alias moves, rollbacks, ships, canary promotions) and per change of a surface's serving state
-- (canary start, step, pause, resume, promotion, rollback, abort; kill switch), with who, why and
-- from → to. Written with the audit entry of the same change, in its transaction. Indexed for
-- "what did <model> <alias> point at, at time T" and "what happened on <surface> up to time T".

CREATE TYPE "PromotionKind" AS ENUM (
    'alias_move', 'rollback', 'ship', 'promotion',
    'canary_start', 'canary_step', 'canary_paused', 'canary_resumed', 'canary_promoted', 'canary_rolled_back', 'canary_aborted',
    'kill_switch'
);

CREATE TABLE "promotion_history" (
    "id" BIGSERIAL NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "kind" "PromotionKind" NOT NULL,
    "model_id" TEXT,
    "model_name" TEXT,
    "alias" TEXT,
    "surface_key" TEXT,
    "from_version_id" TEXT,
    "from_version" INTEGER,
    "to_version_id" TEXT,
    "to_version" INTEGER,
    "percent" DOUBLE PRECISION,
    "kill_switch" BOOLEAN,
    "rollout_id" TEXT,
    "actor" TEXT NOT NULL,
    "actor_kind" "AuditActorKind" NOT NULL,
    "reason" TEXT,

    CONSTRAINT "promotion_history_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "promotion_history_model_id_alias_ts_idx" ON "promotion_history"("model_id", "alias", "ts");
CREATE INDEX "promotion_history_surface_key_ts_idx" ON "promotion_history"("surface_key", "ts");

-- The history is evidence like the audit trail it sits beside: rows are never changed or removed.
CREATE FUNCTION "promotion_history_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'promotion_history is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new row (recordPromotion) instead of changing or removing one.';
END
$$;

CREATE TRIGGER "promotion_history_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "promotion_history"
    FOR EACH STATEMENT EXECUTE FUNCTION "promotion_history_append_only"();

-- What the audit trail already recorded becomes the history's start, in order. Alias moves whose
-- reason starts "rollback:" were on-call rollbacks; those by the canary analysis were promotions.
INSERT INTO "promotion_history" ("ts", "kind", "model_id", "model_name", "alias", "surface_key", "from_version_id", "from_version", "to_version_id", "to_version", "actor", "actor_kind", "reason")
SELECT a."ts",
       (CASE WHEN a."reason" LIKE 'rollback:%' THEN 'rollback' WHEN a."actor" = 'rollout-analysis' THEN 'promotion' ELSE 'alias_move' END)::"PromotionKind",
       a."entity_id", a."subject_label", a."after"->>'alias', NULL,
       a."before"->>'versionId', (a."before"->>'version')::int, a."after"->>'versionId', (a."after"->>'version')::int,
       a."actor", a."actor_kind", a."reason"
FROM "audit_log" a WHERE a."action" = 'model.alias.set' ORDER BY a."id";

INSERT INTO "promotion_history" ("ts", "kind", "surface_key", "model_id", "model_name", "kill_switch", "actor", "actor_kind", "reason")
SELECT a."ts", 'kill_switch', s."key", m."id", m."name", (a."after"->>'killSwitch')::boolean, a."actor", a."actor_kind", a."reason"
FROM "audit_log" a JOIN "surfaces" s ON s."id" = a."entity_id" LEFT JOIN "models" m ON m."id" = s."model_id"
WHERE a."action" = 'surface.kill_switch' ORDER BY a."id";

INSERT INTO "promotion_history" ("ts", "kind", "surface_key", "model_id", "model_name", "from_version_id", "from_version", "to_version_id", "to_version", "percent", "rollout_id", "actor", "actor_kind", "reason")
SELECT a."ts",
       (CASE a."action" WHEN 'rollout.start' THEN 'canary_start' WHEN 'rollout.advance' THEN 'canary_step' WHEN 'rollout.promoted' THEN 'canary_promoted'
            WHEN 'rollout.rolled_back' THEN 'canary_rolled_back' ELSE 'canary_aborted' END)::"PromotionKind",
       s."key", m."id", m."name", r."from_version_id", fv."version", r."to_version_id", tv."version",
       CASE WHEN a."action" = 'rollout.start' THEN (r."steps"->>0)::double precision ELSE (a."after"->>'percent')::double precision END,
       r."id", a."actor", a."actor_kind", a."reason"
FROM "audit_log" a JOIN "rollouts" r ON r."id" = a."entity_id" JOIN "surfaces" s ON s."id" = r."surface_id" JOIN "models" m ON m."id" = r."model_id"
     LEFT JOIN "model_versions" fv ON fv."id" = r."from_version_id" LEFT JOIN "model_versions" tv ON tv."id" = r."to_version_id"
WHERE a."action" LIKE 'rollout.%' ORDER BY a."id";
