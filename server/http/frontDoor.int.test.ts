import { setEnv } from "../config";
import { keyHeaders } from "../testing/callers";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";

// The front door on a real port with the real endpoints behind it (Next.js replaced by a stand-in):
// the upload's own body limit while streaming, the checks on the upload and on tRPC, and what
// answers every other method.

let frontDoor: TestFrontDoor;
const UPLOAD_CAP = 200_000;

beforeAll(async () => {
  await seedDemo(getDb());
  setEnv("MODEL_MAX_BYTES", String(UPLOAD_CAP));
  frontDoor = await startTestFrontDoor();
  setEnv("MODEL_MAX_BYTES", undefined);
});
afterAll(() => frontDoor?.close());

/** Streams a chunked body of `total` bytes and resolves with the status and how much was sent before the answer. */
function streamChunked(path: string, total: number, headers: Record<string, string>) {
  const url = new URL(frontDoor.url);
  return new Promise<{ status: number; body: string; sentWhenAnswered: number }>((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request({ host: url.hostname, port: url.port, method: "POST", path, headers: { ...headers, "transfer-encoding": "chunked" } }, (res) => {
      answered = true;
      const sentWhenAnswered = sent;
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sentWhenAnswered }));
    });
    req.on("error", (error) => (answered ? undefined : reject(error)));
    const chunk = Buffer.alloc(32 * 1024, 0x61);
    const pump = () => {
      if (answered || sent >= total) return req.end();
      sent += chunk.length;
      req.write(chunk, () => setTimeout(pump, 2));
    };
    pump();
  });
}

describe("the front door with the real endpoints", () => {
  it("puts the security headers on every answer of the serving endpoints, written with the answer (answers, field errors, refusals, the Cohere shape alike)", async () => {
    const key = await keyHeaders("serving");
    const candidates = [{ id: "a" }, { id: "b" }];
    const answers = {
      "200 rerank": await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, candidates }, { headers: key }),
      "400 events": await frontDoor.post("/api/v1/events", { events: [] }, { headers: key }),
      "400 malformed": await fetch(`${frontDoor.url}/api/v1/rerank`, { method: "POST", body: "{", headers: { ...key, "content-type": "application/json" } }),
      "400 field": await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 0, candidates }, { headers: key }),
      "401 no key": await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, candidates }),
      "404 surface": await frontDoor.post("/api/v1/rerank", { surface: "nope", topK: 1, candidates }, { headers: key }),
      "405 GET": await fetch(`${frontDoor.url}/api/v1/rerank`),
      "415 text/plain": await fetch(`${frontDoor.url}/api/v1/events`, { method: "POST", body: "{}", headers: { ...key, "content-type": "text/plain" } }),
      "401 cohere": await frontDoor.post("/v2/rerank", { model: "x", query: "q", documents: ["a"] }),
    };
    for (const [what, response] of Object.entries(answers)) {
      expect(response.status, what).toBe(Number(what.slice(0, 3)));
      expect(response.headers.get("content-type"), what).toBe("application/json");
      expect(response.headers.get("x-content-type-options"), what).toBe("nosniff");
      expect(response.headers.get("x-frame-options"), what).toBe("DENY");
      // An answer that is JSON loads nothing and is framed nowhere (OWASP's policy for APIs).
      expect(response.headers.get("content-security-policy"), what).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(response.headers.get("referrer-policy"), what).toBe("strict-origin-when-cross-origin");
      expect(response.headers.get("permissions-policy"), what).toContain("camera=()");
      // Each once, and the body's length exactly (one writeHead writes them all).
      expect(response.headers.get("x-frame-options"), what).not.toContain(",");
      expect(Number(response.headers.get("content-length")), what).toBe(Buffer.byteLength(await response.text()));
    }
  });

  it("bounds the model upload by its own limit (MODEL_MAX_BYTES + 1 MiB) while the body streams in", async () => {
    const limit = UPLOAD_CAP + 1_048_576;
    const result = await streamChunked("/api/v1/models/search-ranker/versions", 3 * 1_048_576, { "content-type": "multipart/form-data; boundary=x", ...(await keyHeaders("automation", ["ml_engineer"])) });
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body).error.message).toBe(`body: the payload exceeds the ${limit}-byte limit`);
    expect(result.sentWhenAnswered).toBeLessThan(3 * 1_048_576);
  });

  it("keeps the upload multipart, and still refuses it cross-site when it carries a cookie", async () => {
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array([1, 2, 3])]), "model.onnx");
    const anonymous = await fetch(`${frontDoor.url}/api/v1/models/no-such-model/versions`, { method: "POST", body: form });
    expect(anonymous.status).toBe(401);
    const upload = await fetch(`${frontDoor.url}/api/v1/models/no-such-model/versions`, { method: "POST", body: form, headers: await keyHeaders("automation", ["ml_engineer"]) });
    expect(upload.status).toBe(404);
    expect((await upload.json()).error.message).toBe('model "no-such-model" does not exist');
    const forged = await fetch(`${frontDoor.url}/api/v1/models/search-ranker/versions`, { method: "POST", body: form, headers: { cookie: "session=1", origin: "https://evil.example" } });
    expect(forged.status).toBe(403);
  });

  it("serves tRPC queries and mutations, refusing non-JSON mutations with 415", async () => {
    const list = await fetch(`${frontDoor.url}/api/trpc/surfaces.list`, { headers: await keyHeaders("automation", ["viewer"]) });
    expect(list.status).toBe(200);
    // Anonymous callers get 401 on queries and mutations alike; a viewer's key 403 on a lever.
    expect((await fetch(`${frontDoor.url}/api/trpc/surfaces.list`)).status).toBe(401);
    const anonymousLever = await frontDoor.post("/api/trpc/oncall.killSwitch", { json: { surface: "search", on: true, reason: "anonymous" } });
    expect(anonymousLever.status).toBe(401);
    const viewerLever = await frontDoor.post("/api/trpc/oncall.killSwitch", { json: { surface: "search", on: true, reason: "a viewer" } }, { headers: await keyHeaders("automation", ["viewer"]) });
    expect(viewerLever.status).toBe(403);
    expect((await viewerLever.json()).error.json.message).toBe("Needs the On-call or Admin role to turn a surface's kill switch on or off");
    const plain = await fetch(`${frontDoor.url}/api/trpc/oncall.killSwitch`, { method: "POST", body: '{"json":{}}', headers: { "content-type": "text/plain" } });
    expect(plain.status).toBe(415);
    const unknown = await frontDoor.post("/api/trpc/rerank.rank", { json: { surface: "nope", topK: 1, candidates: [{ id: "a" }] } }, { headers: await keyHeaders("serving") });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.json.message).toBe('surface "nope" does not exist');
  });

  it("answers other methods on the serving endpoints with 405, and hands other paths to Next", async () => {
    const get = await fetch(`${frontDoor.url}/api/v1/rerank`);
    expect(get.status).toBe(405);
    expect((await get.json()).error.message).toBe("method: /api/v1/rerank takes POST, not GET");
    expect(get.headers.get("allow")).toBe("POST"); // RFC 9110 §15.5.6
    // An anonymous visitor of a console page is sent to sign in, and back afterwards.
    const anonymous = await fetch(`${frontDoor.url}/dashboards/oncall?hours=6`, { redirect: "manual" });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get("location")).toBe("/sign-in?next=%2Fdashboards%2Foncall%3Fhours%3D6");
    expect((await fetch(`${frontDoor.url}/sign-in`, { redirect: "manual" })).status).toBe(404); // Next's, not a redirect
    const page = await fetch(`${frontDoor.url}/dashboards/oncall`, { headers: await keyHeaders("automation", ["viewer"]) });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain("Next.js is not running in this test");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
  });
});

describe("every 401 carries its challenge (RFC 9110 §11.6.1, RFC 6750 §3; a break test found none)", () => {
  const REALM = 'Bearer realm="rerank-console"';
  const INVALID_TOKEN = `${REALM}, error="invalid_token"`;
  const candidates = [{ id: "a" }, { id: "b" }];

  it("the serving endpoints, the upload and the key-checked metrics: the realm without a key, invalid_token for a key that is none", async () => {
    const form = new FormData();
    form.set("file", new Blob([new Uint8Array([1, 2, 3])]), "model.onnx");
    setEnv("METRICS_AUTH", "on");
    try {
      for (const [authorization, challenge] of [[undefined, REALM], ["Bearer rrk_not-a-key", INVALID_TOKEN], ["Token rrk_not-a-key", REALM], ["Bearer", `${REALM}, error="invalid_request"`]] as const) {
        const headers: Record<string, string> = authorization ? { authorization } : {};
        const answers = {
          rerank: await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, candidates }, { headers }),
          cohere: await frontDoor.post("/v2/rerank", { model: "x", query: "q", documents: ["a"] }, { headers }),
          events: await frontDoor.post("/api/v1/events", { events: [] }, { headers }),
          upload: await fetch(`${frontDoor.url}/api/v1/models/search-ranker/versions`, { method: "POST", body: form, headers }),
          metrics: await fetch(`${frontDoor.url}/api/metrics`, { headers }),
        };
        for (const [what, answer] of Object.entries(answers)) {
          expect([what, authorization, answer.status]).toEqual([what, authorization, 401]);
          expect(answer.headers.get("www-authenticate"), `${what} ${authorization}`).toBe(challenge);
          await answer.arrayBuffer();
        }
      }
      // A key that may read the metrics is answered, and a refusal that is not a 401 carries no challenge.
      const served = await fetch(`${frontDoor.url}/api/metrics`, { headers: await keyHeaders("automation", ["viewer"]) });
      expect([served.status, served.headers.get("www-authenticate")]).toEqual([200, null]);
      const forbidden = await frontDoor.post("/api/v1/rerank", { surface: "search", topK: 1, candidates }, { headers: await keyHeaders("automation", ["viewer"]) });
      expect([forbidden.status, forbidden.headers.get("www-authenticate")]).toEqual([403, null]);
    } finally {
      setEnv("METRICS_AUTH", undefined);
    }
  });

  it("tRPC: a query, a mutation and a batch refused 401 carry it; a 403 does not", async () => {
    const query = await fetch(`${frontDoor.url}/api/trpc/surfaces.list`);
    expect([query.status, query.headers.get("www-authenticate")]).toEqual([401, REALM]);
    const badKey = await fetch(`${frontDoor.url}/api/trpc/surfaces.list`, { headers: { authorization: "Bearer rrk_not-a-key" } });
    expect([badKey.status, badKey.headers.get("www-authenticate")]).toEqual([401, INVALID_TOKEN]);
    const mutation = await frontDoor.post("/api/trpc/oncall.killSwitch", { json: { surface: "search", on: true, reason: "anonymous" } });
    expect([mutation.status, mutation.headers.get("www-authenticate")]).toEqual([401, REALM]);
    const keyedMutation = await frontDoor.post("/api/trpc/oncall.killSwitch", { json: { surface: "search", on: true, reason: "a dead key" } }, { headers: { authorization: "Bearer rrk_not-a-key" } });
    expect([keyedMutation.status, keyedMutation.headers.get("www-authenticate")]).toEqual([401, INVALID_TOKEN]);
    const batch = await fetch(`${frontDoor.url}/api/trpc/surfaces.list,models.list?batch=1&input=${encodeURIComponent("{}")}`);
    expect([batch.status, batch.headers.get("www-authenticate")]).toEqual([401, REALM]);
    const viewerLever = await frontDoor.post("/api/trpc/oncall.killSwitch", { json: { surface: "search", on: true, reason: "a viewer" } }, { headers: await keyHeaders("automation", ["viewer"]) });
    expect([viewerLever.status, viewerLever.headers.get("www-authenticate")]).toEqual([403, null]);
  });
});
