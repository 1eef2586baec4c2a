import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";
import { servedItemIdSql } from "../domain/ranking/servedList";
import { summariseDrift, type DriftSummary } from "../domain/features/drift";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { quantileSorted } from "../domain/stats/describe";
import { NotFoundError } from "../errors";
import { inputSampler } from "../features/inputSampler";

// Drift and freshness of the serving model's features on a surface. Drift: this process's sample of
// the feature rows the model scored (every candidate, not only the served ones, which the model
// picked and so differ from the catalog by design), against the training distribution in the
// model's feature spec. Freshness: how old the stored values of the items served in the most recent
// requests are (each counted as often as it was served), against each feature's freshness limit.

export interface FeatureHealthRow {
  feature: string;
  source: string;
  training: { mean: number; std: number } | null;
  /** Drift of the sampled inputs; null for a feature the sample does not have. */
  serving: DriftSummary | null;
  freshnessSeconds: number | null;
  /** Share of the served items whose stored value is older than the freshness limit. */
  staleShare: number | null;
}

/** How far back feature health reads the request log, in days (its newest `requests` within them). */
export const FEATURE_HEALTH_DAYS = 7;

export async function featureHealth(db: Db, input: { surface: string; requests: number }) {
  const surface = await db.surface.findUnique({
    where: { key: input.surface },
    select: { key: true, modelAlias: true, model: { select: { name: true, aliases: { select: { name: true, version: { select: { id: true, version: true, featureSpec: true } } } } } } },
  });
  if (!surface) throw new NotFoundError("surface", input.surface);
  const version = surface.model?.aliases.find((a) => a.name === surface.modelAlias)?.version;
  if (!surface.model || !version) return { surface: surface.key, model: null, requests: 0, items: 0, sampledRows: 0, offeredRows: 0, ages: null, features: [] as FeatureHealthRow[] };
  const sample = inputSampler().sample(surface.key, version.id);
  const spec = version.featureSpec as unknown as FeatureSpec;

  // The requests the serving version scored: not fallbacks (retrieval order, no features read) nor a canary's or an arm's other version.
  // Within the last FEATURE_HEALTH_DAYS: the log is partitioned by day, and without a lower bound on ts
  // every day before this version served would be read through for a first matching row.
  const servedBy = Prisma.sql`surface = ${surface.key} AND ts >= now() - make_interval(days => ${FEATURE_HEALTH_DAYS}) AND model_version_id = ${version.id} AND NOT fallback_used`;
  // One read of the recent requests: their count on every row (one row with no item when they served none).
  const rows = await db.$queryRaw<Array<{ requests: number; id: string | null; times: number; values: Record<string, unknown> | null; age_s: number | null }>>`
    WITH recent AS (SELECT served FROM rerank_requests WHERE ${servedBy} ORDER BY ts DESC LIMIT ${input.requests}),
      ids AS (SELECT ${Prisma.raw(servedItemIdSql("e"))} AS id, count(*)::float8 AS times FROM recent, json_array_elements(recent.served) e GROUP BY 1)
    SELECT c.requests, i.id, i.times, i.values, i.age_s
    FROM (SELECT count(*)::float8 AS requests FROM recent) c
    LEFT JOIN (SELECT ids.id, ids.times, f.values, extract(epoch FROM now() - f.updated_at)::float8 AS age_s
               FROM ids LEFT JOIN item_features f ON f.item_id = ids.id) i ON true`;
  const requests = rows[0]?.requests ?? 0;
  const served = rows.filter((r): r is typeof r & { id: string } => r.id !== null);
  const servedTimes = served.reduce((s, r) => s + r.times, 0);
  const ages = served.filter((r) => r.age_s !== null).flatMap((r) => new Array<number>(r.times).fill(r.age_s!)).sort((a, b) => a - b);

  const features: FeatureHealthRow[] = spec.map((def) => {
    let stale = 0;
    if (def.source === "item" && def.freshnessSeconds) {
      for (const r of served) if (r.age_s !== null && r.age_s > def.freshnessSeconds) stale += r.times;
    }
    const values = sample?.columns.get(def.name);
    return {
      feature: def.name, source: def.source,
      training: def.distribution ? { mean: def.distribution.mean, std: def.distribution.std } : null,
      serving: values ? summariseDrift(values, def.distribution) : null,
      freshnessSeconds: def.freshnessSeconds ?? null,
      staleShare: def.source === "item" && def.freshnessSeconds && servedTimes ? stale / servedTimes : null,
    };
  });
  return {
    surface: surface.key,
    model: `${surface.model.name} v${version.version}`,
    requests,
    items: served.length,
    sampledRows: sample?.columns.values().next().value?.length ?? 0,
    offeredRows: sample?.offered ?? 0,
    ages: ages.length ? { p50: quantileSorted(ages, 0.5), p95: quantileSorted(ages, 0.95), max: ages.at(-1)! } : null,
    features,
  };
}
