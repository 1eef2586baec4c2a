// The front door's rules, as pure functions of the request line and headers: which hosts are
// served, which headers every response carries, which requests must send JSON, which cookie-carrying
// requests are refused as cross-site, and where each request goes. server/http/server.ts applies
// them to every request before routing (Next.js included); nothing here does I/O.

export interface FrontDoorSettings {
  /** Host[:port] patterns the Host header must match (see hostAllowed). */
  allowedHosts: string[];
  /** Development server (`npm run dev`): the CSP lets Next's hot reload evaluate code and open its websocket. */
  dev: boolean;
  /** Largest JSON body of /api/v1/rerank, /api/v1/events and /api/trpc, in bytes. */
  jsonBodyLimit: number;
  /** Largest model upload (multipart form), in bytes. */
  uploadBodyLimit: number;
  /** Behind a reverse proxy or load balancer: the client is the address it appended to x-forwarded-for. */
  trustProxy?: boolean;
  /** The longest pause in a request body, in ms, before 408 and the connection closed (BODY_IDLE_MS). */
  bodyIdleMs: number;
}

/**
 * The longest pause in a request body: 30 s. A body that stops (slowloris) would otherwise hold its
 * memory, its connection and an upload slot until Node's requestTimeout (300 s).
 */
export const BODY_IDLE_MS = 30_000;

/**
 * The front door's environment, read in one place: ALLOWED_HOSTS (comma-separated host[:port]
 * patterns; unset or empty = the listen address, localhost, 127.0.0.1 and [::1] on the listen port).
 */
export function frontDoorSettings(
  env: Record<string, string | undefined>,
  listen: { host: string; port: number; dev: boolean; jsonBodyLimit: number; uploadBodyLimit: number },
): FrontDoorSettings {
  const configured = (env.ALLOWED_HOSTS ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
  return {
    allowedHosts: configured.length > 0 ? configured : defaultAllowedHosts(listen.host, listen.port),
    trustProxy: env.TRUST_PROXY === "on",
    dev: listen.dev,
    jsonBodyLimit: listen.jsonBodyLimit,
    uploadBodyLimit: listen.uploadBodyLimit,
    bodyIdleMs: BODY_IDLE_MS,
  };
}

const WILDCARD_ADDRESSES = new Set(["0.0.0.0", "::", "[::]"]);

/** The listen address (unless it is a wildcard such as 0.0.0.0), localhost, 127.0.0.1 and [::1], each on `port`. */
export function defaultAllowedHosts(listenHost: string, port: number): string[] {
  const host = listenHost.toLowerCase();
  const names = WILDCARD_ADDRESSES.has(host) ? [] : [host.includes(":") && !host.startsWith("[") ? `[${host}]` : host];
  return [...new Set([...names, "localhost", "127.0.0.1", "[::1]"])].map((name) => `${name}:${port}`);
}

/** "Example.com:3000" → { name: "example.com", port: "3000" }; "[::1]:80" → { name: "[::1]", port: "80" }. */
export function splitHost(value: string): { name: string; port: string | null } {
  const host = value.trim().toLowerCase();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end < 0) return { name: host, port: null };
    return { name: host.slice(0, end + 1), port: host[end + 1] === ":" ? host.slice(end + 2) : null };
  }
  const colon = host.lastIndexOf(":");
  return colon < 0 ? { name: host, port: null } : { name: host.slice(0, colon), port: host.slice(colon + 1) };
}

/** The configured patterns, split once (ALLOWED_HOSTS: a handful, read at start; never a request's value). */
const splitPatterns = new Map<string, { name: string; port: string | null }>();
const splitPattern = (raw: string) => {
  let split = splitPatterns.get(raw);
  if (!split) splitPatterns.set(raw, (split = splitHost(raw)));
  return split;
};

/**
 * Does a Host header match one of the patterns? A pattern is `name`, `name:port`, `*.domain`
 * (any subdomain, not the domain itself) or `*` (any host). A pattern without a port matches any
 * port. Names compare case-insensitively. A missing Host never matches (DNS rebinding defence: a
 * page on another site that resolves its name to this address sends its own name as Host).
 */
export function hostAllowed(hostHeader: string | undefined, patterns: readonly string[]): boolean {
  if (!hostHeader) return false;
  if (lastHost.patterns === patterns && lastHost.header === hostHeader) return lastHost.allowed;
  const host = splitHost(hostHeader);
  const allowed = patterns.some((raw) => {
    if (raw === "*") return true;
    const pattern = splitPattern(raw);
    if (pattern.port !== null && pattern.port !== host.port) return false;
    if (pattern.name.startsWith("*.")) return host.name.endsWith(pattern.name.slice(1));
    return pattern.name === host.name;
  });
  lastHost = { patterns, header: hostHeader, allowed };
  return allowed;
}

/** hostAllowed's last answer: a client sends the same Host on every request, so each is split and matched once per change. */
let lastHost: { patterns: readonly string[] | null; header: string; allowed: boolean } = { patterns: null, header: "", allowed: false };

/**
 * The headers every response carries. The CSP allows inline scripts and styles because Next.js
 * streams its RSC payload in inline <script> tags and Mantine injects <style> tags; everything else
 * comes from this origin only, and no other site may frame the console (clickjacking).
 */
export function securityHeaders(dev: boolean): Record<string, string> {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${dev ? " ws: wss:" : ""}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    "content-security-policy": csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
    "x-frame-options": "DENY",
  };
}

/**
 * The CSP of an answer that is JSON: no document, so nothing in it may load anything or be framed
 * (OWASP REST Security Cheat Sheet, "Security headers": `default-src 'none'; frame-ancestors 'none'`).
 * Stricter than the pages' policy, and a sixth of its length on every serving answer.
 */
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * securityHeaders(false) with JSON_CSP as a flat [name, value, …] list for `writeHead`: what every
 * JSON answer of the front door's own endpoints carries, written with its other headers in one call
 * (server/http/body.ts). The development CSP's additions (eval, websockets for hot reload) concern pages only.
 */
export const JSON_SECURITY_HEADERS: readonly string[] = Object.entries({ ...securityHeaders(false), "content-security-policy": JSON_CSP }).flat();

/** Methods that change state: they get the content-type and cross-site checks. */
export const isUnsafeMethod = (method: string) => method !== "GET" && method !== "HEAD" && method !== "OPTIONS";

/** Where a request goes: the endpoints the custom server answers itself, or Next.js. */
export type Route =
  | { kind: "rerank" }
  | { kind: "textRerank"; apiVersion: 1 | 2 }
  | { kind: "events" }
  | { kind: "trpc"; procedurePath: string }
  | { kind: "upload"; model: string }
  | { kind: "health" }
  | { kind: "metrics" }
  | { kind: "next" };

const UPLOAD_PATH = /^\/api\/v1\/models\/([^/]+)\/versions\/?$/;

/** Route by path (and method where Next keeps other methods of the same path). */
export function routeOf(method: string, pathname: string): Route {
  if (pathname === "/api/v1/rerank") return { kind: "rerank" };
  // Cohere's paths, so its clients work with the console's base URL (server/rerank/text/).
  if (pathname === "/v2/rerank") return { kind: "textRerank", apiVersion: 2 };
  if (pathname === "/v1/rerank") return { kind: "textRerank", apiVersion: 1 };
  if (pathname === "/api/v1/events") return { kind: "events" };
  // The probes and the scrape: answered by the serving thread, whose state they report, whatever the pages thread does.
  if (pathname === "/api/health" || pathname === "/api/health/") return { kind: "health" };
  if (pathname === "/api/metrics" || pathname === "/api/metrics/") return { kind: "metrics" };
  if (pathname === "/api/trpc" || pathname.startsWith("/api/trpc/")) return { kind: "trpc", procedurePath: pathname.slice("/api/trpc/".length) };
  const upload = method === "POST" ? UPLOAD_PATH.exec(pathname) : null;
  if (upload) {
    try {
      return { kind: "upload", model: decodeURIComponent(upload[1] ?? "") };
    } catch {
      return { kind: "next" }; // a malformed %-escape: refusalFor answers 400 (pathProblem), for every route alike
    }
  }
  return { kind: "next" };
}

/**
 * The API paths Next.js serves, with their methods (the route.ts files under app/api; better-auth's take any). A
 * path under /api/ that is neither ours nor one of these answered Next's HTML 404 page, and a known
 * path with another method did too (a DELETE of a model version): API callers get JSON instead.
 */
const NEXT_API_ROUTES: ReadonlyArray<{ path: RegExp; methods: readonly string[] | "any" }> = [
  { path: /^\/api\/auth(\/|$)/, methods: "any" },
  { path: /^\/api\/v1\/ping\/?$/, methods: ["GET", "HEAD"] },
  { path: /^\/api\/v1\/audit\.csv\/?$/, methods: ["GET", "HEAD"] },
  { path: /^\/api\/v1\/models\/[^/]+\/versions\/[^/]+\/artifact\/?$/, methods: ["GET", "HEAD"] },
  // Ours (routeOf answers POST): the model upload.
  { path: UPLOAD_PATH, methods: ["POST"] },
];

/**
 * A request under /api/ that no endpoint answers (404 naming the path) or that its endpoint does not
 * take with this method (405 with Allow, RFC 9110 §15.5.6), or null. Only for requests routeOf sent to
 * Next.js: our own endpoints answer their own 405s.
 */
export function apiPathRefusal(method: string, pathname: string): Refusal | null {
  // Cohere's versioned prefixes (/v1/, /v2/, any case, any version): a client with a wrong base URL or
  // path got a redirect to the sign-in page (307) where it expects JSON (break test 2026-12-02). /API/
  // in another case is no page either.
  if (/^\/v\d+(\/|$)/i.test(pathname)) {
    return { status: 404, code: "NOT_FOUND", message: `path: no API endpoint at ${pathname.slice(0, 120)}; the Cohere-compatible endpoints are POST /v1/rerank and POST /v2/rerank (see the README's API reference)` };
  }
  if (!pathname.toLowerCase().startsWith("/api/")) return null;
  const route = NEXT_API_ROUTES.find((r) => r.path.test(pathname));
  if (!route) return { status: 404, code: "NOT_FOUND", message: `path: no API endpoint at ${pathname.slice(0, 120)} (see the README's API reference)` };
  if (route.methods === "any" || route.methods.includes(method)) return null;
  return { status: 405, code: "METHOD_NOT_ALLOWED", message: `method: ${pathname.slice(0, 120)} takes ${route.methods.join(", ")}, not ${method.slice(0, 20)}`, headers: { allow: route.methods.join(", ") } };
}

/**
 * Why a path or query string is refused, or null: a %-escape that is malformed ("%ZZ") or whose bytes
 * are not UTF-8 ("%ED%A0%80", a surrogate), quoted, naming `field` ("path", "query"). Next.js answered
 * such paths with a 500 and logged nothing; a query's were read as U+FFFD (two different ids as one).
 */
export function escapeProblem(text: string, field: "path" | "query"): string | null {
  if (!text.includes("%")) return null;
  for (const run of text.matchAll(/(?:%[0-9a-f]{2})+|%.{0,2}/gis)) {
    try {
      decodeURIComponent(run[0]);
    } catch {
      return `${field}: "${run[0].slice(0, 36)}" at character ${run.index} is not a %-escape of UTF-8`;
    }
  }
  return null;
}

/** escapeProblem of a path. */
export const pathProblem = (pathname: string): string | null => escapeProblem(pathname, "path");

/**
 * Routes whose query string is read as data (tRPC's `input`, the API routes' filters): its %-escapes
 * must be UTF-8. Pages keep Next.js's lenient reading (a link with a stray "%" still opens).
 */
const readsQuery = (route: Route, pathname: string) => route.kind === "trpc" || pathname.startsWith("/api/");

/**
 * Does this media type say JSON the endpoints can read? `application/json`, with any parameters
 * except a charset other than UTF-8: JSON exchanged between systems is UTF-8 (RFC 8259 §8.1), and
 * bodies are decoded as UTF-8, so `charset=latin1` would have been read as something it is not
 * (break test: accepted and decoded as UTF-8). `charset=utf-8` (any case, quoted or not) passes.
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === "application/json") return true; // what nearly every client sends, as it is
  const [type, ...parameters] = (header ?? "").split(";");
  if (type!.trim().toLowerCase() !== "application/json") return false;
  return parameters.every((parameter) => {
    const [name, value = ""] = parameter.split("=", 2).map((part) => part.trim().toLowerCase());
    return name !== "charset" || /^"?utf-?8"?$/.test(value);
  });
}

/**
 * Cross-site request forgery defence for cookie-authenticated requests: a request carrying a Cookie
 * and no `Authorization: Bearer` key that changes state must come from this site — Sec-Fetch-Site
 * `same-origin` or `none` (typed in the address bar), or an Origin whose host is the Host header.
 * Requests without cookies are not ambient-authority requests, so they pass (keys are checked later) —
 * except to `sessionEndpoint`s (sign-in, /api/auth/*), which set a session cookie: a cross-site form
 * posting the attacker's own credentials would sign the victim's browser into the attacker's account
 * (login CSRF); a browser's request there must be same-site too (a client without Origin or
 * Sec-Fetch-Site, such as curl, is not a browser and passes).
 */
export function crossSiteAllowed(method: string, headers: { cookie?: string; authorization?: string; secFetchSite?: string; origin?: string; host?: string }, options: { sessionEndpoint?: boolean } = {}): boolean {
  if (!isUnsafeMethod(method)) return true;
  if (!headers.cookie && !(options.sessionEndpoint && (headers.origin !== undefined || headers.secFetchSite !== undefined))) return true;
  if (/^bearer\s+\S/i.test(headers.authorization ?? "")) return true;
  const site = headers.secFetchSite?.toLowerCase();
  if (site === "same-origin" || site === "none") return true;
  // A browser that says the request is from another site is believed, whatever Origin claims.
  if (site === "cross-site" || site === "same-site") return false;
  if (!headers.origin || !headers.host || headers.origin === "null") return false;
  try {
    return new URL(headers.origin).host.toLowerCase() === headers.host.toLowerCase();
  } catch {
    return false;
  }
}

/** A refusal at the front door, as the JSON error body every endpoint uses. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

export interface RequestHead {
  method: string;
  pathname: string;
  /** The query string after "?" (none: ""). */
  query?: string;
  headers: Record<string, string | string[] | undefined>;
}

const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The body limit of a route in bytes (Next.js gets no large bodies: it serves pages and GETs). */
export function bodyLimit(route: Route, settings: FrontDoorSettings): number {
  if (route.kind === "upload") return settings.uploadBodyLimit;
  if (route.kind === "next") return NEXT_BODY_LIMIT;
  return settings.jsonBodyLimit;
}

/** Next.js serves pages and GET route handlers here; no route of it reads a body, so a small one is plenty. */
export const NEXT_BODY_LIMIT = 64 * 1024;

/**
 * Every check that needs only the request head, in order: Host (421), a path that is not
 * well-formed (400; an API's query string too), an API path no endpoint answers (404) or not with
 * this method (405), cross-site (403), JSON content type (415), a compressed body (415), declared
 * length (413), and a body of unknown length to Next.js (411, since it cannot be bounded while Next reads it). Returns null when the request may proceed; bodies of
 * unknown length to our own routes are bounded while they are read.
 */
export function refusalFor(head: RequestHead, route: Route, settings: FrontDoorSettings): Refusal | null {
  const host = one(head.headers.host);
  if (!hostAllowed(host, settings.allowedHosts)) {
    return {
      status: 421,
      code: "MISDIRECTED_REQUEST",
      message: `host: "${host ?? ""}" is not served here; allowed: ${settings.allowedHosts.join(", ")} (set ALLOWED_HOSTS to add names)`,
    };
  }
  const badPath = pathProblem(head.pathname) ?? (head.query && readsQuery(route, head.pathname) ? escapeProblem(head.query, "query") : null);
  if (badPath) return { status: 400, code: "BAD_REQUEST", message: badPath };
  const unknownApi = route.kind === "next" ? apiPathRefusal(head.method, head.pathname) : null;
  if (unknownApi) return unknownApi;
  const crossSite = !crossSiteAllowed(head.method, {
    cookie: one(head.headers.cookie),
    authorization: one(head.headers.authorization),
    secFetchSite: one(head.headers["sec-fetch-site"]),
    origin: one(head.headers.origin),
    host,
  }, { sessionEndpoint: head.pathname.startsWith("/api/auth/") });
  if (crossSite) {
    const what = one(head.headers.cookie) ? `a cookie-authenticated ${head.method}` : "signing in";
    return { status: 403, code: "FORBIDDEN", message: `origin: ${what} must come from this site (Origin ${one(head.headers.origin) ?? "missing"}, Sec-Fetch-Site ${one(head.headers["sec-fetch-site"]) ?? "missing"})` };
  }
  const contentType = one(head.headers["content-type"]);
  if (isUnsafeMethod(head.method) && (route.kind === "rerank" || route.kind === "textRerank" || route.kind === "events" || route.kind === "trpc") && !isJsonContentType(contentType)) {
    const otherCharset = contentType?.split(";", 1)[0]!.trim().toLowerCase() === "application/json";
    const message = otherCharset
      ? `content-type: JSON is read as UTF-8 (RFC 8259 §8.1); send it so, with no charset or charset=utf-8, not "${contentType!.slice(0, 100)}"`
      : `content-type: expected application/json, got ${contentType ? `"${contentType.slice(0, 100)}"` : "none"}`;
    return { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message };
  }
  // No endpoint inflates a body: a gzip body was read as JSON ("malformed JSON" quoting binary), and a plain one labelled gzip was taken.
  const encoding = one(head.headers["content-encoding"])?.trim().toLowerCase();
  if (encoding && encoding !== "identity" && hasBody(head.headers)) {
    return { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: `content-encoding: "${encoding.slice(0, 40)}" is not accepted; send the body uncompressed` };
  }
  const limit = bodyLimit(route, settings);
  const declared = Number(one(head.headers["content-length"]) ?? NaN);
  if (declared > limit) {
    return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `body: the payload of ${declared} bytes exceeds the ${limit}-byte limit` };
  }
  if (route.kind === "next" && one(head.headers["transfer-encoding"]) !== undefined) {
    return { status: 411, code: "LENGTH_REQUIRED", message: "body: send a Content-Length; bodies of unknown length are not accepted on this path" };
  }
  return null;
}

/** Does the request declare a body (a Content-Length above 0, or a Transfer-Encoding)? */
export function hasBody(headers: RequestHead["headers"]): boolean {
  return headers["transfer-encoding"] !== undefined || Number(one(headers["content-length"]) ?? 0) > 0;
}

/**
 * The client's address: the socket's, or with a trusted proxy in front the last x-forwarded-for
 * entry (the one that proxy appended; entries before it are whatever the client claimed).
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: boolean): string {
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor;
  const last = header?.split(",").map((a) => a.trim()).filter(Boolean).at(-1);
  return (trustProxy && last ? last : socketAddress) ?? "";
}
