-- Two-stage ranking per surface (issue 16): an optional stage 2 that rescores the top of stage 1's
-- order with a heavier model, { model, alias, rerankCount, budgetMs } (server/surfaces/stage2.schema.ts).
-- NULL: the surface's model alone ranks. The surfaces_notify trigger already announces the change.
ALTER TABLE "surfaces" ADD COLUMN "stage2" JSONB;
