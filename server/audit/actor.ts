import type { ActorKind } from "../domain/audit/actions";

/**
 * Who did something, as the audit trail records it. `name` is what people read: the person's
 * email, the API key's name, or the system job's name ("rollout-analysis", "seed"). `id` is the
 * user's or key's row id (null for system jobs); `requestId` and `clientAddress` tie the entry to
 * the HTTP request that caused it, where there was one.
 */
export interface Actor {
  kind: ActorKind;
  id: string | null;
  name: string;
  requestId?: string | null;
  clientAddress?: string | null;
}

/** One of the console's own jobs (the canary analysis, the demo seed): no person, no request. */
export function systemActor(name: string): Actor {
  return { kind: "system", id: null, name };
}

/** The canary analysis that widens, promotes and rolls back rollouts. */
export const ROLLOUT_ANALYSIS = systemActor("rollout-analysis");

/**
 * The acting person as a request claims it, until sign-in exists: the `x-rerank-user` header
 * ("anonymous" without one), the request's `x-request-id` and the first `x-forwarded-for` hop.
 * Sign-in replaces the name and id with the signed-in person's or the API key's.
 */
export function actorFromHeaders(headers: Headers | undefined): Actor {
  const forwarded = headers?.get("x-forwarded-for")?.split(",")[0]?.trim() || null;
  return {
    kind: "user",
    id: null,
    name: headers?.get("x-rerank-user") || "anonymous",
    requestId: headers?.get("x-request-id")?.slice(0, 200) || null,
    clientAddress: forwarded?.slice(0, 100) ?? headers?.get("x-real-ip")?.slice(0, 100) ?? null,
  };
}
