import { env } from "../config";
import { FairShareAdmission, refusalMessage, type Ticket } from "../domain/admission/fairShare";
import { RateLimitedError, RetryLaterError } from "../errors";
import { metrics } from "../telemetry/metrics";

// The one admission of serving requests into this process (RERANK_MAX_IN_FLIGHT, shared fairly among
// callers: server/domain/admission/fairShare.ts), for the front door's rerank endpoints and tRPC's
// rerank procedures alike: a tRPC batch of 30 rerank.rank calls is 30 requests in flight, not one
// (break test: a batch put 30 in flight past the share).

/** Seconds a caller refused by admission waits before retrying: its requests in flight finish in milliseconds. */
export const ADMISSION_RETRY_AFTER_S = 1;

const admissionHolder = globalThis as unknown as { __rerankAdmission?: FairShareAdmission };
/** This process's admission of serving requests (RERANK_MAX_IN_FLIGHT). */
const servingAdmission = () => (admissionHolder.__rerankAdmission ??= new FairShareAdmission(env().RERANK_MAX_IN_FLIGHT));

/**
 * Admits one serving request of `caller` (callerOf: an API key or person; without keys, a client
 * address), counted in flight until its ticket is released.
 * @throws RateLimitedError (429) when the caller holds its fair share, RetryLaterError (503) at twice the capacity; both ask for a retry in 1 s
 */
export function admitServing(caller: string): Ticket {
  const admitted = servingAdmission().admit(caller);
  if (admitted.refusal) {
    metrics.admissionRefused.inc({ reason: admitted.refusal.reason });
    const message = refusalMessage(admitted.refusal, ADMISSION_RETRY_AFTER_S);
    throw admitted.refusal.reason === "capacity" ? new RetryLaterError(message, ADMISSION_RETRY_AFTER_S) : new RateLimitedError(message, ADMISSION_RETRY_AFTER_S);
  }
  return admitted.ticket;
}
