import { defaultBurst, describeRateLimit, RateLimiter, type RateLimit, type RateVerdict } from "../domain/admission/rateLimit";
import { ratesCountedByPrimary, takeRateInPrimary } from "../cluster/ipc";
import { RateLimitedError } from "../errors";
import { metrics } from "../telemetry/metrics";
import type { Principal } from "./principal";

// A serving key's own rate limit (api_keys.rate_limit, rate_burst): requests per second to the
// serving API (POST /api/v1/rerank, /api/v1/events, Cohere's /v1 and /v2/rerank, and tRPC's rerank.rank
// and events.record), counted once per server: in process, or with WORKERS > 1 by the primary, so a
// key's limit holds whichever worker its connections reach (a per-worker share would give a client on
// one keep-alive connection 1/N of its limit). Replicas count apart: behind a load balancer of R
// replicas a key may send up to R times its limit (as Envoy's local rate limit).

/** How long a worker waits for the primary's count before admitting the request uncounted (ms). */
const PRIMARY_TIMEOUT_MS = 250;

const holder = globalThis as unknown as { __rerankKeyRates?: RateLimiter };
const local = () => (holder.__rerankKeyRates ??= new RateLimiter());

/**
 * A limit as stored (api_keys.rate_limit, rate_burst): a burst equal to the rate's default is stored
 * as the default (null), so the same limit spelt out is no change; null: no limit.
 */
export function storedRateLimit(limit: { rate: number; burst: number | null } | null | undefined): { rate: number; burst: number | null } | null {
  if (!limit) return null;
  return { rate: limit.rate, burst: limit.burst === defaultBurst(limit.rate) ? null : limit.burst };
}

/** A key's limit from its row's columns, or undefined without one. */
export function rateLimitOf(row: { rateLimit: number | null; rateBurst: number | null }): RateLimit | undefined {
  if (row.rateLimit === null || !(row.rateLimit > 0)) return undefined;
  return { rate: row.rateLimit, burst: row.rateBurst ?? defaultBurst(row.rateLimit) };
}

/**
 * Counts one serving request of `principal` against its key's rate limit. Resolves (nothing to wait
 * for: undefined synchronously) for a person, a key without a limit, or a request within it.
 * @throws RateLimitedError (429, Retry-After) when the key is over its limit; the request must do nothing.
 */
export function admitKeyRate(principal: Principal | null): void | Promise<void> {
  if (principal?.kind !== "api_key" || !principal.rateLimit) return;
  const limit = principal.rateLimit;
  if (!ratesCountedByPrimary()) return judge(principal.name, limit, local().take(principal.id, limit, Date.now()));
  return takeRateInPrimary(principal.id, limit, PRIMARY_TIMEOUT_MS).then((verdict) => {
    // The primary did not answer in time: the request is admitted uncounted (a limit protects capacity; it does not bill).
    if (!verdict) return void metrics.rateLimitUnchecked.inc();
    judge(principal.name, limit, verdict);
  });
}

function judge(name: string, limit: RateLimit, verdict: RateVerdict): void {
  if (verdict.admitted) return;
  metrics.admissionRefused.inc({ reason: "key_rate_limit" });
  const seconds = verdict.retryAfterMs / 1000;
  throw new RateLimitedError(
    `rate limit: API key "${name}" may send ${describeRateLimit(limit)}; retry in ${seconds < 1 ? `${Math.ceil(verdict.retryAfterMs)} ms` : `${+seconds.toFixed(1)} s`} (an admin sets the limit on the API keys page)`,
    Math.max(1, Math.ceil(seconds)),
  );
}
