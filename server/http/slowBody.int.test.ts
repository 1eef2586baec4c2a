import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, forgetVerifiedKeys, revokeApiKey } from "../auth/apiKeys";
import { stopConfigListener } from "../db/configChanges";
import { getDb } from "../db/client";
import { seedDemo } from "../db/seed";
import { openServedModels } from "../rerank/warm";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";

// Found by the access-control break test: the front door checked the caller before reading the body
// and handed that principal on, so a body sent slowly (a byte within every 30 s) finished with the
// rights its caller had when it began: a disabled admin invited a new admin 80 s after being
// disabled; a revoked key created a model. The caller is now checked again once the body is in.
// Real PostgreSQL, real front door over HTTP; the revocation is what the change listener does.

let frontDoor: TestFrontDoor;
let ownerId: string;
let itemIds: string[];

beforeAll(async () => {
  const db = getDb();
  await seedDemo(db);
  itemIds = (await db.catalogItem.findMany({ select: { id: true }, orderBy: { id: "asc" }, take: 5 })).map((c) => c.id);
  ownerId = (await db.user.upsert({ where: { email: "slow-body@rerank.test" }, create: { email: "slow-body@rerank.test", name: "Slow body", roles: ["admin"] }, update: {} })).id;
  await openServedModels(() => {});
  frontDoor = await startTestFrontDoor();
}, 120_000);
afterAll(() => frontDoor?.close());

/** A fresh key of `kind` (an automation key with the admin role). */
async function freshKey(kind: "serving" | "automation") {
  return createApiKey(getDb(), { name: `slow-body ${kind} ${Date.now()}`, kind, roles: kind === "automation" ? ["admin"] : [] }, ownerId);
}

/** POSTs `body` in two halves; `between` runs after the first half reached the server (its caller checked). */
function postInHalves(path: string, body: Buffer, headers: Record<string, string>, between: () => Promise<void>) {
  const url = new URL(frontDoor.url);
  return new Promise<{ status: number; body: string; challenge: string | undefined }>((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: "POST", path, headers: { ...headers, "content-length": String(body.length) } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, challenge: res.headers["www-authenticate"] }));
    });
    req.on("error", reject);
    const half = Math.floor(body.length / 2);
    req.write(body.subarray(0, half), () => {
      setTimeout(() => {
        between().then(() => req.end(body.subarray(half)), reject);
      }, 300);
    });
  });
}

const rerankBody = () => Buffer.from(JSON.stringify({ surface: "search", topK: 3, userKey: "u-slow", candidates: itemIds.map((id, i) => ({ id, retrievalScore: 1 - i / 10 })) }));

/** A 401's WWW-Authenticate for a Bearer key that is not (or no longer) a live key. */
const INVALID_TOKEN = 'Bearer realm="rerank-console", error="invalid_token"';

const revoke = async (id: string) => {
  await revokeApiKey(getDb(), id);
  forgetVerifiedKeys(); // what the change listener does in every process on the NOTIFY
};

describe("a request's caller is checked again once its body is in", () => {
  it("/api/v1/rerank: a serving key revoked while its body arrives gets 401, not the ranking", async () => {
    const key = await freshKey("serving");
    const body = rerankBody();
    const answer = await postInHalves("/api/v1/rerank", body, { authorization: `Bearer ${key.key}`, "content-type": "application/json" }, () => revoke(key.apiKey.id));
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.code).toBe("UNAUTHORIZED");
    // The refusal after the body carries the challenge too: the key sent is no longer one (RFC 6750 §3.1).
    expect(answer.challenge).toBe(INVALID_TOKEN);
    // The same request from a live key is served (the test's request is a valid one).
    const live = await freshKey("serving");
    expect((await frontDoor.post("/api/v1/rerank", JSON.parse(body.toString()), { headers: { authorization: `Bearer ${live.key}` } })).status).toBe(200);
  });

  // The check after the body is a full one: a review found both of these served (200) by a shortcut
  // (session 38) that let an API key's first verdict stand when no change had been heard.
  it("/api/v1/rerank: a serving key that expires while its body arrives gets 401", async () => {
    const expiresAt = new Date(Date.now() + 250);
    const key = await createApiKey(getDb(), { name: `slow-body expiring ${Date.now()}`, kind: "serving", expiresAt }, ownerId);
    const answer = await postInHalves("/api/v1/rerank", rerankBody(), { authorization: `Bearer ${key.key}`, "content-type": "application/json" }, async () => {
      while (Date.now() <= expiresAt.getTime() + 20) await new Promise((r) => setTimeout(r, 10));
    });
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(INVALID_TOKEN);
  });

  it("tRPC: a mutation whose automation key is revoked while its body arrives gets 401 and changes nothing", async () => {
    const key = await freshKey("automation");
    const name = `slow-body-model-${Date.now()}`;
    const body = Buffer.from(JSON.stringify({ json: { name, owner: "slow", description: "x".repeat(200) } }));
    const answer = await postInHalves("/api/trpc/models.create", body, { authorization: `Bearer ${key.key}`, "content-type": "application/json" }, () => revoke(key.apiKey.id));
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(INVALID_TOKEN);
    expect(await getDb().model.findUnique({ where: { name } })).toBeNull();
  });

  it("tRPC: a person disabled while their key's request body arrives gets 401 (their keys die with them)", async () => {
    const db = getDb();
    const person = await db.user.create({ data: { email: `slow-leaver-${Date.now()}@rerank.test`, name: "Leaver", roles: ["admin"] } });
    const key = await createApiKey(db, { name: "leaver's key", kind: "automation", roles: ["admin"] }, person.id);
    const name = `slow-body-leaver-${Date.now()}`;
    const body = Buffer.from(JSON.stringify({ json: { name, owner: "slow" } }));
    const answer = await postInHalves("/api/trpc/models.create", body, { authorization: `Bearer ${key.key}`, "content-type": "application/json" }, async () => {
      await db.user.update({ where: { id: person.id }, data: { disabled: true } });
      forgetVerifiedKeys();
    });
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(INVALID_TOKEN);
    expect(await db.model.findUnique({ where: { name } })).toBeNull();
  });

  it("the model upload: a key revoked while the file arrives gets 401, and nothing is stored", async () => {
    const key = await freshKey("automation");
    const boundary = "slowbodyboundary";
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="model.onnx"\r\ncontent-type: application/octet-stream\r\n\r\n`),
      Buffer.alloc(64 * 1024, 1),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const answer = await postInHalves("/api/v1/models/no-such-model/versions", body, { authorization: `Bearer ${key.key}`, "content-type": `multipart/form-data; boundary=${boundary}` }, () => revoke(key.apiKey.id));
    // Before: the upload went on as the revoked key (here: 404 for the unknown model, read after the form).
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(INVALID_TOKEN);
  });

  // Last: it stops this process's change listener.
  it("/api/v1/rerank: a revocation a background re-read finds while the body arrives (no change heard: the listener is down) gets 401", async () => {
    const key = await freshKey("serving");
    const live = await frontDoor.post("/api/v1/rerank", JSON.parse(rerankBody().toString()), { headers: { authorization: `Bearer ${key.key}` } });
    expect(live.status).toBe(200);
    await stopConfigListener();
    await getDb().apiKey.update({ where: { id: key.apiKey.id }, data: { revokedAt: new Date() } });
    // Older than CONFIG_WATCH_INTERVAL_MS (100 ms in tests): the check before the body serves the cached
    // verdict and starts its re-read, which stores the revoked one before the body ends.
    await new Promise((r) => setTimeout(r, 200));
    const answer = await postInHalves("/api/v1/rerank", rerankBody(), { authorization: `Bearer ${key.key}`, "content-type": "application/json" }, async () => {});
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(INVALID_TOKEN);
  });
});
