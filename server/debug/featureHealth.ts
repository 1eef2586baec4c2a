import type { Db } from "../db/client";
import { summariseDrift, type DriftSummary } from "../domain/features/drift";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { quantileSorted } from "../domain/stats/describe";
import { NotFoundError } from "../errors";

// Drift and freshness of the serving model's item features on a surface: the stored values of the
// items served in the most recent requests (each item counted as often as it was served), against
// the training distribution in the model's feature spec; and how old those stored values are
// against each feature's freshness limit.

export interface FeatureHealthRow {
  feature: string;
  source: string;
  training: { mean: number; std: number } | null;
  serving: DriftSummary | null;
  freshnessSeconds: number | null;
  /** Share of the served items whose stored value is older than the freshness limit. */
  staleShare: number | null;
}

export async function featureHealth(db: Db, input: { surface: string; requests: number }) {
  const surface = await db.surface.findUnique({
    where: { key: input.surface },
    select: { key: true, modelAlias: true, model: { select: { name: true, aliases: { select: { name: true, version: { select: { id: true, version: true, featureSpec: true } } } } } } },
  });
  if (!surface) throw new NotFoundError("surface", input.surface);
  const version = surface.model?.aliases.find((a) => a.name === surface.modelAlias)?.version;
  if (!surface.model || !version) return { surface: surface.key, model: null, requests: 0, items: 0, ages: null, features: [] as FeatureHealthRow[] };
  const spec = version.featureSpec as unknown as FeatureSpec;

  const served = await db.$queryRaw<Array<{ id: string; times: number; values: Record<string, unknown> | null; age_s: number | null }>>`
    WITH recent AS (SELECT served FROM rerank_requests WHERE surface = ${surface.key} ORDER BY ts DESC LIMIT ${input.requests}),
      ids AS (SELECT e->>'id' AS id, count(*)::int AS times FROM recent, jsonb_array_elements(recent.served) e GROUP BY 1)
    SELECT ids.id, ids.times, f.values, extract(epoch FROM now() - f.updated_at)::float8 AS age_s
    FROM ids LEFT JOIN item_features f ON f.item_id = ids.id`;
  const requests = (await db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM (SELECT 1 FROM rerank_requests WHERE surface = ${surface.key} ORDER BY ts DESC LIMIT ${input.requests}) r`)[0]?.n ?? 0;
  const servedTimes = served.reduce((s, r) => s + r.times, 0);
  const ages = served.filter((r) => r.age_s !== null).flatMap((r) => new Array<number>(r.times).fill(r.age_s!)).sort((a, b) => a - b);

  const features: FeatureHealthRow[] = spec.map((def) => {
    if (def.source !== "item") {
      return { feature: def.name, source: def.source, training: def.distribution ? { mean: def.distribution.mean, std: def.distribution.std } : null, serving: null, freshnessSeconds: def.freshnessSeconds ?? null, staleShare: null };
    }
    const values: number[] = [];
    let stale = 0;
    for (const r of served) {
      const v = r.values?.[def.name];
      if (typeof v === "number" && Number.isFinite(v)) for (let i = 0; i < r.times; i++) values.push(v);
      if (def.freshnessSeconds && r.age_s !== null && r.age_s > def.freshnessSeconds) stale += r.times;
    }
    return {
      feature: def.name, source: def.source,
      training: def.distribution ? { mean: def.distribution.mean, std: def.distribution.std } : null,
      serving: summariseDrift(values, def.distribution),
      freshnessSeconds: def.freshnessSeconds ?? null,
      staleShare: def.freshnessSeconds && servedTimes ? stale / servedTimes : null,
    };
  });
  return {
    surface: surface.key,
    model: `${surface.model.name} v${version.version}`,
    requests,
    items: served.length,
    ages: ages.length ? { p50: quantileSorted(ages, 0.5), p95: quantileSorted(ages, 0.95), max: ages.at(-1)! } : null,
    features,
  };
}
