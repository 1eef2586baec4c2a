import { systemActor, type Actor } from "../audit/actor";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client.ts";
import { alignToDataset, buildFeatureMatrix } from "../domain/features/featureSpec";
import { parseLetor } from "../domain/letor/parse";
import { LETOR_SAMPLE } from "../domain/letor/reference";
import { counterfactualCtr, positionBiasPropensities, type LoggedImpression } from "../domain/offline/ips";
import { evaluateRanking } from "../domain/ranking/metrics";
import { orderByScore } from "../domain/ranking/order";
import { InvalidInputError, NotFoundError } from "../errors";
import { featureStore } from "../features/store";
import { openModel, runScores } from "../inference/sessions";
import { recentKey } from "../rerank/recent";

const EVALUATION = systemActor("evaluation");

// Offline evaluation of any stored version: (1) ranking quality on the labelled LETOR test file,
// (2) a counterfactual CTR of its ranking on logged traffic by inverse propensity scoring. Every
// run is stored (model_evaluations) with what it was run with, so the version card, the shadow and
// the rollout flows read the latest one instead of recomputing it.

export type EvaluationKind = "letor" | "counterfactual";

async function store<T extends object>(db: Db, versionId: string, kind: EvaluationKind, params: Record<string, unknown>, result: T, actor: Actor) {
  const row = await db.modelEvaluation.create({
    data: { versionId, kind, params: params as Prisma.InputJsonValue, result: result as Prisma.InputJsonValue, createdBy: actor.name },
    select: { id: true, createdAt: true },
  });
  return { ...result, evaluationId: row.id, evaluatedAt: row.createdAt };
}

/** The stored evaluations of a version, newest first (at most `limit` of each kind). */
export async function listEvaluations(db: Db, name: string, version: number, limit = 10) {
  const row = await db.modelVersion.findFirst({ where: { model: { name }, version }, select: { id: true } });
  if (!row) throw new NotFoundError("model version", `${name} v${version}`);
  const of = (kind: EvaluationKind) => db.modelEvaluation.findMany({ where: { versionId: row.id, kind }, orderBy: { createdAt: "desc" }, take: limit });
  const [letor, counterfactual] = await Promise.all([of("letor"), of("counterfactual")]);
  const shape = (e: (typeof letor)[number]) => ({ id: e.id, kind: e.kind as EvaluationKind, params: e.params as Record<string, unknown>, result: e.result as Record<string, unknown>, createdBy: e.createdBy, createdAt: e.createdAt });
  return { letor: letor.map(shape), counterfactual: counterfactual.map(shape) };
}

/** The version's warm handle (the same one serving would use); a cross-encoder reads text, not the feature rows these evaluations have. */
async function loadVersion(db: Db, name: string, version: number) {
  const row = await db.modelVersion.findFirst({ where: { model: { name }, version, artifact: { isNot: null } }, select: { id: true } });
  if (!row) throw new NotFoundError("model version", `${name} v${version}`);
  const handle = await openModel({ versionId: row.id });
  if (handle.kind !== "tabular") throw new InvalidInputError("version", `${name} v${version} is a cross-encoder: it scores (query, document) text, and these evaluations have feature rows only`);
  return handle;
}

export async function evaluateOnLetor(db: Db, name: string, version: number, actor: Actor = EVALUATION) {
  const v = await loadVersion(db, name, version);
  // turbopackIgnore: read at run time from the checkout; the build traced the whole project for this path (a warning on every `next build`).
  const read = (f: string) => readFileSync(path.join(/*turbopackIgnore: true*/ process.cwd(), LETOR_SAMPLE.dir, f), "utf8");
  const test = parseLetor(read(LETOR_SAMPLE.test.data), read(LETOR_SAMPLE.test.query), { numFeatures: LETOR_SAMPLE.numFeatures });
  // The file's features are f1..f300 (absent in a row = 0, the SVMlight convention); the model's
  // are matched by name, and those the file lacks take the spec's missing rule.
  const columns = Array.from({ length: LETOR_SAMPLE.numFeatures }, (_, i) => `f${i + 1}`);
  const aligned = alignToDataset(v.featureSpec, columns, test.features, test.rows);
  if (!aligned) {
    throw new InvalidInputError("version", `none of ${name} v${version}'s ${v.featureSpec.length} features (${v.featureSpec[0]!.name}, …) is a feature of the LETOR test file (f1..f${LETOR_SAMPLE.numFeatures}); features are matched by name`);
  }
  const started = performance.now();
  const scores = await runScores(v, aligned.data, test.rows, v.featureSpec.length);
  const metrics = evaluateRanking(scores, test.labels, test.groups);
  const file = `${LETOR_SAMPLE.dir}/${LETOR_SAMPLE.test.data}`;
  const result = {
    file, rows: test.rows, queries: metrics.queries, ndcg: metrics.ndcg, mrr: metrics.mrr, scoringMs: performance.now() - started,
    featuresAbsent: aligned.absent.length,
  };
  return await store(db, v.versionId, "letor", { file }, result, actor);
}

/**
 * Re-ranks the items each logged request showed with this version (features from the online store)
 * and estimates the CTR it would have had, weighting logged clicks by position propensities
 * 1/position^eta (clipped, see server/domain/offline/ips.ts).
 * @param options.surface the surface whose logged impressions are read; `days` the window (default 7,
 *   ending now); `eta` the propensity exponent (default 1); `maxRequests` how many requests with an
 *   impression in the window are read, the newest first (default 5,000).
 * @returns the IPS estimate (counterfactualCtr) with its params, as stored: evaluationId, evaluatedAt.
 * @throws NotFoundError (version); InvalidInputError for a cross-encoder, or no impression in the window.
 */
export async function evaluateCounterfactual(db: Db, name: string, version: number, options: { surface: string; days?: number; eta?: number; maxRequests?: number }, actor: Actor = EVALUATION) {
  const v = await loadVersion(db, name, version);
  const since = new Date(Date.now() - (options.days ?? 7) * 86_400_000);
  // A request is its id under its owner (two callers may choose the same id: requestIdOwner). The
  // newest requests of the window: by request id, one caller's id format (numeric ids sort first)
  // would fill the sample whatever its age.
  const found = await db.$queryRaw<Array<{ request_id: string; owner: string; item_id: string; position: number; clicked: boolean }>>`
    WITH recent AS (
      SELECT request_id, owner FROM outcome_events
      WHERE surface = ${options.surface} AND type = 'impression' AND request_ts >= ${since}
      GROUP BY request_id, owner ORDER BY max(request_ts) DESC, request_id, owner LIMIT ${options.maxRequests ?? 5000})
    SELECT e.request_id, e.owner, e.item_id, min(e.position)::int AS position, bool_or(e.type = 'click') AS clicked
    FROM outcome_events e JOIN recent r ON r.request_id = e.request_id AND r.owner = e.owner
    WHERE e.type IN ('impression', 'click') AND e.position IS NOT NULL AND e.request_ts >= ${since}
    GROUP BY e.request_id, e.owner, e.item_id`;
  const rows = found.map((r) => ({ ...r, request_id: recentKey(r.request_id, r.owner) }));
  if (rows.length === 0) throw new InvalidInputError("surface", `no logged impressions on "${options.surface}" in the last ${options.days ?? 7} days`);
  const byRequest = new Map<string, typeof rows>();
  for (const r of rows) byRequest.set(r.request_id, [...(byRequest.get(r.request_id) ?? []), r]);
  const items = await featureStore().getItems([...new Set(rows.map((r) => r.item_id))]);
  const newPositions = new Map<string, Map<string, number>>();
  for (const [requestId, shown] of byRequest) {
    const ordered = [...shown].sort((a, b) => a.position - b.position);
    const matrix = buildFeatureMatrix(v.featureSpec, ordered.map((r, i) => ({ id: r.item_id, retrievalScore: 1 - i / ordered.length })), { item: (id) => items.get(id)?.features, user: undefined }, Date.now());
    const scores = await runScores(v, matrix.data, matrix.rows, matrix.cols);
    newPositions.set(requestId, new Map(orderByScore(scores).map((index, rank) => [ordered[index]!.item_id, rank + 1])));
  }
  const logged: LoggedImpression[] = rows.map((r) => ({ requestId: r.request_id, itemId: r.item_id, loggedPosition: r.position, clicked: r.clicked }));
  const estimate = counterfactualCtr(logged, newPositions, { propensities: positionBiasPropensities(options.eta ?? 1) });
  const params = { surface: options.surface, days: options.days ?? 7, eta: options.eta ?? 1, maxRequests: options.maxRequests ?? 5000 };
  return await store(db, v.versionId, "counterfactual", params, { ...params, ...estimate }, actor);
}
