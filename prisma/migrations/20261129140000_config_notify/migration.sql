-- Config changes are announced to every server process by NOTIFY on the channel "rerank_config",
-- from triggers, so the notification is part of the changing transaction (sent at its commit, not
-- at all on rollback) and no writer can forget it. The payload names the kind of change:
--   'surfaces'  a surface, model alias, experiment (or its variants) or rollout changed: serving
--               configs re-read their fingerprints (server/surfaces/configCache.ts);
--   'api_keys'  a key or a person changed (revocation, expiry, roles, disabling): every process
--               forgets the keys it verified (server/auth/apiKeys.ts).
-- PostgreSQL folds identical notifications of one transaction into one.

CREATE FUNCTION rerank_notify_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('rerank_config', TG_ARGV[0]);
  RETURN NULL;
END $$;

CREATE TRIGGER surfaces_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON surfaces
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('surfaces');
CREATE TRIGGER model_aliases_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_aliases
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('surfaces');
CREATE TRIGGER experiments_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON experiments
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('surfaces');
CREATE TRIGGER experiment_variants_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON experiment_variants
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('surfaces');
CREATE TRIGGER rollouts_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rollouts
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('surfaces');
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('api_keys');
-- A key's last-used time is written as it is used (at most once a minute per key and process):
-- that alone changes nothing a verification depends on, so it is not announced.
CREATE TRIGGER api_keys_notify AFTER INSERT OR DELETE OR TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION rerank_notify_config('api_keys');
CREATE TRIGGER api_keys_update_notify AFTER UPDATE ON api_keys
  FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
  EXECUTE FUNCTION rerank_notify_config('api_keys');
