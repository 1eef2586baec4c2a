-- Config caches notice a change by its row's updated_at (server/surfaces/configCache.ts fingerprint).
-- The console sets updated_at itself (Prisma), but an operator's psql UPDATE that leaves it alone was
-- notified (migration 20261129140000_config_notify) and then ignored: the fingerprint had not moved
-- (found by the #15 break test: UPDATE surfaces SET kill_switch = true never reached the replicas).
-- Any UPDATE that does not set updated_at now gets the statement's clock time.
CREATE OR REPLACE FUNCTION rerank_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := clock_timestamp();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER surfaces_touch_updated_at BEFORE UPDATE ON surfaces FOR EACH ROW EXECUTE FUNCTION rerank_touch_updated_at();
CREATE TRIGGER model_aliases_touch_updated_at BEFORE UPDATE ON model_aliases FOR EACH ROW EXECUTE FUNCTION rerank_touch_updated_at();
CREATE TRIGGER experiments_touch_updated_at BEFORE UPDATE ON experiments FOR EACH ROW EXECUTE FUNCTION rerank_touch_updated_at();
