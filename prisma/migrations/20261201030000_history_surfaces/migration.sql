-- Promotion history rows name every surface a change reached (issue #14). A move of an alias that
-- several surfaces share (search and home-feed both serving search-ranker production, another
-- surface using it as stage 2) changed all of them, but the row named one surface or none.
--
-- Why an array on the one row, not one row per surface: a row is one change of what an alias
-- points at, and the rollback targets and "what served at T" fold those rows per (model, alias)
-- into stints of distinct versions (server/domain/rollouts/history.ts). A row per surface would
-- repeat each move N times there, and the append-only table could no longer say which rows were
-- one change. The array keeps one fact per change, found per surface through a GIN index
-- (`surfaces @> ARRAY['home-feed']`, Prisma's `has`), the way audit_log.surface_keys already is.
-- surface_key stays: the one surface a canary or kill-switch row, or a canary@<surface> alias, belongs to.
ALTER TABLE "promotion_history" ADD COLUMN "surfaces" TEXT[] DEFAULT ARRAY[]::TEXT[];
CREATE INDEX "promotion_history_surfaces_idx" ON "promotion_history" USING GIN ("surfaces");

-- Backfill, the one change ever made to committed rows (the append-only trigger is off for it):
-- an alias row takes the surfaces of the audit entry its move wrote in the same transaction (same
-- model, alias and target version, nearest in time within 5 s); until now those entries named the
-- surfaces serving the alias as serving, fallback or shadow alias, and the model's own surface.
-- Surface rows, and alias rows without such an entry, take their surface_key; rows with neither
-- stay empty (they are still found by model and alias).
ALTER TABLE "promotion_history" DISABLE TRIGGER "promotion_history_append_only";

WITH "matched" AS (
    SELECT p."id", (
        SELECT a."surface_keys" FROM "audit_log" a
        WHERE a."entity_type" = 'model' AND a."entity_id" = p."model_id"
          AND a."action" = CASE WHEN p."to_version_id" IS NULL THEN 'model.alias.clear' ELSE 'model.alias.set' END
          AND a."after"->>'alias' = p."alias"
          AND (p."to_version_id" IS NULL OR a."after"->>'versionId' = p."to_version_id")
          AND a."ts" BETWEEN p."ts" - interval '5 seconds' AND p."ts" + interval '5 seconds'
        ORDER BY abs(extract(epoch FROM a."ts" - p."ts")), a."id"
        LIMIT 1
    ) AS "keys"
    FROM "promotion_history" p
    WHERE p."alias" IS NOT NULL AND p."model_id" IS NOT NULL AND p."kind" IN ('alias_move', 'rollback', 'ship', 'promotion')
)
UPDATE "promotion_history" p
SET "surfaces" = ARRAY(SELECT DISTINCT k FROM unnest(m."keys" || CASE WHEN p."surface_key" IS NULL THEN ARRAY[]::TEXT[] ELSE ARRAY[p."surface_key"] END) AS k ORDER BY k)
FROM "matched" m
WHERE m."id" = p."id" AND m."keys" IS NOT NULL;

UPDATE "promotion_history" SET "surfaces" = ARRAY["surface_key"] WHERE "surface_key" IS NOT NULL AND "surfaces" = ARRAY[]::TEXT[];

ALTER TABLE "promotion_history" ENABLE TRIGGER "promotion_history_append_only";

-- Stage 2 of a cascade ranks the top of a surface's order: on a surface that requires approval,
-- setting or removing it is a change request too (review s11, item 1).
ALTER TYPE "ChangeRequestKind" ADD VALUE 'surface_stage2';
