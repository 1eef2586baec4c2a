import { Prisma } from "../db/generated/client.ts";
import { withinPhase } from "./phaseWindow";

/** One model version an arm served, with how many of the requests read it served. */
export interface ServedVersion {
  /** The arm's key as logged ("interleaved" for an interleaving experiment's lists). */
  variantKey: string;
  versionId: string;
  version: number;
  modelId: string;
  modelName: string;
  /** Requests (of those read: see `recent`) this version served for the arm. */
  requests: number;
}

/**
 * The model versions arms of experiment `experimentKey` served in phase `phase`, from the request log:
 * the requests the arm's own model answered. Requests a fallback served are left out: their
 * model_version_id names the cascade's fallback model (or is NULL: retrieval order), not the arm's,
 * and with the kill switch on or the circuit open they would otherwise fill the sample. Units seen in
 * more than one arm are kept: which versions an arm served is not a metric, and a version it served
 * to such a unit is still one it served.
 *
 * The results page ("served versions") and a ship (shipTarget) both read this, so what the page and
 * the ship dialog name is what a ship ships.
 *
 * @param variantKeys the arms to read (a key that served nothing has no row).
 * @param options.recent read only each arm's `recent` most recent such requests (an index range scan,
 *   so the page stays fast however long the experiment has run); absent: every request of the phase.
 * @returns rows ordered by arm, then requests (most first), then version number.
 */
export async function servedVersions(
  db: Pick<Prisma.TransactionClient, "$queryRaw">,
  experimentKey: string,
  phase: number,
  variantKeys: readonly string[],
  options: { recent?: number } = {},
): Promise<ServedVersion[]> {
  if (variantKeys.length === 0) return [];
  const recent = options.recent === undefined ? Prisma.empty : Prisma.sql`ORDER BY r.ts DESC LIMIT ${options.recent}`;
  // Counts are read as float8 (count() is bigint: server/db/countCasts.test.ts).
  const rows = await db.$queryRaw<Array<{ variant_key: string; version_id: string; version: number; model_id: string; model_name: string; requests: number }>>`
    SELECT v.variant_key, s.model_version_id AS version_id, mv.version, mv.model_id, m.name AS model_name, s.requests
    FROM unnest(${[...variantKeys]}::text[]) AS v(variant_key)
    CROSS JOIN LATERAL (SELECT served.model_version_id, count(*)::float8 AS requests FROM (
      SELECT r.model_version_id FROM rerank_requests r
      WHERE r.experiment_key = ${experimentKey} AND r.experiment_phase = ${phase} AND ${withinPhase("r.ts", experimentKey, phase)} AND r.variant_key = v.variant_key
        AND NOT r.fallback_used AND r.model_version_id IS NOT NULL
      ${recent}) served GROUP BY served.model_version_id) s
    JOIN model_versions mv ON mv.id = s.model_version_id JOIN models m ON m.id = mv.model_id
    ORDER BY v.variant_key, s.requests DESC, mv.version`;
  return rows.map((r) => ({
    variantKey: r.variant_key, versionId: r.version_id, version: Number(r.version),
    modelId: r.model_id, modelName: r.model_name, requests: Number(r.requests),
  }));
}
