-- Issue #14 (break test). Promoting a canary onto a surface that requires approval, when its start
-- was not approved for that surface (the surface shares the alias, or became guarded, after the
-- start), is a change request of its own.
ALTER TYPE "ChangeRequestKind" ADD VALUE 'canary_promote';

-- Stage 2 (cascade) configuration changes are promotion-history rows: which surface, which model
-- and alias (and the version it pointed at) rescored its top, from when. An alias move names the
-- surfaces it reached as stage 2 apart from those it reached as stage 1, so a surface's history
-- says which stage each row changed.
ALTER TYPE "PromotionKind" ADD VALUE 'stage2';
ALTER TABLE "promotion_history" ADD COLUMN "stage2_surfaces" TEXT[] DEFAULT ARRAY[]::TEXT[];
