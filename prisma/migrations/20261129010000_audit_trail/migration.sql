-- The audit trail as evidence: who acted (a person, an API key or a system job, with the request
-- id and client address), a label naming the subject in words, the surfaces an entry concerns
-- (for filtering), indexes for the Audit page's filters, and append-only enforced by the database.

CREATE TYPE "AuditActorKind" AS ENUM ('user', 'api_key', 'system');

ALTER TABLE "audit_log"
    ADD COLUMN "actor_kind" "AuditActorKind",
    ADD COLUMN "actor_id" TEXT,
    ADD COLUMN "request_id" TEXT,
    ADD COLUMN "client_address" TEXT,
    ADD COLUMN "subject_label" TEXT,
    ADD COLUMN "surface_keys" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- Existing entries: the actors the product wrote by name were its own jobs; everything else came
-- from a person (by the x-rerank-user header). Labels and surfaces are derived from the subjects'
-- rows as they are now. Only the new columns are filled: what was recorded stays as it was.
UPDATE "audit_log" a SET
    "actor_kind" = CASE WHEN a."actor" IN ('system', 'seed', 'rollout-analysis') THEN 'system'::"AuditActorKind" ELSE 'user'::"AuditActorKind" END,
    "subject_label" = coalesce(
        CASE a."entity_type"
            WHEN 'surface' THEN (SELECT s."key" FROM "surfaces" s WHERE s."id" = a."entity_id")
            WHEN 'experiment' THEN (SELECT e."key" FROM "experiments" e WHERE e."id" = a."entity_id")
            WHEN 'model' THEN (SELECT m."name" FROM "models" m WHERE m."id" = a."entity_id")
            WHEN 'model_version' THEN (SELECT m."name" || ' v' || v."version" FROM "model_versions" v JOIN "models" m ON m."id" = v."model_id" WHERE v."id" = a."entity_id")
            WHEN 'rollout' THEN (SELECT m."name" || ' v' || v."version" || ' on ' || s."key" FROM "rollouts" r JOIN "models" m ON m."id" = r."model_id"
                JOIN "model_versions" v ON v."id" = r."to_version_id" JOIN "surfaces" s ON s."id" = r."surface_id" WHERE r."id" = a."entity_id")
        END,
        a."entity_id"),
    "surface_keys" = coalesce(
        CASE a."entity_type"
            WHEN 'surface' THEN (SELECT ARRAY[s."key"] FROM "surfaces" s WHERE s."id" = a."entity_id")
            WHEN 'experiment' THEN (SELECT ARRAY[s."key"] FROM "experiments" e JOIN "surfaces" s ON s."id" = e."surface_id" WHERE e."id" = a."entity_id")
            WHEN 'rollout' THEN (SELECT ARRAY[s."key"] FROM "rollouts" r JOIN "surfaces" s ON s."id" = r."surface_id" WHERE r."id" = a."entity_id")
            WHEN 'model_version' THEN (SELECT array_agg(s."key") FROM "model_versions" v JOIN "models" m ON m."id" = v."model_id" JOIN "surfaces" s ON s."id" = m."surface_id" WHERE v."id" = a."entity_id")
            WHEN 'model' THEN (SELECT array_agg(DISTINCT s."key" ORDER BY s."key") FROM "surfaces" s
                WHERE s."id" = (SELECT m."surface_id" FROM "models" m WHERE m."id" = a."entity_id")
                   OR (s."model_id" = a."entity_id" AND a."after"->>'alias' IN (s."model_alias", s."fallback_alias", s."shadow_alias")))
        END,
        ARRAY[]::TEXT[]);

ALTER TABLE "audit_log" ALTER COLUMN "actor_kind" SET NOT NULL, ALTER COLUMN "subject_label" SET NOT NULL;

CREATE INDEX "audit_log_actor_id_idx" ON "audit_log"("actor", "id");
CREATE INDEX "audit_log_action_id_idx" ON "audit_log"("action", "id");
CREATE INDEX "audit_log_surface_keys_idx" ON "audit_log" USING GIN ("surface_keys");

-- Append-only: entries are evidence, so the database itself refuses to change or remove them,
-- whoever asks. Statement-level, so even an UPDATE or DELETE that matches no row is refused.
CREATE FUNCTION "audit_log_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit entries are evidence. Record a new entry (recordAudit) instead of changing or removing one.';
END
$$;

CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_log"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_append_only"();
