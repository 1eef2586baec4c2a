import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  apiPathRefusal, clientAddress, crossSiteAllowed, defaultAllowedHosts, frontDoorSettings, hostAllowed, isJsonContentType, refusalFor, routeOf, securityHeaders, splitHost,
  type FrontDoorSettings, type RequestHead,
} from "./frontDoor";

const settings: FrontDoorSettings = { allowedHosts: defaultAllowedHosts("127.0.0.1", 3000), dev: false, jsonBodyLimit: 1_048_576, uploadBodyLimit: 51 * 1_048_576, bodyIdleMs: 30_000 };
const head = (method: string, pathname: string, headers: RequestHead["headers"] = {}): RequestHead => ({ method, pathname, headers: { host: "127.0.0.1:3000", ...headers } });
const refuse = (h: RequestHead) => refusalFor(h, routeOf(h.method, h.pathname), settings);

describe("the Host allow-list", () => {
  it("defaults to the listen address, localhost, 127.0.0.1 and [::1] on the listen port", () => {
    expect(defaultAllowedHosts("127.0.0.1", 3000)).toEqual(["127.0.0.1:3000", "localhost:3000", "[::1]:3000"]);
    expect(defaultAllowedHosts("console.internal", 80)).toEqual(["console.internal:80", "localhost:80", "127.0.0.1:80", "[::1]:80"]);
    expect(defaultAllowedHosts("0.0.0.0", 3000)).toEqual(["localhost:3000", "127.0.0.1:3000", "[::1]:3000"]);
    expect(defaultAllowedHosts("::1", 3000)).toContain("[::1]:3000");
  });

  it("reads ALLOWED_HOSTS as comma-separated patterns, falling back to the defaults when empty", () => {
    const listen = { host: "127.0.0.1", port: 3000, dev: false, jsonBodyLimit: 1, uploadBodyLimit: 1 };
    expect(frontDoorSettings({ ALLOWED_HOSTS: " Console.example.com , *.corp.example:443 ," }, listen).allowedHosts).toEqual(["console.example.com", "*.corp.example:443"]);
    expect(frontDoorSettings({ ALLOWED_HOSTS: "" }, listen).allowedHosts).toEqual(defaultAllowedHosts("127.0.0.1", 3000));
    expect(frontDoorSettings({}, listen).allowedHosts).toEqual(defaultAllowedHosts("127.0.0.1", 3000));
  });

  it("splits IPv6 and named hosts from their ports", () => {
    expect(splitHost("[::1]:3000")).toEqual({ name: "[::1]", port: "3000" });
    expect(splitHost("[::1]")).toEqual({ name: "[::1]", port: null });
    expect(splitHost("Example.COM:80")).toEqual({ name: "example.com", port: "80" });
    expect(splitHost("example.com")).toEqual({ name: "example.com", port: null });
  });

  it.each([
    ["127.0.0.1:3000", ["127.0.0.1:3000"], true],
    ["127.0.0.1:3001", ["127.0.0.1:3000"], false],
    ["LOCALHOST:3000", ["localhost:3000"], true],
    ["[::1]:3000", ["[::1]:3000"], true],
    ["evil.example:3000", ["127.0.0.1:3000", "localhost:3000"], false],
    ["console.example.com", ["console.example.com"], true],
    ["console.example.com:8443", ["console.example.com"], true],
    ["a.corp.example:443", ["*.corp.example:443"], true],
    ["corp.example:443", ["*.corp.example:443"], false],
    ["evilcorp.example:443", ["*.corp.example:443"], false],
    ["anything:1", ["*"], true],
    [undefined, ["*"], false],
  ] as const)("Host %s against %j → %s", (host, patterns, allowed) => {
    expect(hostAllowed(host, patterns)).toBe(allowed);
  });

  it("answers each Host and pattern list on its own, whatever was asked just before (the last answer is remembered)", () => {
    const local = ["127.0.0.1:3000"];
    const public_ = ["console.example.com"];
    for (let i = 0; i < 3; i++) {
      expect(hostAllowed("127.0.0.1:3000", local)).toBe(true);
      expect(hostAllowed("127.0.0.1:3000", local)).toBe(true);
      expect(hostAllowed("127.0.0.1:3000", public_)).toBe(false);
      expect(hostAllowed("console.example.com", public_)).toBe(true);
      expect(hostAllowed("console.example.com", local)).toBe(false);
      expect(hostAllowed("evil.example", public_)).toBe(false);
      expect(hostAllowed(undefined, local)).toBe(false);
    }
  });

  it("refuses a foreign Host with 421 naming it and the allowed hosts, on every path", () => {
    for (const path of ["/", "/api/v1/rerank", "/api/trpc/surfaces.list", "/_next/static/x.js", "/api/health"]) {
      const refusal = refuse(head("GET", path, { host: "rebind.attacker.example" }));
      expect(refusal?.status).toBe(421);
      expect(refusal?.message).toContain('"rebind.attacker.example"');
      expect(refusal?.message).toContain("ALLOWED_HOSTS");
    }
  });
});

describe("security headers", () => {
  it("forbid framing, sniffing and powerful features, and keep scripts, styles and connections on this origin", () => {
    const headers = securityHeaders(false);
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["content-security-policy"]).toContain("default-src 'self'");
    expect(headers["content-security-policy"]).toContain("connect-src 'self';");
    expect(headers["content-security-policy"]).not.toContain("unsafe-eval");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
    expect(headers["permissions-policy"]).toMatch(/camera=\(\).*microphone=\(\).*geolocation=\(\)/);
  });

  it("let Next's development server evaluate code and open its hot-reload websocket only in development", () => {
    expect(securityHeaders(true)["content-security-policy"]).toMatch(/script-src 'self' 'unsafe-inline' 'unsafe-eval'.*connect-src 'self' ws: wss:/);
  });
});

describe("routing", () => {
  it.each([
    ["POST", "/api/v1/rerank", { kind: "rerank" }],
    ["GET", "/api/v1/rerank", { kind: "rerank" }],
    ["POST", "/api/v1/events", { kind: "events" }],
    ["POST", "/v2/rerank", { kind: "textRerank", apiVersion: 2 }],
    ["POST", "/v1/rerank", { kind: "textRerank", apiVersion: 1 }],
    ["POST", "/api/trpc/rerank.rank", { kind: "trpc", procedurePath: "rerank.rank" }],
    ["GET", "/api/trpc/surfaces.list,models.list", { kind: "trpc", procedurePath: "surfaces.list,models.list" }],
    ["POST", "/api/v1/models/search%20ranker/versions", { kind: "upload", model: "search ranker" }],
    ["GET", "/api/v1/models/search-ranker/versions/2/artifact", { kind: "next" }],
    ["GET", "/api/v1/models/search-ranker/versions", { kind: "next" }],
    ["POST", "/api/v1/models/%E0%A4%A/versions", { kind: "next" }],
    ["GET", "/api/health", { kind: "health" }],
    ["HEAD", "/api/metrics", { kind: "metrics" }],
    ["GET", "/api/v1/ping", { kind: "next" }],
    ["GET", "/dashboards/oncall", { kind: "next" }],
  ] as const)("%s %s → %j", (method, path, route) => {
    expect(routeOf(method, path)).toEqual(route);
  });
});

describe("JSON-only mutations", () => {
  it("recognises application/json with parameters, in any case", () => {
    expect(isJsonContentType("application/json")).toBe(true);
    expect(isJsonContentType("Application/JSON; charset=utf-8")).toBe(true);
    expect(isJsonContentType("text/plain;charset=UTF-8")).toBe(false);
    expect(isJsonContentType("application/json-patch+json")).toBe(false);
    // JSON is UTF-8 (RFC 8259 §8.1): another declared charset is refused, not decoded as UTF-8 (break test 2026-12-04).
    expect(isJsonContentType("application/json; charset=latin1")).toBe(false);
    expect(isJsonContentType("application/json;charset=ISO-8859-1")).toBe(false);
    expect(isJsonContentType('application/json; charset="UTF-8"')).toBe(true);
    expect(isJsonContentType("application/json; charset=utf8")).toBe(true);
    expect(isJsonContentType("application/json; foo=bar")).toBe(true);
    expect(isJsonContentType(undefined)).toBe(false);
  });

  it.each([
    ["POST", "/api/v1/rerank", "text/plain;charset=UTF-8", 415],
    ["POST", "/api/v1/events", "application/x-www-form-urlencoded", 415],
    ["POST", "/api/trpc/oncall.killSwitch", "multipart/form-data; boundary=x", 415],
    ["POST", "/api/v1/rerank", undefined, 415],
    ["POST", "/v2/rerank", "text/plain", 415],
    ["DELETE", "/api/trpc/x", "text/plain", 415],
    ["POST", "/api/v1/rerank", "application/json", null],
    ["GET", "/api/trpc/surfaces.list", undefined, null],
    ["POST", "/api/v1/models/m/versions", "multipart/form-data; boundary=x", null],
    ["POST", "/api/v1/rerank", "application/json; charset=latin1", 415],
    ["POST", "/api/trpc/rerank.rank", "application/json; charset=utf-16", 415],
    ["POST", "/api/v1/events", "application/json; charset=utf-8", null],
  ] as const)("%s %s with %s → %s", (method, path, contentType, status) => {
    const refusal = refuse(head(method, path, contentType ? { "content-type": contentType } : {}));
    expect(refusal?.status ?? null).toBe(status);
    if (status) expect(refusal?.message).toContain(contentType ? `"${contentType}"` : "none");
    if (status && contentType?.startsWith("application/json")) expect(refusal?.message).toMatch(/^content-type: JSON is read as UTF-8/);
  });
});

describe("cross-site protection of cookie-authenticated mutations", () => {
  const host = "127.0.0.1:3000";
  it.each([
    ["a GET with a cookie", "GET", { cookie: "s=1", secFetchSite: "cross-site" }, true],
    ["a POST without a cookie (a key or nothing)", "POST", { secFetchSite: "cross-site" }, true],
    ["a POST with a cookie and a Bearer key", "POST", { cookie: "s=1", authorization: "Bearer rk_123", secFetchSite: "cross-site" }, true],
    ["a same-origin POST with a cookie", "POST", { cookie: "s=1", secFetchSite: "same-origin" }, true],
    ["a user-initiated POST (Sec-Fetch-Site none)", "POST", { cookie: "s=1", secFetchSite: "none" }, true],
    ["a POST whose Origin is this host", "POST", { cookie: "s=1", origin: "http://127.0.0.1:3000" }, true],
    ["a cross-site POST with a cookie", "POST", { cookie: "s=1", secFetchSite: "cross-site", origin: "https://evil.example" }, false],
    ["a same-site (sibling subdomain) POST with a cookie", "POST", { cookie: "s=1", secFetchSite: "same-site", origin: "http://other.127.0.0.1:3000" }, false],
    ["a POST with a cookie and a foreign Origin only", "POST", { cookie: "s=1", origin: "http://evil.example" }, false],
    ["a POST with a cookie and Origin null (sandboxed frame)", "POST", { cookie: "s=1", origin: "null" }, false],
    ["a POST with a cookie and neither header", "POST", { cookie: "s=1" }, false],
    ["a POST with a cookie and an empty Bearer", "POST", { cookie: "s=1", authorization: "Bearer " }, false],
  ] as const)("%s → %s", (_name, method, headers, allowed) => {
    expect(crossSiteAllowed(method, { host, ...headers })).toBe(allowed);
  });

  it.each([
    // Login CSRF (access-control break test): a cross-site form posting the attacker's credentials got 200 and a session cookie.
    ["a cross-site browser sign-in (no cookie yet)", { secFetchSite: "cross-site", origin: "http://evil.example" }, false],
    ["a sign-in with a foreign Origin only", { origin: "http://evil.example" }, false],
    ["a same-site (sibling) sign-in", { secFetchSite: "same-site" }, false],
    ["the sign-in page's own POST", { secFetchSite: "same-origin", origin: "http://127.0.0.1:3000" }, true],
    ["a sign-in with this site's Origin (an older browser)", { origin: "http://127.0.0.1:3000" }, true],
    ["a sign-in from a client that is not a browser (curl: neither header)", {}, true],
  ] as const)("sign-in (a session endpoint): %s → %s", (_name, headers, allowed) => {
    expect(crossSiteAllowed("POST", { host, ...headers }, { sessionEndpoint: true })).toBe(allowed);
  });

  it("refuses a cross-site sign-in at the front door in words, and leaves cookie-less API posts alone", () => {
    const refusal = refuse(head("POST", "/api/auth/sign-in/email", { "sec-fetch-site": "cross-site", origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" }));
    expect(refusal).toMatchObject({ status: 403, message: "origin: signing in must come from this site (Origin http://evil.example, Sec-Fetch-Site cross-site)" });
    expect(refuse(head("POST", "/api/v1/rerank", { "sec-fetch-site": "cross-site", origin: "http://evil.example", "content-type": "application/json" }))).toBeNull();
  });

  it("answers a refused one with 403 naming the origin", () => {
    const refusal = refuse(head("POST", "/api/trpc/oncall.killSwitch", { cookie: "s=1", "sec-fetch-site": "cross-site", origin: "https://evil.example", "content-type": "application/json" }));
    expect(refusal).toMatchObject({ status: 403 });
    expect(refusal?.message).toContain("https://evil.example");
  });
});

describe("API paths Next.js would answer with its HTML 404 page", () => {
  // Rollouts break test: DELETE/PATCH/PUT on a model version answered Next's HTML 404.
  it.each([
    ["DELETE", "/api/v1/models/search-ranker/versions/3", 404, undefined],
    ["GET", "/api/v1/nothing-here", 404, undefined],
    ["GET", "/api/v1/models/search-ranker/versions", 405, "POST"],
    ["DELETE", "/api/v1/models/search-ranker/versions/3/artifact", 405, "GET, HEAD"],
    ["POST", "/api/v1/ping", 405, "GET, HEAD"],
    ["PUT", "/api/v1/audit.csv", 405, "GET, HEAD"],
    // Break test 2026-12-02: a Cohere client's wrong base URL or path was redirected to the sign-in page (307).
    ["POST", "/V2/rerank", 404, undefined],
    ["POST", "/v3/rerank", 404, undefined],
    ["POST", "/v2/embed", 404, undefined],
    ["GET", "/v1", 404, undefined],
    ["POST", "/API/v1/rerank", 404, undefined],
  ] as const)("%s %s → %s (Allow: %s)", (method, path, status, allow) => {
    const refusal = refuse(head(method, path, { "content-type": "application/json" }));
    expect(refusal).toMatchObject({ status });
    expect(refusal?.headers?.allow).toBe(allow);
    expect(refusal?.message).toMatch(status === 404 ? /^path: no API endpoint at / : /^method: .* takes /);
  });

  it("covers every route handler under app/api with the methods it exports (a new one must be added to NEXT_API_ROUTES)", () => {
    const handlers: Array<{ path: string; methods: string[] }> = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name === "route.ts") {
          const text = readFileSync(full, "utf8");
          const methods = [...text.matchAll(/export (?:async function|function|const) (GET|POST|PUT|PATCH|DELETE|HEAD)\b|export const \{([^}]+)\}/g)].flatMap((m) => (m[1] ? [m[1]] : m[2]!.split(",").map((x) => x.trim())));
          // A sample URL: dynamic segments filled in ([...all] → a two-segment path).
          const url = "/" + path.relative("app", path.dirname(full)).split(path.sep).map((seg) => (seg.startsWith("[...") ? "sign-in/email" : seg.startsWith("[") ? "x" : seg)).join("/");
          handlers.push({ path: url, methods });
        }
      }
    };
    walk(path.join("app", "api"));
    expect(handlers.length).toBeGreaterThanOrEqual(4);
    for (const { path: url, methods } of handlers) {
      expect(methods.length, url).toBeGreaterThan(0);
      for (const method of methods) expect(apiPathRefusal(method, url), `${method} ${url}`).toBeNull();
    }
  });

  it("leaves the paths Next.js serves, better-auth's, our own endpoints and pages alone", () => {
    for (const [method, path] of [["GET", "/api/health"], ["HEAD", "/api/metrics"], ["GET", "/api/v1/ping"], ["GET", "/api/v1/audit.csv"], ["GET", "/api/v1/models/m/versions/2/artifact"], ["POST", "/api/auth/sign-out"], ["GET", "/api/auth/get-session"], ["GET", "/models"], ["GET", "/no-such-page"]] as const) {
      expect(refuse(head(method, path, { "content-type": "application/json" })), `${method} ${path}`).toBeNull();
    }
  });
});

describe("body limits known from the head", () => {
  it("refuses a declared length over the route's limit with 413, and Next-bound bodies of unknown length with 411", () => {
    expect(refuse(head("POST", "/api/v1/rerank", { "content-type": "application/json", "content-length": "1048577" }))?.status).toBe(413);
    expect(refuse(head("POST", "/api/v1/rerank", { "content-type": "application/json", "content-length": "1048576" }))).toBeNull();
    expect(refuse(head("POST", "/api/v1/models/m/versions", { "content-length": String(50 * 1_048_576) }))).toBeNull();
    expect(refuse(head("POST", "/api/v1/models/m/versions", { "content-length": String(52 * 1_048_576) }))?.status).toBe(413);
    expect(refuse(head("POST", "/dashboards/oncall", { "content-length": String(65 * 1024) }))?.status).toBe(413);
    expect(refuse(head("POST", "/dashboards/oncall", { "transfer-encoding": "chunked" }))?.status).toBe(411);
    // Our own routes bound chunked bodies while reading them.
    expect(refuse(head("POST", "/api/trpc/rerank.rank", { "content-type": "application/json", "transfer-encoding": "chunked" }))).toBeNull();
  });
});

describe("clientAddress", () => {
  it("is the socket's address whatever the client claims, unless a trusted proxy reports it", () => {
    expect(clientAddress("10.0.0.9", "1.2.3.4", false)).toBe("10.0.0.9");
    expect(clientAddress("10.0.0.9", undefined, true)).toBe("10.0.0.9");
    // Behind a proxy: the entry it appended (the last), not what the client put before it.
    expect(clientAddress("10.0.0.9", "6.6.6.6, 203.0.113.7", true)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.9", ["6.6.6.6", "203.0.113.8"], true)).toBe("203.0.113.8");
  });
});

describe("crossSiteAllowed: Sec-Fetch-Site outranks Origin", () => {
  it("refuses a cookie-authenticated POST the browser marks cross-site even with this site's Origin", () => {
    const headers = { cookie: "s=1", origin: "http://127.0.0.1:3000", host: "127.0.0.1:3000" };
    expect(crossSiteAllowed("POST", { ...headers, secFetchSite: "cross-site" })).toBe(false);
    expect(crossSiteAllowed("POST", { ...headers, secFetchSite: "same-site" })).toBe(false);
    expect(crossSiteAllowed("POST", { ...headers, secFetchSite: "same-origin" })).toBe(true);
    expect(crossSiteAllowed("POST", headers)).toBe(true);
  });
});
