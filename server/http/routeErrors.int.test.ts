import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as artifactRoute from "@/app/api/v1/models/[name]/versions/[version]/artifact/route";
import * as auditCsvRoute from "@/app/api/v1/audit.csv/route";
import * as authRoute from "@/app/api/auth/[...all]/route";
import { createApiKey } from "../auth/apiKeys";
import { databaseUrl, disconnectDb, getDb } from "../db/client";
import { setEnv } from "../config";
import { startTestFrontDoor, type TestFrontDoor } from "../testing/frontDoor";
import { TcpProxy } from "../testing/tcpProxy";

// The routes Next.js serves (app/api/**/route.ts, better-auth's /api/auth/*) and the probes the
// front door answers (/api/health, /api/metrics) with the database unreachable: each answers the house's JSON error (503, UNAVAILABLE, what failed in plain words),
// as the front door's own endpoints and tRPC do. Before, better-auth's endpoints and the artifact
// download answered an empty 500, and /api/health quoted the driver's text to anyone.

const BASE = "http://127.0.0.1:3000";
let proxy: TcpProxy;
let door: TestFrontDoor;
let adminKey: string;
const testUrl = databaseUrl();

const unavailable = (what: string) => ({ code: "UNAVAILABLE", message: `${what} failed: the database is unavailable, try again shortly` });

beforeAll(async () => {
  const db = getDb();
  const owner = await db.user.upsert({ where: { email: "route-errors@rerank.test" }, create: { email: "route-errors@rerank.test", name: "Route errors", roles: ["admin"] }, update: {} });
  adminKey = (await createApiKey(db, { name: `route-errors-${Date.now()}`, kind: "automation", roles: ["admin"] }, owner.id)).key;
  proxy = TcpProxy.forDatabase(testUrl);
  await proxy.open();
  door = await startTestFrontDoor({ ALLOWED_HOSTS: "*" });
  await disconnectDb();
  setEnv("DATABASE_URL", proxy.urlFor(testUrl));
});
afterAll(async () => {
  await disconnectDb();
  setEnv("DATABASE_URL", testUrl);
  setEnv("METRICS_AUTH", undefined);
  await proxy?.close();
  await door?.close();
});

const withKey = (path: string) => new Request(`${BASE}${path}`, { headers: { authorization: `Bearer ${adminKey}` } });
const signIn = () =>
  authRoute.POST(new Request(`${BASE}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: BASE, "x-forwarded-for": "127.0.0.1" },
    body: JSON.stringify({ email: "nobody@rerank.test", password: "not the password 1" }),
  }));
const artifact = () => artifactRoute.GET(withKey("/api/v1/models/search-ranker/versions/1/artifact"), { params: Promise.resolve({ name: "search-ranker", version: "1" }) });

describe("Next.js routes with the database reachable", () => {
  it("answer as before: the library's own 401 for a wrong password, the artifact's bytes", async () => {
    const refused = await signIn();
    expect(refused.status).toBe(401);
    expect((await refused.json()).code).toBe("INVALID_EMAIL_OR_PASSWORD");
    const download = await artifact();
    expect(download.status).toBe(200);
    expect(download.headers.get("content-type")).toBe("application/octet-stream");
  });
});

describe("Next.js routes refusing a caller", () => {
  it("answer 401 with the challenge every 401 carries (RFC 6750 §3): the artifact download, the audit CSV (a procedure's UNAUTHORIZED)", async () => {
    const realm = 'Bearer realm="rerank-console"';
    const params = { params: Promise.resolve({ name: "search-ranker", version: "1" }) };
    const artifactAs = (headers: Record<string, string>) => artifactRoute.GET(new Request(`${BASE}/api/v1/models/search-ranker/versions/1/artifact`, { headers }), params);
    const csvAs = (headers: Record<string, string>) => auditCsvRoute.GET(new Request(`${BASE}/api/v1/audit.csv`, { headers }));
    for (const [headers, challenge] of [[{}, realm], [{ authorization: "Bearer rrk_not-a-key" }, `${realm}, error="invalid_token"`], [{ authorization: "Basic eDp5" }, realm]] as const) {
      for (const answer of [await artifactAs(headers), await csvAs(headers)]) {
        expect([answer.status, answer.headers.get("www-authenticate")]).toEqual([401, challenge]);
        expect((await answer.json()).error.code).toBe("UNAUTHORIZED");
      }
    }
  });
});

describe("Next.js routes with the database unreachable", () => {
  beforeAll(async () => {
    await proxy.close();
  });
  afterAll(async () => {
    await proxy.open();
  });

  it("better-auth's endpoints answer 503 in plain words, where the library's client reads them (was an empty 500)", async () => {
    const signingIn = await signIn();
    expect(signingIn.status).toBe(503);
    const body = await signingIn.json();
    expect(body).toMatchObject({ ...unavailable("signing in"), error: unavailable("signing in") });
    const session = await authRoute.GET(new Request(`${BASE}/api/auth/get-session`, { headers: { cookie: "better-auth.session_token=abc.def" } }));
    expect(session.status).toBe(503);
    expect(await session.json()).toMatchObject(unavailable("reading the session"));
  });

  it("the artifact download, the audit CSV and the key-checked metrics answer the house's 503 (the artifact was an empty 500)", async () => {
    const download = await artifact();
    expect(download.status).toBe(503);
    expect(await download.json()).toEqual({ error: unavailable("downloading a model artifact") });
    const csv = await auditCsvRoute.GET(withKey("/api/v1/audit.csv"));
    expect(csv.status).toBe(503);
    // The REST code for a 503 is UNAVAILABLE everywhere (it said tRPC's SERVICE_UNAVAILABLE here).
    expect(await csv.json()).toEqual({ error: unavailable("checking the caller") });
    setEnv("METRICS_AUTH", "on");
    const metrics = await fetch(`${door.url}/api/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(metrics.status).toBe(503);
    expect(await metrics.json()).toEqual({ error: unavailable("GET /api/metrics") });
  });

  it("/api/health says why in plain words, not the driver's text", async () => {
    const health = await fetch(`${door.url}/api/health`);
    expect(health.status).toBe(503);
    expect((await health.json()).database).toEqual({ reachable: false, latencyMs: null, error: "reading the migration level failed: the database is unavailable, try again shortly" });
  });
});
