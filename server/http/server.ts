import http, { type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { TRPCError } from "@trpc/server";
import { nodeHTTPRequestHandler } from "@trpc/server/adapters/node-http";
import { actorOf } from "../audit/actor";
import { authenticate, type BearerOnly } from "../auth/authenticate";
import { authorizeHttp } from "../auth/http";
import { admitKeyRate } from "../auth/keyRateLimit";
import { getDb } from "../db/client";
import { allowedSurfaces, assertSurfaceAllowed, callerOf, passwordChangeDue, unauthorizedMessage, type Principal } from "../auth/principal";
import { refusalHeaders } from "../domain/access/authorizationHeader";
import type { Permission } from "../domain/access/permissions";
import { outcomeBatchSchema } from "../events/schema";
import { recordOutcomes } from "../events/service";
import { rerankJson } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { textRerankRequestSchema } from "../rerank/text/schema";
import { textRerank } from "../rerank/text/service";
import { appRouter } from "../routers/_app";
import { createContext } from "../trpc";
import { acceptsHtml, boundBodyPauses, BodyTooLargeError, readBody, sendErrorPage, sendJson, utf8Text } from "./body";
import { getHealth } from "../system/health";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../telemetry/clusterMetrics";
import { bodyLimit, clientAddress, hasBody, JSON_SECURITY_HEADERS, refusalFor, routeOf, securityHeaders, type FrontDoorSettings, type Route } from "./frontDoor";
import { JsonText, parseJsonBody, sendError, serveJson, type ErrorBody } from "./jsonEndpoint";
import { mapError, retryAfterHeader } from "../errorMapping";
import { env } from "../config";
import type { Ticket } from "../domain/admission/fairShare";
import { admitServing } from "./admission";
import { logInternalError } from "../redact";
import { serveUpload } from "./upload";
import { surfaceConfigs } from "../surfaces/configCache";
import { attributedSurface, countRerankError, type AnswerAbout } from "../telemetry/errorTally";
import { metrics } from "../telemetry/metrics";
import { incomingTraceContext, traced } from "../telemetry/tracing";

// The console's one HTTP server: every request passes the front door's checks (server/http/frontDoor.ts)
// and gets the security headers; POST /api/v1/rerank, POST /api/v1/events, /api/trpc and the model
// upload are answered here with node:http (Next.js's request path costs 1.4–2.3 ms of CPU per request,
// more than the rerank itself); everything else (pages, assets, GET route handlers) goes to Next.js.

/** Next.js's request handler (`next().getRequestHandler()`), or any handler in tests. */
export type NextHandler = (req: IncomingMessage, res: ServerResponse) => Promise<unknown> | unknown;

const headersOf = (req: IncomingMessage): Headers => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.append(name, value);
  }
  return headers;
};

/** What authentication reads: without a cookie, the Authorization header alone (the hot path copies no headers); a cookie session gets them all. */
const credentialsOf = (req: IncomingMessage): Headers | BearerOnly =>
  req.headers.cookie === undefined ? { authorization: req.headers.authorization ?? null } : headersOf(req);

/**
 * tRPC over node:http. A request with a body (a POST: mutations, batches) comes with its caller,
 * checked before the body was read, and the body: read within the limit and decoded here (tRPC takes
 * the text instead of reading the stream), or null when the caller is anonymous (every call answers
 * 401, the body is never read and the connection closes). A GET's caller is checked by tRPC (createContext).
 */
async function serveTrpc(req: IncomingMessage, res: ServerResponse, procedurePath: string, withBody?: { principal: Principal | null | undefined; body: Buffer | null }): Promise<void> {
  let refusal: TRPCError | undefined;
  if (withBody?.body === null) {
    refusal = new TRPCError({ code: "UNAUTHORIZED", message: unauthorizedMessage(req.headers.authorization) });
    res.setHeader("connection", "close");
    res.once("finish", () => req.socket.destroy());
  }
  let text = "";
  if (withBody?.body) {
    // Not valid UTF-8, or a malformed body: the same message as on /api/v1/*, in tRPC's error shape.
    try {
      text = utf8Text(withBody.body);
      const parsed = parseJsonBody(text);
      if (!parsed.ok) refusal = new TRPCError({ code: "PARSE_ERROR", message: parsed.message });
    } catch (error) {
      refusal = new TRPCError({ code: "PARSE_ERROR", message: (error as Error).message });
    }
  }
  if (withBody) (req as IncomingMessage & { body?: string }).body = text;
  await nodeHTTPRequestHandler({
    req,
    res,
    path: procedurePath,
    router: appRouter,
    createContext: () => createContext({ headers: headersOf(req), ...(withBody ? { principal: withBody.principal } : {}) }),
    middleware: (_req, _res, next) => next(refusal),
    // A 503 that asks for a retry (RetryLaterError) says when, as on /api/v1/*; a refused caller
    // (UNAUTHORIZED, HTTP 401) gets the challenge every 401 carries (RFC 6750 §3).
    responseMeta: ({ errors }) => {
      const retry = errors.map((e) => retryAfterHeader(mapError(e.cause ?? e, procedurePath))).find((h) => h !== undefined);
      const challenge = errors.some((e) => e.code === "UNAUTHORIZED") ? refusalHeaders(401, req.headers.authorization) : undefined;
      return retry || challenge ? { headers: { ...retry, ...challenge } } : {};
    },
  });
}

/** What each of our own routes needs (tRPC procedures declare their own; see server/trpc.ts). */
const ROUTE_PERMISSION: Record<Exclude<Route, { kind: "next" }>["kind"], Permission | null> = {
  rerank: "rerank.serve",
  textRerank: "rerank.serve",
  events: "events.write",
  upload: "models.write",
  trpc: null, // each procedure declares its permission; a POST needs a caller before its body is read (serveOwn)
  health: null, // public: load balancers probe it
  metrics: null, // open, or console.read with METRICS_AUTH=on (serveProbe)
};

/**
 * GET /api/health: 200 when the database answers, 503 with the same body when it does not (public:
 * no model list). GET /api/metrics: Prometheus text, with WORKERS > 1 summed over every worker; open
 * by default, behind any role's read permission with METRICS_AUTH=on.
 */
async function serveProbe(req: IncomingMessage, res: ServerResponse, kind: "health" | "metrics"): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return sendError(res, 405, { code: "METHOD_NOT_ALLOWED", message: `method: ${req.url?.split("?")[0]} takes GET, HEAD, not ${req.method}` }, { headers: { allow: "GET, HEAD" } });
  }
  if (kind === "health") {
    const health = await getHealth(getDb(), { withModels: false });
    return sendJson(res, health.status === "ok" ? 200 : 503, health, { headers: { "cache-control": "no-store" } });
  }
  if (env().METRICS_AUTH === "on") {
    const access = await authorizeHttp(credentialsOf(req), "console.read");
    if (!access.ok) return sendError(res, access.status, { code: access.code, message: access.message }, { headers: access.headers });
  }
  const text = await prometheusText();
  res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "content-length": Buffer.byteLength(text), "cache-control": "no-store" }).end(text);
}

/**
 * What the front door learns of a rerank answer while serving it: the surface it is about, as far as
 * the server knows it (what the client named, /api/v1/rerank's `surface`, kept only once the caller
 * may use it, or what text reranking resolved from the database; read when the answer is sent:
 * attributedSurface), and the request's admission ticket, released when the answer is done.
 */
interface RerankAnswer {
  about?: AnswerAbout;
  ticket?: Ticket;
}

/**
 * Follows an answer of the rerank endpoints (one listener a request): releases its admission ticket,
 * and counts it when it is a fault of ours (HTTP 5xx: database down, shutting down, overloaded, a bug)
 * as rerank_requests_total{outcome="error"}, so the availability SLI burns on outages
 * (deploy/prometheus/alerts.yml). Answers served are counted by the pipeline (outcome model or
 * fallback), text reranking's too (it runs the same pipeline). The errors are also tallied in
 * rerank_errors for the On-call page's SLI (server/telemetry/errorTally.ts).
 */
function followRerankAnswer(res: ServerResponse): RerankAnswer {
  const answer: RerankAnswer = {};
  res.once("close", () => {
    answer.ticket?.release();
    if (!res.writableFinished || res.statusCode < 500) return;
    const surface = attributedSurface(answer.about, (key) => surfaceConfigs().peek(key) !== undefined);
    metrics.requests.inc({ surface, outcome: "error" });
    countRerankError(surface);
  });
  return answer;
}

/** Answers a request the front door admitted and routed to one of our own endpoints. */
async function serveOwn(req: IncomingMessage, res: ServerResponse, route: Exclude<Route, { kind: "next" }>, settings: FrontDoorSettings, answer: RerankAnswer | null): Promise<void> {
  const sendError = (res: ServerResponse, status: number, error: ErrorBody["error"], options?: { close?: boolean; headers?: Record<string, string> }) => sendRouteError(res, route, status, error, options);
  if (route.kind === "health" || route.kind === "metrics") return serveProbe(req, res, route.kind);
  if ((route.kind === "rerank" || route.kind === "textRerank" || route.kind === "events") && req.method !== "POST") {
    // RFC 9110 §15.5.6: a 405 names the methods the resource takes.
    return sendError(res, 405, { code: "METHOD_NOT_ALLOWED", message: `method: ${req.url?.split("?")[0]} takes POST, not ${req.method}` }, { headers: { allow: "POST" } });
  }
  // The upload streams its own body to a temporary file (./upload.ts).
  const takesBody = req.method !== "GET" && req.method !== "HEAD" && route.kind !== "upload";
  // The caller is checked before the body is read: an anonymous or unprivileged caller costs no upload.
  let principal: Principal | null = null;
  // A tRPC POST's caller; undefined: not known here (tRPC's own context checks it).
  let trpcCaller: Principal | null | undefined;
  const permission = ROUTE_PERMISSION[route.kind];
  if (permission) {
    const access = await authorizeHttp(credentialsOf(req), permission);
    if (!access.ok) return sendError(res, access.status, { code: access.code, message: access.message }, { close: true, headers: access.headers });
    principal = access.principal;
  } else if (route.kind === "trpc" && takesBody) {
    // A tRPC POST is a mutation or a batch, and no mutation is public (auth.me and system.health are
    // queries, which tRPC takes by GET only): an anonymous one is answered 401 without its body.
    // The database down: tRPC's own context checks the caller and answers the 503 in tRPC's shape.
    trpcCaller = await authenticate(getDb(), credentialsOf(req)).catch(() => undefined);
    if (trpcCaller === null) return serveTrpc(req, res, route.procedurePath, { principal: null, body: null });
  }
  let body: Buffer | null = null;
  if (takesBody) {
    try {
      body = await readBody(req, bodyLimit(route, settings));
    } catch (error) {
      if (error instanceof BodyTooLargeError) return sendError(res, 413, { code: "PAYLOAD_TOO_LARGE", message: error.message }, { close: true });
      res.destroy(); // the client went away mid-body: nobody to answer
      return;
    }
  }
  // The caller again, now that the body is in: a body may take minutes (a byte within every
  // BODY_IDLE_MS, up to the request timeout), and a key revoked, a role removed or a person disabled
  // meanwhile must not finish what it started with its old rights (a break test: a disabled admin
  // invited a new admin 80 s after being disabled). A cached key's verdict costs no query.
  if (body && permission) {
    const again = await authorizeHttp(credentialsOf(req), permission);
    if (!again.ok) return sendError(res, again.status, { code: again.code, message: again.message }, { headers: again.headers });
    principal = again.principal;
  } else if (body && route.kind === "trpc" && trpcCaller) {
    trpcCaller = await authenticate(getDb(), credentialsOf(req)).catch(() => undefined);
    if (trpcCaller === null) return serveTrpc(req, res, route.procedurePath, { principal: null, body: null });
  }
  if (route.kind === "trpc") return serveTrpc(req, res, route.procedurePath, body ? { principal: trpcCaller, body } : undefined);
  let text = "";
  if (body) {
    try {
      text = utf8Text(body);
    } catch (error) {
      return sendError(res, 400, { code: "BAD_REQUEST", message: (error as Error).message });
    }
  }
  // A serving key's own rate limit (server/auth/keyRateLimit.ts): counted once its body is in, nothing
  // done when over it. Tested here first so that a request of a key without a limit awaits nothing.
  if (principal?.kind === "api_key" && principal.rateLimit && (route.kind === "rerank" || route.kind === "textRerank" || route.kind === "events")) {
    try {
      await admitKeyRate(principal);
    } catch (error) {
      const mapped = mapError(error, route.kind);
      return sendError(res, mapped.httpStatus, { code: mapped.code, message: mapped.message }, { headers: retryAfterHeader(mapped) });
    }
  }
  if (route.kind === "rerank" || route.kind === "textRerank") {
    // A caller's fair share of this process (server/domain/admission/fairShare.ts): without a key, its address.
    // The same admission as tRPC's rerank procedures (./admission.ts).
    const caller = principal ? callerOf(principal) : `address:${req.headers["x-forwarded-for"] ?? ""}`;
    try {
      answer!.ticket = admitServing(caller);
    } catch (error) {
      const mapped = mapError(error, route.kind);
      return sendError(res, mapped.httpStatus, { code: mapped.code, message: mapped.message }, { headers: retryAfterHeader(mapped) });
    }
    // The client gone during an await above (the key's rate limit asks the primary with WORKERS > 1):
    // the answer's `close` has run, so nothing else releases the ticket, and nobody waits for a ranking.
    if (res.closed) return answer!.ticket.release();
  }
  // A caller's W3C traceparent: the spans of this request join its trace (ROOT_CONTEXT when tracing is off).
  const traceParent = incomingTraceContext(req.headers);
  switch (route.kind) {
    case "rerank":
      return serveJson(res, text, rerankRequestSchema, async (input) => {
        assertSurfaceAllowed(principal, input.surface);
        answer!.about = { named: input.surface };
        return new JsonText(await rerankJson(input, callerOf(principal), traceParent));
      }, "POST /api/v1/rerank");
    case "textRerank":
      return serveJson(res, text, textRerankRequestSchema, (input) => traced(`POST /v${route.apiVersion}/rerank`, traceParent, () => textRerank(input, route.apiVersion, principal, (surface) => (answer!.about = { resolved: surface }))), `POST /v${route.apiVersion}/rerank`, cohereError);
    case "events":
      return serveJson(res, text, outcomeBatchSchema, (input) => traced("POST /api/v1/events", traceParent, () => recordOutcomes(input, allowedSurfaces(principal), callerOf(principal))), "POST /api/v1/events");
    case "upload":
      // The caller is checked again once the file is in (as above for bodies read here).
      return serveUpload(req, res, route.model, async () => {
        const again = await authorizeHttp(credentialsOf(req), "models.write");
        return again.ok ? { actor: actorOf(again.principal, headersOf(req)) } : { refusal: again };
      }, bodyLimit(route, settings));
  }
}

/** Cohere's clients read an error's `message`; the house's `error` object stays beside it. */
const cohereError = (error: ErrorBody["error"]) => ({ message: error.message, error });

/** An error answer in the route's shape: Cohere's on /v1/rerank and /v2/rerank (every status: 401, 403, 405, 413, 415, 5xx), the house's elsewhere. */
function sendRouteError(res: ServerResponse, route: Route, status: number, error: ErrorBody["error"], options: { close?: boolean; headers?: Record<string, string> } = {}): void {
  if (route.kind === "textRerank") sendJson(res, status, cohereError(error), options);
  else sendError(res, status, error, options);
}

/** Routes whose every answer (errors too) is sent by body.ts's sendJsonText. */
const ANSWERED_AS_JSON: ReadonlySet<Route["kind"]> = new Set(["rerank", "textRerank", "events"]);

/** A console page (not an API, an asset or the sign-in page itself): for signed-in people only. */
function isConsolePage(method: string, pathname: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (pathname.startsWith("/api/") || pathname.startsWith("/_next/") || pathname === "/sign-in") return false;
  return !/\.[a-z0-9]+$/i.test(pathname);
}

/** The page where a person signed in with a one-time password sets their own. */
export const SET_PASSWORD_PAGE = "/account/password";

/**
 * Next.js, after sending an anonymous visitor of a console page to sign in, and a person signed in
 * with a one-time password to set their own (and back afterwards).
 */
async function servePage(req: IncomingMessage, res: ServerResponse, method: string, url: string, pathname: string, next: NextHandler): Promise<unknown> {
  if (isConsolePage(method, pathname)) {
    const principal = await authenticate(getDb(), headersOf(req));
    const to = !principal ? "/sign-in" : passwordChangeDue(principal) && pathname !== SET_PASSWORD_PAGE ? SET_PASSWORD_PAGE : null;
    if (to) {
      res.statusCode = 302;
      res.setHeader("location", `${to}?next=${encodeURIComponent(url)}`);
      res.setHeader("cache-control", "no-store");
      return res.end();
    }
  }
  return next(req, res);
}

/**
 * The request listener: front-door checks and security headers on every request, then our own
 * endpoints or Next.js. A fault in our own code becomes a plain 500 (never a hung request).
 */
export function frontDoorListener(settings: FrontDoorSettings, next: NextHandler): RequestListener {
  const headers = Object.entries(securityHeaders(settings.dev));
  return (req, res) => {
    // The client address is the socket's (or a trusted proxy's report), whatever a caller claims:
    // sign-in rate limits and the audit trail read it from x-forwarded-for.
    req.headers["x-forwarded-for"] = clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], settings.trustProxy ?? false);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const pathname = query < 0 ? url : url.slice(0, query);
    const route = routeOf(method, pathname);
    // Our JSON endpoints write the security headers with their answer (body.ts sendJsonText); pages,
    // tRPC and the upload get them here, before their handlers add their own (a JSON answer of the
    // upload then carries sendJsonText's, whose CSP is JSON_CSP: stricter than the pages').
    if (!ANSWERED_AS_JSON.has(route.kind)) for (const [name, value] of headers) res.setHeader(name, value);
    const refusal = refusalFor({ method, pathname, query: query < 0 ? "" : url.slice(query + 1), headers: req.headers }, route, settings);
    if (refusal) {
      // A browser opening a page address refused here ("/%", a host name not served) gets a page saying so, not JSON.
      if (route.kind === "next" && (method === "GET" || method === "HEAD") && !pathname.startsWith("/api/") && acceptsHtml(req.headers.accept)) {
        return sendErrorPage(res, refusal.status, refusal.message);
      }
      // The body (if any) is never read: close the connection after the answer.
      return sendRouteError(res, route, refusal.status, { code: refusal.code, message: refusal.message }, { close: method !== "GET" && method !== "HEAD", headers: refusal.headers });
    }
    const answer = route.kind === "rerank" || route.kind === "textRerank" ? followRerankAnswer(res) : null;
    if (hasBody(req.headers)) {
      // The body's reader (if any) hears of it as a client gone ("aborted"), once the 408 went out.
      boundBodyPauses(req, res, settings.bodyIdleMs, () => {
        if (res.headersSent) return req.destroy();
        const message = `body: no byte of it arrived for ${settings.bodyIdleMs / 1000} s; send the body without pausing`;
        sendRouteError(res, route, 408, { code: "REQUEST_TIMEOUT", message }, { close: true });
        res.once("finish", () => req.destroy());
      });
    }
    const served = route.kind === "next" ? servePage(req, res, method, url, pathname, next) : serveOwn(req, res, route, settings, answer);
    Promise.resolve(served).catch((error: unknown) => {
      // Checking the caller needs the database too: unreachable, it is a 503 in plain words like any other.
      const mapped = mapError(error, `${method} ${pathname}`);
      logInternalError(`[http] ${method} ${pathname}`, error);
      if (!res.headersSent) sendRouteError(res, route, mapped.httpStatus, { code: mapped.code, message: mapped.message }, { headers: retryAfterHeader(mapped) });
      else res.destroy();
    });
  };
}

/** Node's statuses for a request it cannot parse; anything else is a 400. */
const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, "REQUEST_HEADER_FIELDS_TOO_LARGE"],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, "PAYLOAD_TOO_LARGE"],
  ERR_HTTP_REQUEST_TIMEOUT: [408, "REQUEST_TIMEOUT"],
};

/**
 * A request Node cannot parse (a Content-Length shorter than the body leaves the rest read as the
 * next request; a malformed header; requestTimeout) gets the JSON error shape with the security
 * headers, where Node wrote a bare "400 Bad Request"; then the connection closes. As in Node's own
 * handler, nothing is written when the socket is gone or an answer on it has begun.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code !== "ECONNRESET" && socket.writable && !inFlight?.headersSent) {
    const [status, code] = CLIENT_ERROR_STATUS[error.code ?? ""] ?? [400, "BAD_REQUEST"];
    const text = JSON.stringify({ error: { code, message: `request: not a well-formed HTTP/1.1 request (${error.code ?? "unreadable"})` } } satisfies ErrorBody);
    const headers = [...JSON_SECURITY_HEADERS, "content-type", "application/json", "content-length", String(Buffer.byteLength(text)), "connection", "close"];
    let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    socket.end(`${head}\r\n${text}`, () => socket.destroy());
  } else socket.destroy();
}

/**
 * A request whose Expect header is not 100-continue (Node answers those itself): 417 in the JSON error
 * shape with the security headers, where Node wrote an empty body (break test 2026-12-04); the body
 * is never read, so the connection closes after the answer (RFC 9110 §10.1.1).
 */
function answerExpectation(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  const route = routeOf(req.method ?? "GET", query < 0 ? url : url.slice(0, query));
  const expectation = String(req.headers.expect ?? "").slice(0, 60);
  sendRouteError(res, route, 417, { code: "EXPECTATION_FAILED", message: `expect: "${expectation}" is not supported; only 100-continue is (or send no Expect header)` }, { close: true });
}

/** An http.Server with the front door; `listen` it. Keep-alive is longer than common load balancers' idle timeout. */
export function createFrontDoorServer(settings: FrontDoorSettings, next: NextHandler): http.Server {
  const server = http.createServer({ keepAliveTimeout: 65_000 }, frontDoorListener(settings, next));
  server.headersTimeout = 66_000;
  server.on("clientError", answerClientError);
  server.on("checkExpectation", answerExpectation);
  return server;
}
