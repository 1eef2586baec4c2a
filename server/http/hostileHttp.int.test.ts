import http from "node:http";
import net from "node:net";
import getPort from "get-port";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { maxModelBytes } from "../registry/versions";
import { RERANK_LIMITS } from "../rerank/schema";
import { keyHeaders } from "../testing/callers";
import { frontDoorSettings } from "./frontDoor";
import { createFrontDoorServer } from "./server";

// The break test's requests against the real front door and endpoints (Next.js replaced by a
// stand-in), over real sockets: a tRPC envelope that took a worker out of memory, bodies that pause
// or never come, bytes that are not UTF-8, paths that do not decode, compressed bodies, and a
// Content-Length shorter than the body. The body-pause limit is 400 ms here (30 s in production).

const IDLE_MS = 400;
let server: http.Server;
let port: number;
let base: string;
let serving: Record<string, string>;
let engineer: Record<string, string>;

beforeAll(async () => {
  await seedDemo(getDb());
  port = await getPort({ host: "127.0.0.1" });
  const settings = frontDoorSettings({}, { host: "127.0.0.1", port, dev: false, jsonBodyLimit: RERANK_LIMITS.maxPayloadBytes, uploadBodyLimit: maxModelBytes() + 1_048_576 });
  // Next reads the body of a POST it serves (sign-in), then answers.
  server = createFrontDoorServer({ ...settings, bodyIdleMs: IDLE_MS }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.statusCode = 404;
      res.end("not found (Next.js is not running in this test)");
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${port}`;
  serving = await keyHeaders("serving");
  engineer = await keyHeaders("automation", ["ml_engineer"]);
}, 60_000);
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

interface RawAnswer {
  status: number;
  head: string;
  body: string;
  /** ms from the first byte written to the answer's end (or the socket's close). */
  ms: number;
}

/**
 * Writes `head` and then each of `parts` (strings or bytes) on a raw socket, and reads what comes back
 * until the server closes the connection or `waitMs` pass. Nothing is added: the bytes are the test's.
 */
function raw(head: string, parts: Array<string | Buffer> = [], waitMs = 5_000): Promise<RawAnswer & { closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const started = performance.now();
    let closed = false;
    const done = () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const headText = split < 0 ? text : text.slice(0, split);
      let body = split < 0 ? "" : text.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(headText)) body = body.replace(/(?:^|\r\n)[0-9a-f]+\r\n/gi, "");
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1] ?? 0), head: headText.toLowerCase(), body, ms: performance.now() - started, closed });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, waitMs);
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => undefined); // a reset after the answer: what was read is the answer
    socket.on("close", () => {
      closed = true;
      clearTimeout(timer);
      done();
    });
    socket.on("connect", () => {
      socket.write(head);
      for (const part of parts) socket.write(part);
    });
    socket.on("timeout", reject);
  });
}

const headLines = (method: string, path: string, headers: Record<string, string>) =>
  `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;

/** The break test's envelope: `meta.values` nesting `depth` levels of 104-segment keys. */
function nestedMeta(depth: number): string {
  const key = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.".repeat(4).slice(0, -1);
  let tree = '["undefined"]';
  for (let i = 0; i < depth; i++) tree = `["undefined",{"${key}":${tree}}]`;
  return `{"json":{"surface":"search","topK":1,"candidates":[{"id":"a"}]},"meta":{"values":{"x":${tree}}}}`;
}

const trpcPost = (path: string, body: string, headers: Record<string, string> = serving) =>
  fetch(`${base}/api/trpc/${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

describe("tRPC's superjson envelope", () => {
  it("refuses meta.values nested past 32 levels with a 400 naming the field, in milliseconds, the heap bounded (break test: 4,000 levels took a worker out of memory)", async () => {
    // The first tRPC request of the file pays the handler's warm-up (551 ms once on a loaded CI machine): not what is measured.
    await trpcPost("rerank.rank", nestedMeta(2));
    for (const depth of [40, 1000, 4000]) {
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      const response = await trpcPost("rerank.rank", nestedMeta(depth));
      const ms = performance.now() - started;
      const body = await response.json();
      expect([depth, response.status]).toEqual([depth, 400]);
      expect(body.error.json.message, `depth ${depth}`).toMatch(/^meta\.values\.x\.a\.b\.c.*: annotation(s nested more than 32 levels deep| paths of more than 400000 segments in all)$/);
      // Refused before any deep walk: milliseconds; the bound leaves a loaded machine room, and is far below the seconds (and the worker's heap) 4,000 levels took.
      expect(ms, `depth ${depth}`).toBeLessThan(2000);
      expect(process.memoryUsage().heapUsed - heapBefore, `depth ${depth}`).toBeLessThan(200 * 1_048_576);
    }
  });

  it("refuses too many annotations, a long key and types no input takes, naming the field and never quoting superjson", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["a 2,000-character key", `{"json":{"surface":"search","topK":1,"candidates":[{"id":"a"}]},"meta":{"values":{"${"k".repeat(2000)}":["undefined"]},"v":1}}`, /^meta\.values: a path key longer than 1000 characters$/],
      ["an unknown class", '{"json":{"surface":"search","topK":1,"candidates":[{"id":"a"}]},"meta":{"values":{"surface":[["class","Foo"]]},"v":1}}', /^meta\.values\.surface: the type \["class","Foo"\] is not taken as input/],
      ["a string where annotations go", '{"json":{"surface":"search","topK":1,"candidates":[{"id":"a"}]},"meta":{"values":"abc","v":1}}', /^meta\.values: must be an annotation/],
      ["__proto__ in a path", '{"json":{"surface":"search","topK":1,"candidates":[{"id":"a"}]},"meta":{"values":{"candidates.__proto__":["undefined"]},"v":1}}', /^meta\.values\.candidates\.__proto__: "__proto__" is not allowed in a path$/],
      ["a BigInt that is not one", '{"json":{"surface":"search","topK":"x1","candidates":[{"id":"a"}]},"meta":{"values":{"topK":["bigint"]},"v":1}}', /^meta\.values: an annotation does not fit the value at its path$/],
    ];
    for (const [name, body, message] of cases) {
      const response = await trpcPost("rerank.rank", body);
      const text = await response.text();
      expect([name, response.status], text).toEqual([name, 400]);
      expect(JSON.parse(text).error.json.message, name).toMatch(message);
      expect(text, name).not.toMatch(/github|call stack|superjson\/dist/i);
    }
  });

  it("takes every input the schema takes: 1,000 candidates with -0 and undefined in their features (second break test: 12,000 path segments were refused)", async () => {
    const candidates = Array.from({ length: 1000 }, (_, i) => ({ id: `sku-${String(i).padStart(5, "0")}`, retrievalScore: undefined, features: { price_delta: -0, margin_delta: -0, rating_delta: -0 } }));
    const response = await trpcPost("rerank.rank", superjson.stringify({ surface: "search", topK: 5, candidates }));
    expect(response.status, await response.clone().text()).toBe(200);
  });

  it("still reads what the console's client sends: undefined, a Date, and shared objects (their identity dropped, their values kept)", async () => {
    const shared = { id: "a" };
    const undefinedField = superjson.stringify({ surface: "search", topK: 1, userKey: undefined, candidates: [shared, { id: "b" }] });
    const ranked = await trpcPost("rerank.rank", undefinedField);
    expect(ranked.status, await ranked.clone().text()).toBe(200);
    const dated = await fetch(`${base}/api/trpc/history.servingAt?input=${encodeURIComponent(superjson.stringify({ surface: "search", at: new Date() }))}`, { headers: await keyHeaders("automation", ["viewer"]) });
    expect(dated.status, await dated.clone().text()).toBe(200);
    const withEqualities = superjson.serialize({ surface: "search", topK: 1, candidates: [shared, shared] });
    expect(withEqualities.meta?.referentialEqualities).toBeDefined();
    const duplicate = await trpcPost("rerank.rank", JSON.stringify(withEqualities));
    // The same id twice is the schema's refusal, as without the annotation: the values arrived.
    expect(duplicate.status).toBe(400);
    expect((await duplicate.json()).error.json.message).toMatch(/^candidates/);
  });
});

describe("bodies before the caller is known, and bodies that pause", () => {
  it("answers an anonymous tRPC POST 401 at once without reading its body, and closes the connection (break test: 1 MiB held per connection)", async () => {
    const answer = await raw(headLines("POST", "/api/trpc/oncall.killSwitch", { "content-type": "application/json", "content-length": "1048476" }), ['{"json":'], 2_000);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.json.message).toBe("authorization: sign in, or send an API key as Authorization: Bearer <key>");
    expect(answer.head).toContain('\r\nwww-authenticate: bearer realm="rerank-console"\r\n');
    expect(answer.closed).toBe(true);
    expect(answer.ms).toBeLessThan(IDLE_MS);
    const badKey = await raw(headLines("POST", "/api/trpc/oncall.killSwitch", { "content-type": "application/json", "content-length": "1048476", authorization: "Bearer rrk_not-a-key" }), [], 2_000);
    expect(badKey.status).toBe(401);
    expect(JSON.parse(badKey.body).error.json.message).toBe("authorization: the API key is unknown, revoked or expired");
    expect(badKey.head).toContain('\r\nwww-authenticate: bearer realm="rerank-console", error="invalid_token"\r\n');
    // A batch too; a signed-in caller's POST is served as before.
    const batch = await raw(headLines("POST", "/api/trpc/oncall.killSwitch,rerank.rank?batch=1", { "content-type": "application/json", "content-length": "100000" }), [], 2_000);
    expect(batch.status, batch.head + batch.body).toBe(401);
    expect((await trpcPost("rerank.rank", JSON.stringify({ json: { surface: "search", topK: 1, candidates: [{ id: "a" }] } }))).status).toBe(200);
  });

  it("answers 408 and closes when a body pauses, on every route (break test: held for Node's 300 s)", async () => {
    const json = { "content-type": "application/json", "content-length": "5000" };
    const routes: Array<[string, string, Record<string, string>]> = [
      ["POST", "/api/v1/rerank", { ...json, ...serving }],
      ["POST", "/v2/rerank", { ...json, ...serving }],
      ["POST", "/api/v1/events", { ...json, ...serving }],
      ["POST", "/api/trpc/rerank.rank", { ...json, ...serving }],
      ["POST", "/api/v1/models/search-ranker/versions", { "content-type": "multipart/form-data; boundary=x", "content-length": "5000000", ...engineer }],
      ["POST", "/api/auth/sign-in/email", json],
    ];
    const answers = await Promise.all(routes.map(([method, path, headers]) => raw(headLines(method, path, headers), ['{"surf'], 5_000)));
    answers.forEach((answer, i) => {
      const what = routes[i]![1];
      expect([what, answer.status, answer.closed]).toEqual([what, 408, true]);
      expect(answer.body, what).toContain(`body: no byte of it arrived for ${IDLE_MS / 1000} s; send the body without pausing`);
      expect(answer.head, what).toContain("x-content-type-options: nosniff");
      expect(answer.ms, what).toBeGreaterThanOrEqual(IDLE_MS - 50);
      expect(answer.ms, what).toBeLessThan(IDLE_MS + 2_000);
    });
  });

  it("does not cut an answer that takes longer than the pause limit once the body is in", async () => {
    const slow = createFrontDoorServer({ ...frontDoorSettings({ ALLOWED_HOSTS: "*" }, { host: "127.0.0.1", port: 0, dev: false, jsonBodyLimit: 1000, uploadBodyLimit: 1000 }), bodyIdleMs: 100 }, (req, res) => {
      req.resume();
      req.on("end", () => setTimeout(() => res.end("late but whole"), 400));
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const { port: slowPort } = slow.address() as net.AddressInfo;
    const response = await fetch(`http://127.0.0.1:${slowPort}/api/auth/sign-out`, { method: "POST", body: "x" });
    expect([response.status, await response.text()]).toEqual([200, "late but whole"]);
    await new Promise<void>((resolve) => slow.close(() => resolve()));
  });

  it("frees the upload slots held by stalled uploads, and says truthfully why one is refused (break test: 'being converted' while nothing converted)", async () => {
    const stalled = () => raw(headLines("POST", "/api/v1/models/search-ranker/versions", { "content-type": "multipart/form-data; boundary=x", "content-length": "5000000", ...engineer }), ["--x\r\n"], 5_000);
    const held = [stalled(), stalled()];
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 4));
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array([1, 2, 3])]), "model.onnx");
    const refused = await fetch(`${base}/api/v1/models/no-such-model/versions`, { method: "POST", body: form, headers: engineer });
    expect(refused.status).toBe(503);
    expect((await refused.json()).error.message).toBe("file: 2 model uploads are in progress, the most this server takes at once (MODEL_UPLOAD_CONCURRENCY); try again in 5 s");
    expect((await Promise.all(held)).map((a) => a.status)).toEqual([408, 408]);
    // The slots are free once the stalled uploads' temporary folders are gone (milliseconds).
    let taken = 503;
    for (const started = Date.now(); taken === 503 && Date.now() - started < 2_000; await new Promise((resolve) => setTimeout(resolve, 20))) {
      taken = (await fetch(`${base}/api/v1/models/no-such-model/versions`, { method: "POST", body: form, headers: engineer })).status;
    }
    expect(taken).toBe(404);
  });
});

describe("bytes, paths and encodings", () => {
  it("refuses a body that is not UTF-8 with a 400 naming the byte, on every JSON door and in the upload's text fields (break test: \\xe9 and \\xe8 became one id)", async () => {
    const candidates = (id: Buffer) => Buffer.concat([Buffer.from('{"surface":"search","topK":1,"candidates":[{"id":"caf'), id, Buffer.from('"},{"id":"cafe"}]}')]);
    const at = Buffer.byteLength('{"surface":"search","topK":1,"candidates":[{"id":"caf');
    const rest = await fetch(`${base}/api/v1/rerank`, { method: "POST", body: candidates(Buffer.from([0xe9])), headers: { "content-type": "application/json", ...serving } });
    expect(rest.status).toBe(400);
    expect(await rest.json()).toEqual({ error: { code: "BAD_REQUEST", message: `body: not valid UTF-8 at byte ${at}` } });
    const cohere = await fetch(`${base}/v2/rerank`, { method: "POST", body: Buffer.from([0x7b, 0xff, 0x7d]), headers: { "content-type": "application/json", ...serving } });
    expect([cohere.status, (await cohere.json()).message]).toEqual([400, "body: not valid UTF-8 at byte 1"]);
    const events = await fetch(`${base}/api/v1/events`, { method: "POST", body: Buffer.from('{"events":[{"eventId":"\xed\xa0\x80"}]}', "latin1"), headers: { "content-type": "application/json", ...serving } });
    expect([events.status, (await events.json()).error.message]).toEqual([400, `body: not valid UTF-8 at byte ${'{"events":[{"eventId":"'.length}`]);
    const trpc = await fetch(`${base}/api/trpc/rerank.rank`, { method: "POST", body: Buffer.concat([Buffer.from('{"json":'), candidates(Buffer.from([0xc3]))]), headers: { "content-type": "application/json", ...serving } });
    expect([trpc.status, (await trpc.json()).error.json.message]).toEqual([400, `body: not valid UTF-8 at byte ${at + 8}`]);
    // Well-formed UTF-8 passes as it is.
    expect((await fetch(`${base}/api/v1/rerank`, { method: "POST", body: candidates(Buffer.from("é")), headers: { "content-type": "application/json", ...serving } })).status).toBe(200);
    const multipart = Buffer.from('--x\r\ncontent-disposition: form-data; name="metadata"\r\n\r\n{"notes":"caf\xe9"}\r\n--x\r\ncontent-disposition: form-data; name="file"; filename="m.onnx"\r\n\r\n123\r\n--x--\r\n', "latin1");
    const upload = await fetch(`${base}/api/v1/models/search-ranker/versions`, { method: "POST", body: multipart, headers: { "content-type": "multipart/form-data; boundary=x", ...engineer } });
    expect([upload.status, (await upload.json()).error.message]).toEqual([400, `metadata: not valid UTF-8 at byte ${'{"notes":"caf'.length}`]);
    // A part that declares charset=utf-8 (.NET's StringContent does) is read as UTF-8, not refused or
    // cut to one byte per character (second break test: "中" was stored as "-").
    const declared = Buffer.concat([
      Buffer.from('--x\r\ncontent-disposition: form-data; name="metadata"\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n'),
      Buffer.from('{"notes":"café 中"}', "utf8"),
      Buffer.from('\r\n--x\r\ncontent-disposition: form-data; name="file"; filename="m.onnx"\r\n\r\n123\r\n--x--\r\n'),
    ]);
    const declaredUpload = await fetch(`${base}/api/v1/models/search-ranker/versions`, { method: "POST", body: declared, headers: { "content-type": "multipart/form-data; boundary=x", ...engineer } });
    const declaredAnswer = await declaredUpload.json();
    expect(declaredUpload.status).toBe(400);
    expect(declaredAnswer.error.message).toMatch(/^featureSpec: /); // read past the metadata: the form lacks its feature spec
  });

  it("refuses a path whose %-escapes are not UTF-8 with a 400 naming it, before Next or the upload (break test: Next answered 500 and logged nothing)", async () => {
    const cases: Array<[string, string, string]> = [
      ["GET", "/api/v1/models/sea%ZZrch/versions/1/artifact", 'path: "%ZZ" at character 18 is not a %-escape of UTF-8'],
      ["GET", "/api/v1/models/sea%ED%A0%80rch/versions/1/artifact", 'path: "%ED%A0%80" at character 18 is not a %-escape of UTF-8'],
      ["GET", "/api/auth/%ZZ", 'path: "%ZZ" at character 10 is not a %-escape of UTF-8'],
      ["POST", "/api/auth/sign-in/%ZZ", 'path: "%ZZ" at character 18 is not a %-escape of UTF-8'],
      ["POST", "/api/v1/models/sea%ZZrch/versions", 'path: "%ZZ" at character 18 is not a %-escape of UTF-8'],
      ["GET", "/experiments/%E9", 'path: "%E9" at character 13 is not a %-escape of UTF-8'],
      // An API's query string is data (tRPC's input, the audit export's filter): it was read with U+FFFD for the bad bytes.
      ["GET", "/api/trpc/audit.list?input=%7B%22json%22%3A%7B%22actor%22%3A%22%E9%22%7D%7D", 'query: "%22%3A%22%E9%22%7D%7D" at character 33 is not a %-escape of UTF-8'],
      ["GET", "/api/trpc/models.get?input=%ZZ", 'query: "%ZZ" at character 6 is not a %-escape of UTF-8'],
      ["GET", "/api/v1/audit.csv?actor=ana%ED%A0%80", 'query: "%ED%A0%80" at character 9 is not a %-escape of UTF-8'],
    ];
    for (const [method, path, message] of cases) {
      const answer = await raw(headLines(method, path, { "content-length": "0", connection: "close" }));
      expect([path, answer.status]).toEqual([path, 400]);
      expect(JSON.parse(answer.body), path).toEqual({ error: { code: "BAD_REQUEST", message } });
      expect(answer.head, path).toContain("x-frame-options: deny");
    }
    // Well-formed escapes pass on to their route; a page's query string stays Next.js's to read leniently.
    expect((await raw(headLines("GET", "/api/auth/caf%C3%A9", { connection: "close" }))).status).toBe(404);
    expect((await raw(headLines("GET", "/api/v1/audit.csv?actor=caf%C3%A9", { connection: "close" }))).status).toBe(404);
    expect((await raw(headLines("GET", "/sign-in?next=%ZZ", { connection: "close" }))).status).toBe(404);
  });

  it("answers a browser opening such a page address (or one at a host name not served) with a page saying why (it got JSON); API clients still get JSON", async () => {
    const browser = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", connection: "close" };
    const pages: Array<[string, string]> = [
      ["/%", "path: &quot;%&quot; at character 1 is not a %-escape of UTF-8"],
      ["/experiments/%E9", "path: &quot;%E9&quot; at character 13 is not a %-escape of UTF-8"],
      ["/%<b", "path: &quot;%&lt;b&quot; at character 1 is not a %-escape of UTF-8"],
    ];
    for (const [path, message] of pages) {
      const answer = await raw(headLines("GET", path, browser));
      expect([path, answer.status]).toEqual([path, 400]);
      expect(answer.head, path).toMatch(/content-type: text\/html; charset=utf-8/);
      expect(answer.head, path).toContain("x-frame-options: deny");
      expect(answer.body, path).toContain(`<p>${message}</p>`);
      expect(answer.body, path).toContain('<a href="/">Back to the console</a>');
      expect(answer.body, path).not.toContain("%<b");
    }
    // The other refusal a page address can meet: a host name not in ALLOWED_HOSTS (421).
    const misdirected = await raw(`GET / HTTP/1.1\r\nhost: console.evil.test\r\naccept: text/html\r\nconnection: close\r\n\r\n`);
    expect(misdirected.status).toBe(421);
    expect(misdirected.body).toContain("<h1>Not served at this host name</h1>");
    expect(misdirected.body).toContain("host: &quot;console.evil.test&quot; is not served here");
    // Not a browser navigating, or an API path: the JSON error as before.
    expect(JSON.parse((await raw(headLines("GET", "/%", { connection: "close" }))).body).error.code).toBe("BAD_REQUEST");
    const api = await raw(headLines("GET", "/api/auth/%ZZ", browser));
    expect(JSON.parse(api.body).error.code).toBe("BAD_REQUEST");
  });

  it("refuses a compressed body with 415 naming content-encoding (break test: gzip read as malformed JSON, a plain body labelled gzip taken)", async () => {
    for (const path of ["/api/v1/rerank", "/api/trpc/rerank.rank", "/api/v1/models/search-ranker/versions", "/api/auth/sign-in/email"]) {
      const response = await fetch(`${base}${path}`, { method: "POST", body: '{"json":{}}', headers: { "content-type": "application/json", "content-encoding": "gzip", ...serving } });
      expect([path, response.status]).toEqual([path, 415]);
      expect((await response.json()).error.message, path).toBe('content-encoding: "gzip" is not accepted; send the body uncompressed');
    }
    const identity = await fetch(`${base}/api/v1/rerank`, { method: "POST", body: JSON.stringify({ surface: "search", topK: 1, candidates: [{ id: "a" }] }), headers: { "content-type": "application/json", "content-encoding": "identity", ...serving } });
    expect(identity.status).toBe(200);
  });

  it("answers a request Node cannot parse in the JSON error shape with the security headers (break test: a bare 400 Bad Request)", async () => {
    // A Content-Length shorter than the body: the rest is read as the next request, which is not one.
    const short = await raw(headLines("POST", "/api/v1/rerank", { "content-type": "application/json", "content-length": "2", ...serving }), ['{}{"surface":"search"}']);
    const last = short.body.lastIndexOf("HTTP/1.1 400");
    const answer = last < 0 ? short : { ...short, head: short.body.slice(last).split("\r\n\r\n")[0]!.toLowerCase(), body: short.body.slice(last).split("\r\n\r\n")[1]! };
    expect(answer.head).toContain("400 bad request");
    expect(answer.head).toContain("content-type: application/json");
    expect(answer.head).toContain("x-frame-options: deny");
    expect(JSON.parse(answer.body)).toEqual({ error: { code: "BAD_REQUEST", message: "request: not a well-formed HTTP/1.1 request (HPE_INVALID_METHOD)" } });
    // An Expect other than 100-continue (break test 2026-12-04: 417 with an empty body).
    const expectation = await raw(headLines("POST", "/api/v1/rerank", { "content-type": "application/json", "content-length": "2", expect: "foo", ...serving }), ["{}"]);
    expect(expectation.status).toBe(417);
    expect(expectation.head).toContain("x-frame-options: deny");
    expect(JSON.parse(expectation.body)).toEqual({ error: { code: "EXPECTATION_FAILED", message: 'expect: "foo" is not supported; only 100-continue is (or send no Expect header)' } });
    const garbage = await raw("GARBAGE\r\n\r\n");
    expect(garbage.status).toBe(400);
    expect(garbage.head).toContain("content-security-policy");
    expect(JSON.parse(garbage.body).error.code).toBe("BAD_REQUEST");
  });
});
