-- Per-key rate limits (requests per second, and a burst) for serving keys; null: no limit of the key's own.
-- Adding nullable columns without defaults rewrites nothing (metadata only).
ALTER TABLE "api_keys" ADD COLUMN "rate_limit" DOUBLE PRECISION, ADD COLUMN "rate_burst" INTEGER;
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_rate_limit_positive" CHECK ("rate_limit" IS NULL OR ("rate_limit" > 0 AND "rate_limit" <= 100000));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_rate_burst_positive" CHECK ("rate_burst" IS NULL OR ("rate_burst" >= 1 AND "rate_burst" <= 100000));
