import { env } from "../config";
import { featureVector } from "../domain/features/featureRows";
import type { StoredFeatures } from "../domain/features/featureSpec";
import { seedOfKey } from "../domain/hashing";
import { sampledForShadow } from "../domain/ranking/agreement";
import { openModel } from "../inference/sessions";
import { errorForLog } from "../redact";
import { telemetry, type ScoringSampleRow } from "../telemetry/streams";
import type { RerankRequest, RerankResponse } from "./schema";
import type { ItemLookup } from "./scoring";

// The record stage's sample of full scoring rows, for the Debug page: for a DEBUG_SAMPLE_RATE share
// of requests (and every request sent from the Debug page), the features the serving model saw for
// each served item, its score and the stage timings. The row is built after the response has gone
// out (setImmediate) and written by the telemetry writer; the request itself only pays a hash.

/** Served items a sample keeps: a top k beyond this adds size, not insight. */
export const SAMPLE_MAX_ITEMS = 100;

/** Whether a request is in the scoring sample: a deterministic draw from its id, like the shadow sample (another seed). */
export function inScoringSample(requestId: string, rate: number): boolean {
  return sampledForShadow(seedOfKey(`debug:${requestId}`), rate);
}

export interface ScoringSampleInput {
  request: RerankRequest;
  response: RerankResponse;
  /** The request's log time (the request log row has the same ts). */
  ts: Date;
  /** The id's owner (requestIdOwner; null: shared), as the request log row's. */
  owner: string | null;
  items: ItemLookup;
  user: StoredFeatures | undefined;
  /** Sent from the Debug page: always kept. */
  always?: boolean;
}

/** Called once per request from the record stage. Synchronous and O(1) unless the request is sampled; then the work is deferred past the response. */
export function keepScoringRows(input: ScoringSampleInput): void {
  const reason = input.always ? "debug" : inScoringSample(input.response.requestId, env().DEBUG_SAMPLE_RATE) ? "sampled" : null;
  if (!reason) return;
  const streams = telemetry();
  if (!streams.enabled) return;
  setImmediate(() => {
    scoringSampleRow(input, reason)
      .then(
        (row) => streams.scoringSamples.enqueue(row),
        () => {
          // The serving model can no longer be opened (it was just used, so this is rare): the sample is skipped, never the request.
        },
      )
      // Nothing awaits it: a row the writer refuses (enqueue throws) is logged, never an unhandled rejection (Node 20 ends the process).
      .catch((error: unknown) => console.error(`[rerank] a scoring sample was not kept: ${errorForLog(error)}`));
  });
}

/**
 * The sample row: each served item's vector under the serving model's spec (the cascade model's
 * when it served; none when retrieval order did), as of the request's time, so a value's staleness
 * is judged as it was then. For an interleaved request, the features are those of the model named
 * in the response (variant A's).
 */
export async function scoringSampleRow(input: ScoringSampleInput, reason: ScoringSampleRow["reason"]): Promise<ScoringSampleRow> {
  const { request, response } = input;
  const spec = response.modelVersion ? (await openModel({ versionId: response.modelVersion.id })).featureSpec : [];
  const candidates = new Map(request.candidates.map((c) => [c.id, c]));
  const lookup = { item: (id: string) => input.items.get(id)?.features, user: input.user };
  return {
    requestId: response.requestId,
    ts: input.ts,
    surface: response.surface,
    modelVersionId: response.modelVersion?.id ?? null,
    reason,
    featureNames: spec.map((f) => f.name),
    rows: response.items.slice(0, SAMPLE_MAX_ITEMS).map((item) => ({
      id: item.id,
      position: item.position,
      score: item.score,
      ...(spec.length ? featureVector(spec, candidates.get(item.id) ?? { id: item.id }, lookup, input.ts.getTime()) : { values: [], defaulted: [] }),
    })),
    timings: response.timings,
    caller: input.owner,
  };
}
