import type { Actor } from "../audit/actor";
import type { Db } from "../db/client";
import { buildFeatureMatrix, type FeatureSpec } from "../domain/features/featureSpec";
import { treeEnsembleOnnx } from "../domain/onnx/treeEnsemble";
import { evaluateRanking, type RankingMetrics } from "../domain/ranking/metrics";
import { trainLambdaMart, type LambdaMartParams, type RankingDataset } from "../domain/training/lambdamart";
import { predictMatrix } from "../domain/trees/ensemble";
import { InvalidInputError, NotFoundError } from "../errors";
import { featureStore } from "../features/store";
import { createVersion } from "./versions";
import { fnv1a32 } from "../domain/hashing";
import { recentKey } from "../rerank/recent";

// Trains a new version of a surface's model from its logged traffic: each logged request is a query
// group, the items it showed are its documents, labelled 2 if bought, 1 if clicked, else 0. Two
// simplifications, stated on the version's metadata: item features are the values in the store
// today (the log does not keep serving-time features), and the retrieval score, which the log does
// not keep, is replaced by the logged position's rank score.

interface LoggedItem {
  request_id: string;
  /** The id's owner ('' when shared). */
  owner: string;
  item_id: string;
  position: number;
  label: number;
}

async function datasetOf(groups: LoggedItem[][], spec: FeatureSpec): Promise<RankingDataset> {
  const items = await featureStore().getItems([...new Set(groups.flat().map((r) => r.item_id))]);
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  for (const group of groups) {
    const k = group.length;
    const matrix = buildFeatureMatrix(spec, group.map((r) => ({ id: r.item_id, retrievalScore: 1 - (r.position - 1) / k })), { item: (id) => items.get(id)?.features, user: undefined }, Date.now());
    parts.push(matrix.data);
    labels.push(...group.map((r) => r.label));
  }
  const features = new Float32Array(labels.length * spec.length);
  let offset = 0;
  for (const p of parts) {
    features.set(p, offset);
    offset += p.length;
  }
  return { rows: labels.length, numFeatures: spec.length, features, labels, groups: groups.map((g) => g.length) };
}

/**
 * Trains a LambdaMART version of surface `options.surface`'s model from its logged requests (see the
 * header): the newest `maxRequests` (default 50,000) requests of the last `days` (default 30) that
 * were clicked (or added to cart, or bought), one in five held out by request id; stored as a new
 * version whose parent is the surface's serving alias.
 * @returns { version, trainRequests, testRequests, candidate and logged-order ranking metrics, trainingSeconds }.
 * @throws NotFoundError (the surface or its model); InvalidInputError when the serving alias is unset
 *   or fewer than 20 such requests were logged.
 */
export async function trainFromLogs(
  db: Db,
  options: { surface: string; days?: number; maxRequests?: number; params?: Partial<LambdaMartParams>; actor: Actor; onProgress?: (tree: number, seconds: number) => void },
) {
  const surface = await db.surface.findUnique({ where: { key: options.surface }, include: { model: true } });
  if (!surface?.model) throw new NotFoundError("surface model", options.surface);
  const production = await db.modelAlias.findUnique({ where: { modelId_name: { modelId: surface.model.id, name: surface.modelAlias } }, include: { version: true } });
  if (!production) throw new InvalidInputError("surface", `surface "${options.surface}" has no "${surface.modelAlias}" version to start from`);
  // Our trainer learns no missing-value branches: absent values are given their defaults in training
  // and must be in serving too, whatever rule the production model (perhaps an imported XGBoost) had.
  const spec: FeatureSpec = (production.version.featureSpec as unknown as FeatureSpec).map((f) => ({ ...f, missing: "default" }));
  const since = new Date(Date.now() - (options.days ?? 30) * 86_400_000);
  // The newest requests that can teach the order: shown with more than one positioned item and a
  // click, add to cart or purchase on one (label > 0). The limit counts those only; taken before the
  // filter, requests nobody clicked (most of them) would take most of it.
  const rows = await db.$queryRaw<LoggedItem[]>`
    WITH recent AS (
      SELECT request_id, owner FROM outcome_events WHERE surface = ${options.surface} AND request_ts >= ${since}
      GROUP BY request_id, owner
      HAVING bool_or(type = 'impression') AND bool_or(type IN ('click', 'add_to_cart', 'purchase') AND position IS NOT NULL)
        AND count(DISTINCT item_id) FILTER (WHERE position IS NOT NULL) > 1
      ORDER BY max(request_ts) DESC, request_id, owner
      LIMIT ${options.maxRequests ?? 50_000})
    SELECT e.request_id, e.owner, e.item_id, min(e.position)::int AS position,
      max(CASE e.type WHEN 'purchase' THEN 2 WHEN 'add_to_cart' THEN 1 WHEN 'click' THEN 1 ELSE 0 END)::int AS label
    FROM outcome_events e JOIN recent r ON r.request_id = e.request_id AND r.owner = e.owner
    WHERE e.position IS NOT NULL AND e.request_ts >= ${since} GROUP BY e.request_id, e.owner, e.item_id ORDER BY e.request_id, e.owner, position`;
  // A request is its id under its owner (two callers may choose the same id: requestIdOwner).
  const byRequest = new Map<string, LoggedItem[]>();
  for (const r of rows) {
    const key = recentKey(r.request_id, r.owner);
    byRequest.set(key, [...(byRequest.get(key) ?? []), r]);
  }
  // Only requests with at least one click teach anything about the order (the query picked those).
  const groups = [...byRequest.values()].filter((g) => g.length > 1 && g.some((r) => r.label > 0));
  if (groups.length < 20) throw new InvalidInputError("surface", `only ${groups.length} logged requests on "${options.surface}" have clicks; run traffic first (npm run simulate)`);
  const isTest = (g: LoggedItem[]) => fnv1a32(g[0]!.request_id) % 5 === 0;
  const train = await datasetOf(groups.filter((g) => !isTest(g)), spec);
  const test = await datasetOf(groups.filter(isTest), spec);

  const params = { numTrees: 60, numLeaves: 15, minDataInLeaf: 20, learningRate: 0.1, ...options.params };
  const started = performance.now();
  const ensemble = trainLambdaMart(train, { ...params, onProgress: (t, p) => options.onProgress?.(t, p.seconds) });
  const trainingSeconds = (performance.now() - started) / 1000;
  const candidate = evaluateRanking(predictMatrix(ensemble, test.features, test.rows), test.labels, test.groups);
  // The logged order itself is the production baseline on the same held-out requests.
  const logged = evaluateRanking(Float64Array.from(test.groups.flatMap((n) => Array.from({ length: n }, (_, i) => n - i))), test.labels, test.groups);
  const metricsOf = (m: RankingMetrics, prefix = "") => ({ ...Object.fromEntries(Object.entries(m.ndcg).map(([k, v]) => [`${prefix}ndcg@${k}`, v])), [`${prefix}mrr`]: m.mrr });

  const version = await createVersion(db, {
    modelId: surface.model.id,
    bytes: treeEnsembleOnnx(ensemble, { metadata: { model: surface.model.name, trainedFrom: `logs of ${options.surface}` } }),
    featureSpec: spec,
    source: "trained-from-logs",
    parentVersionId: production.version.id,
    actor: options.actor,
    metrics: { ...metricsOf(candidate), ...metricsOf(logged, "logged_order_") },
    metadata: {
      trainingData: `${train.groups.length} logged requests with clicks on ${options.surface} (${train.rows} shown items); ${test.groups.length} held out`,
      hyperparameters: params, trainingSeconds,
      notes: "labels: purchase 2, click or add-to-cart 1, else 0. Item features are today's stored values; retrieval score replaced by the logged position.",
    },
  });
  return { version, trainRequests: train.groups.length, testRequests: test.groups.length, candidate, logged, trainingSeconds };
}
