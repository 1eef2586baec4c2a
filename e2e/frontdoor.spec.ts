import http from "node:http";
import type { AddressInfo } from "node:net";
import type { APIResponse } from "@playwright/test";
import { expect, keys, test } from "./fixtures";

// The front door of the built server that `npm start` runs: what a page on another site, a DNS
// rebinding attacker or an oversized client meets, the headers every response carries, and the
// same answers from POST /api/v1/rerank and from tRPC's rerank.rank.

const port = Number(process.env.E2E_PORT ?? 3100);
const candidates = Array.from({ length: 20 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 20 }));
const valid = { surface: "search", topK: 5, userKey: "e2e-frontdoor", candidates };

/** A raw HTTP/1.1 request, for what fetch and Playwright will not send (a foreign Host, a slow chunked body). */
function rawRequest(options: { method?: string; path: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: options.method ?? "GET", path: options.path, headers: options.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * Streams `totalBytes` as a chunked body in 64 KiB chunks, a little at a time, and reports how much
 * had been sent when the answer came: a server that stops reading at the limit answers long before the end.
 */
function chunkedUpload(path: string, totalBytes: number) {
  return new Promise<{ status: number; body: string; sentWhenAnswered: number }>((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path, headers: { "content-type": "application/json", "transfer-encoding": "chunked", authorization: `Bearer ${keys().adminKey}` } }, (res) => {
      answered = true;
      const sentWhenAnswered = sent;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sentWhenAnswered }));
    });
    req.on("error", (error) => (answered ? undefined : reject(error))); // EPIPE/ECONNRESET after the answer: the server hung up, as it should
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    req.write('{"pad":"');
    const pump = () => {
      if (answered || sent >= totalBytes) return req.end('"}');
      sent += chunk.length;
      req.write(chunk, () => setTimeout(pump, 5));
    };
    pump();
  });
}

/** Another site: a plain page on its own port, with no CSP of its own. */
async function attackerSite(): Promise<string> {
  const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>another site</title><p>hello</p>"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: attackerPort } = server.address() as AddressInfo;
  server.unref();
  return `http://localhost:${attackerPort}/`;
}

const SECURITY_HEADERS = ["content-security-policy", "x-content-type-options", "referrer-policy", "permissions-policy", "x-frame-options"];

function expectSecurityHeaders(headers: Record<string, string | string[] | undefined>, what: string) {
  for (const name of SECURITY_HEADERS) expect(headers[name], `${name} on ${what}`).toBeTruthy();
  expect(String(headers["content-security-policy"])).toContain("frame-ancestors 'none'");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-content-type-options"]).toBe("nosniff");
}

test("a foreign Host is refused with 421 on pages and APIs (DNS rebinding)", async () => {
  for (const path of ["/", "/api/v1/ping", "/api/trpc/surfaces.list"]) {
    const response = await rawRequest({ path, headers: { host: "rebound.attacker.example" } });
    expect(response.status, path).toBe(421);
    expect(JSON.parse(response.body).error.message).toContain('"rebound.attacker.example" is not served here');
    expectSecurityHeaders(response.headers, `421 on ${path}`);
  }
  const rerank = await rawRequest({ method: "POST", path: "/api/v1/rerank", headers: { host: "rebound.attacker.example:3000", "content-type": "application/json" }, body: JSON.stringify(valid) });
  expect(rerank.status).toBe(421);
  // The allowed names still work.
  expect((await rawRequest({ path: "/api/v1/ping", headers: { host: `localhost:${port}` } })).status).toBe(200);
});

test("a page on another site cannot post text/plain to the serving API (415), and nothing is recorded", async ({ page, request }) => {
  // The other site: a page of its own on another port (on loopback, so that Chromium's
  // private-network guard does not step in first). Chromium sends a no-cors simple request: text/plain, no preflight.
  await page.goto(await attackerSite());
  const served = await (await request.post("/api/v1/rerank", { data: valid })).json();
  const eventId = `e2e-csrf-${Date.now()}`;
  for (const [path, body] of [
    ["/api/v1/rerank", JSON.stringify(valid)],
    ["/api/v1/events", JSON.stringify({ events: [{ eventId, requestId: served.requestId, type: "purchase", itemId: served.items[0].id, revenue: 99999 }] })],
  ] as const) {
    const answered = page.waitForResponse((r) => r.url().endsWith(path));
    await page.evaluate(([url, text]) => fetch(url, { method: "POST", mode: "no-cors", body: text }).then(() => undefined), [`http://127.0.0.1:${port}${path}`, body] as const);
    const response = await answered;
    expect(response.status(), path).toBe(415);
    expect(response.request().headers()["content-type"]).toContain("text/plain");
  }
  // The page cannot read the answer (no CORS); a direct caller sees the JSON error naming the type.
  const direct = await request.post("/api/v1/events", { data: Buffer.from("{}"), headers: { "content-type": "text/plain;charset=UTF-8" } });
  expect(direct.status()).toBe(415);
  expect((await direct.json()).error.message).toBe('content-type: expected application/json, got "text/plain;charset=UTF-8"');
  // The same event, sent properly, is new: the forged one was never recorded.
  const replay = await request.post("/api/v1/events", { data: { events: [{ eventId, requestId: served.requestId, type: "click", itemId: served.items[0].id, position: 1 }] } });
  expect(await replay.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
});

test("security headers are on pages, tRPC, the serving API, route handlers and a 404", async ({ request, page }) => {
  const responses: Array<[string, APIResponse]> = [
    ["page /", await request.get("/")],
    ["tRPC query", await request.get(`/api/trpc/surfaces.list?input=${encodeURIComponent(JSON.stringify({ json: null }))}`)],
    ["POST /api/v1/rerank", await request.post("/api/v1/rerank", { data: valid })],
    ["GET /api/health (the front door's own)", await request.get("/api/health")],
    ["GET /api/v1/ping (a Next route handler, on the pages thread)", await request.get("/api/v1/ping")],
    ["404 page", await request.get("/no-such-page")],
  ];
  for (const [what, response] of responses) expectSecurityHeaders(response.headers(), what);
  expect(responses.at(-1)![1].status()).toBe(404);
  // The console cannot be framed by another site.
  await page.goto(await attackerSite());
  const blocked = page.waitForEvent("console", (m) => /frame-ancestors|Refused to (display|frame)/i.test(m.text()));
  await page.evaluate((src) => {
    const frame = document.createElement("iframe");
    frame.src = src;
    document.body.append(frame);
  }, `http://127.0.0.1:${port}/dashboards/oncall`);
  expect((await blocked).text()).toContain("frame-ancestors 'none'");
});

test("the console's pages render under the CSP with no violation", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to (load|execute|apply|connect)/i.test(m.text())) violations.push(m.text());
  });
  await page.addInitScript(() => document.addEventListener("securitypolicyviolation", (e) => console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`)));
  for (const path of ["/", "/experiments", "/experiments/new", "/models", "/shadow", "/dashboards/executive", "/dashboards/oncall", "/dashboards/debug"]) {
    await page.goto(path);
    await expect(page.getByTestId("status-badge")).toContainText("healthy");
  }
  // A tRPC mutation from the browser (the Debug page's Rerank) goes through the front door.
  await page.getByLabel("Candidates").fill("50");
  await page.getByRole("button", { name: "Rerank" }).click();
  await expect(page.getByTestId("rerank-result")).toBeVisible();
  await page.screenshot({ path: "e2e/screenshots/frontdoor-debug-under-csp.png", fullPage: true });
  expect(violations).toEqual([]);
});

test("a 2 MiB chunked body is refused with 413 at the limit, without reading the rest", async () => {
  for (const path of ["/api/v1/rerank", "/api/trpc/rerank.rank"]) {
    const result = await chunkedUpload(path, 2 * 1024 * 1024);
    expect(result.status, path).toBe(413);
    expect(result.body).toContain("exceeds the 1048576-byte limit");
    expect(result.sentWhenAnswered, `${path}: answered after ${result.sentWhenAnswered} bytes`).toBeLessThan(2 * 1024 * 1024);
  }
  // The server is fine afterwards.
  expect((await rawRequest({ path: "/api/v1/ping", headers: { host: `127.0.0.1:${port}` } })).status).toBe(200);
});

test("POST /api/v1/rerank and tRPC rerank.rank give the same answers for the same inputs", async ({ request }) => {
  const viaHttp = (body: string) => request.post("/api/v1/rerank", { data: Buffer.from(body), headers: { "content-type": "application/json" } });
  const viaTrpc = (body: string) => request.post("/api/trpc/rerank.rank", { data: Buffer.from(body), headers: { "content-type": "application/json" } });
  const wrap = (input: unknown) => JSON.stringify({ json: input });
  const cases: Array<{ name: string; http: string; trpc: string; status: number; message?: string }> = [
    { name: "valid", http: JSON.stringify(valid), trpc: wrap(valid), status: 200 },
    { name: "malformed JSON", http: '{"surface": "search",', trpc: '{"surface": "search",', status: 400, message: "body: malformed JSON" },
    { name: "unknown field", http: JSON.stringify({ ...valid, colour: "red" }), trpc: wrap({ ...valid, colour: "red" }), status: 400, message: 'input: unknown field "colour"' },
    { name: "unknown surface", http: JSON.stringify({ ...valid, surface: "nope" }), trpc: wrap({ ...valid, surface: "nope" }), status: 404, message: 'surface "nope" does not exist' },
  ];
  for (const c of cases) {
    const [h, t] = [await viaHttp(c.http), await viaTrpc(c.trpc)];
    expect(h.status(), `${c.name} over HTTP`).toBe(c.status);
    expect(t.status(), `${c.name} over tRPC`).toBe(c.status);
    const [hb, tb] = [await h.json(), await t.json()];
    if (c.status === 200) {
      expect(tb.result.data.json.items.map((i: { id: string }) => i.id)).toEqual(hb.items.map((i: { id: string }) => i.id));
      expect(tb.result.data.json.modelVersion).toEqual(hb.modelVersion);
      continue;
    }
    const httpMessage: string = hb.error.message;
    const trpcMessage: string = tb.error.json.message;
    expect(httpMessage, c.name).toContain(c.message);
    expect(trpcMessage, c.name).toBe(httpMessage);
  }
  // No key, and a key that is not one: 401 with the same sentence on both.
  for (const [name, authorization, message] of [
    ["no key", undefined, "authorization: sign in, or send an API key as Authorization: Bearer <key>"],
    ["unknown key", "Bearer rrk_not-a-real-key", "authorization: the API key is unknown, revoked or expired"],
  ] as const) {
    const headers = { "content-type": "application/json", ...(authorization ? { authorization } : {}) };
    const h = await fetch(`http://127.0.0.1:${port}/api/v1/rerank`, { method: "POST", headers, body: JSON.stringify(valid) });
    const t = await fetch(`http://127.0.0.1:${port}/api/trpc/rerank.rank`, { method: "POST", headers, body: wrap(valid) });
    expect([name, h.status, t.status]).toEqual([name, 401, 401]);
    expect([name, (await h.json()).error.message, (await t.json()).error.json.message]).toEqual([name, message, message]);
  }
});

test("POST /api/v1/events and tRPC events.record give the same answers for the same inputs", async ({ request }) => {
  const served = await (await request.post("/api/v1/rerank", { data: valid })).json();
  const event = (eventId: string) => ({ eventId, requestId: served.requestId, type: "click", itemId: served.items[0].id, position: 1 });
  const stamp = Date.now();
  const cases: Array<{ name: string; http: string; trpc: string; status: number }> = [
    { name: "valid", http: JSON.stringify({ events: [event(`e2e-parity-http-${stamp}`)] }), trpc: JSON.stringify({ json: { events: [event(`e2e-parity-trpc-${stamp}`)] } }), status: 200 },
    { name: "malformed JSON", http: '{"events": [', trpc: '{"events": [', status: 400 },
    { name: "unknown field", http: JSON.stringify({ events: [], colour: "red" }), trpc: JSON.stringify({ json: { events: [], colour: "red" } }), status: 400 },
  ];
  for (const c of cases) {
    const h = await request.post("/api/v1/events", { data: Buffer.from(c.http), headers: { "content-type": "application/json" } });
    const t = await request.post("/api/trpc/events.record", { data: Buffer.from(c.trpc), headers: { "content-type": "application/json" } });
    expect([h.status(), t.status()], c.name).toEqual([c.status, c.status]);
    const [hb, tb] = [await h.json(), await t.json()];
    if (c.status === 200) expect(tb.result.data.json).toEqual(hb);
    else expect(tb.error.json.message, c.name).toBe(hb.error.message);
  }
});

test("one serving state per process: an event sent over HTTP validates against a request served over tRPC, /api/metrics counts both, and Next.js runs on its own thread", async ({ request }) => {
  const served = await request.post("/api/trpc/rerank.rank", { data: { json: { ...valid, userKey: "e2e-shared-state" } } });
  expect(served.status()).toBe(200);
  const body = (await served.json()).result.data.json;
  const events = await request.post("/api/v1/events", { data: { events: [{ eventId: `e2e-shared-${Date.now()}`, requestId: body.requestId, type: "click", itemId: body.items[1].id, position: 2 }] } });
  expect(await events.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  const metrics = await (await request.get("/api/metrics")).text();
  expect(metrics).toMatch(/rerank_requests_total\{surface="search",outcome="model"\} [1-9]/);
  expect(metrics).toMatch(/rerank_outcome_events_total\{type="click"\} [1-9]/);
  // The pages are Next's, on a thread of each server process (server/http/pagesThread.ts), not in the serving thread's isolate.
  expect(metrics).toMatch(/^rerank_pages_thread_up [1-9]/m);
});
