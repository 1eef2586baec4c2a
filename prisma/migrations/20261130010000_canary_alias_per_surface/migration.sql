-- Canary aliases per surface (issue #14 break test). Rollouts are per surface, but the "canary"
-- alias was per model: two surfaces rolling out on one model overwrote and cleared each other's.
-- Each rollout now mirrors its version into its surface's own alias, canary@<surface key>, and
-- clears only that one when it ends. Running and paused rollouts get theirs here; a plain "canary"
-- alias that one of them set (it points at an active rollout's version) is removed, each change
-- with its promotion-history row. A "canary" alias someone set by hand on another version stays.

WITH moved AS (
    INSERT INTO "model_aliases" ("id", "model_id", "name", "version_id", "updated_by", "updated_at")
    SELECT gen_random_uuid()::text, r."model_id", 'canary@' || s."key", r."to_version_id", 'migration 20261130010000', CURRENT_TIMESTAMP
    FROM "rollouts" r JOIN "surfaces" s ON s."id" = r."surface_id"
    WHERE r."status" IN ('running', 'paused')
    ON CONFLICT ("model_id", "name") DO NOTHING
    RETURNING "model_id", "name", "version_id"
)
INSERT INTO "promotion_history" ("kind", "model_id", "model_name", "alias", "surface_key", "to_version_id", "to_version", "actor", "actor_kind", "reason")
SELECT 'alias_move', m."model_id", md."name", m."name", substr(m."name", 8), m."version_id", v."version", 'migration 20261130010000', 'system', 'canary alias per surface'
FROM moved m JOIN "models" md ON md."id" = m."model_id" JOIN "model_versions" v ON v."id" = m."version_id";

WITH cleared AS (
    DELETE FROM "model_aliases" a
    WHERE a."name" = 'canary'
      AND EXISTS (SELECT 1 FROM "rollouts" r WHERE r."model_id" = a."model_id" AND r."to_version_id" = a."version_id" AND r."status" IN ('running', 'paused'))
    RETURNING a."model_id", a."version_id"
)
INSERT INTO "promotion_history" ("kind", "model_id", "model_name", "alias", "from_version_id", "from_version", "actor", "actor_kind", "reason")
SELECT 'alias_move', c."model_id", md."name", 'canary', c."version_id", v."version", 'migration 20261130010000', 'system', 'canary alias per surface: moved to canary@<surface>'
FROM cleared c JOIN "models" md ON md."id" = c."model_id" JOIN "model_versions" v ON v."id" = c."version_id";
