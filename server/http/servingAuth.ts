import type { IncomingHttpHeaders } from "node:http";

// The seam where the serving-key check plugs in: the front door calls checkServingKey for every
// request to POST /api/v1/rerank and POST /api/v1/events, before the body is read. /api/health,
// /api/v1/ping and /api/metrics never reach it.

export type ServingAuthDecision = { allow: true } | { allow: false; status: 401 | 403; message: string };

/**
 * Decides whether a request may use the serving endpoints, from its headers alone
 * (`Authorization: Bearer <key>`). 401: no or unknown key; 403: a key without the serving scope
 * or not for this surface.
 */
export async function checkServingKey(headers: IncomingHttpHeaders, endpoint: "rerank" | "events"): Promise<ServingAuthDecision> {
  // TODO(access control, issue #10.3): checkServingKey — verify the Bearer key (hash lookup, scope
  // "serving", expiry, revocation) unless SERVING_AUTH=off. Until then every caller is allowed.
  void headers;
  void endpoint;
  return { allow: true };
}
