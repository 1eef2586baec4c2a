import type { Principal } from "../auth/principal";
import type { ActorKind, SystemActorName } from "../domain/audit/actions";

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
export function systemActor(name: SystemActorName): Actor {
  return { kind: "system", id: null, name };
}

/** The canary analysis that widens, promotes and rolls back rollouts. */
export const ROLLOUT_ANALYSIS = systemActor("rollout-analysis");

/**
 * The actor of a request: the signed-in person (their email) or the API key (its name), with the
 * request's `x-request-id` and the client address the front door put in `x-forwarded-for`.
 * Anonymous callers reach no lever (every lever needs a permission); a refused sign-in is theirs,
 * recorded with kind "anonymous" and name "anonymous".
 */
export function actorOf(principal: Principal | null, headers: Headers | undefined): Actor {
  const forwarded = headers?.get("x-forwarded-for")?.split(",")[0]?.trim() || null;
  return {
    kind: principal?.kind ?? "anonymous",
    id: principal?.id ?? null,
    name: principal?.name ?? "anonymous",
    requestId: headers?.get("x-request-id")?.slice(0, 200) || null,
    clientAddress: forwarded?.slice(0, 100) ?? null,
  };
}
