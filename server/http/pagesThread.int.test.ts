import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import net from "node:net";
import { pathToFileURL } from "node:url";
import path from "node:path";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../auth/apiKeys";
import { disconnectDb, getDb } from "../db/client";
import { loadedModels } from "../inference/sessions";
import { RERANK_LIMITS } from "../rerank/schema";
import { warmServing } from "../rerank/warm";
import { maxModelBytes } from "../registry/versions";
import { frontDoorSettings } from "./frontDoor";
import { startPagesThread, sweepStaleSocketFolders, type PagesThread } from "./pagesThread";
import { createFrontDoorServer } from "./server";

// The pages thread (pagesThread.ts) behind the real front door, with a stand-in for Next.js
// (server/testing/pagesStandIn.ts) on a real worker thread: what the console's pages get through it.

const STAND_IN = pathToFileURL(path.join(process.cwd(), "server", "testing", "pagesStandIn.ts")).href;
let pages: PagesThread;
let server: http.Server;
let url: string;
let adminKey: string;
const log: string[] = [];

beforeAll(async () => {
  const db = getDb();
  const owner = await db.user.upsert({ where: { email: "pages-thread@rerank.test" }, create: { email: "pages-thread@rerank.test", name: "Pages thread", roles: ["admin"] }, update: {} });
  adminKey = (await createApiKey(db, { name: `pages-thread-${Date.now()}`, kind: "automation", roles: ["admin"] }, owner.id)).key;
  await warmServing();
  const port = await getPort({ host: "127.0.0.1" });
  pages = await startPagesThread({ next: { hostname: "127.0.0.1", port, dir: process.cwd() }, standIn: STAND_IN, log: (line) => log.push(line), restartDelayMs: 200, hangTimeoutMs: 3_000, abandonAfterMs: 1_000 });
  const settings = frontDoorSettings({}, { host: "127.0.0.1", port, dev: false, jsonBodyLimit: RERANK_LIMITS.maxPayloadBytes, uploadBodyLimit: maxModelBytes() + 1_048_576 });
  server = createFrontDoorServer(settings, pages.handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${port}`;
}, 60_000);
afterAll(async () => {
  if (server) await new Promise((resolve) => server.close(resolve));
  await pages?.close();
  await disconnectDb();
});

describe("the pages thread", () => {
  it("runs on another thread and streams its answers through the front door, with the front door's headers", async () => {
    const echo = await fetch(`${url}/_next/stand-in/echo`, { method: "POST", body: "a page's form", headers: { "x-forwarded-for": "203.0.113.9" } });
    const body = await echo.json();
    expect(body).toMatchObject({ method: "POST", body: "a page's form", host: url.slice("http://".length) });
    expect(body.threadId).toBe(pages.threadId());
    expect(body.threadId).not.toBe(0);
    // The client address is the front door's reading of the socket, not what the caller claimed.
    expect(body.forwardedFor).toBe("127.0.0.1");
    expect(echo.headers.get("x-content-type-options")).toBe("nosniff");
    const stream = await fetch(`${url}/_next/stand-in/stream`);
    expect(await stream.text()).toBe("first;second");
    const cookies = await fetch(`${url}/_next/stand-in/cookies`);
    expect(cookies.status).toBe(204);
    expect(cookies.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
  });

  it("has its tRPC calls run by the serving thread, as the request's caller, with dates and errors intact", async () => {
    const call = async (procedure: string, input?: unknown, headers: Record<string, string> = { authorization: `Bearer ${adminKey}` }) =>
      (await fetch(`${url}/_next/stand-in/call?path=${procedure}${input === undefined ? "" : `&input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })).json();
    expect((await call("auth.me")).output).toMatchObject({ kind: "api_key", roles: ["admin"] });
    expect((await call("auth.me", undefined, {})).output).toBeNull();
    // The serving thread's open models (the pages thread opened none), their load times still Dates.
    const health = await call("system.health");
    expect(loadedModels().length).toBeGreaterThan(0);
    expect(health.output.models).toEqual(JSON.parse(JSON.stringify(loadedModels())));
    expect((await call("models.get", { name: "no-such-model" })).error).toMatchObject({ name: "TRPCError", code: "NOT_FOUND" });
    expect((await call("models.list", undefined, {})).error).toMatchObject({ name: "TRPCError", code: "UNAUTHORIZED" });
  });

  it("ends its connection to the pages thread when a page answers before a short body is all sent (break test: a descriptor held for good per request)", async () => {
    const port = Number(new URL(url).port);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write(`POST /_next/stand-in/answer-early HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nx`));
        socket.once("data", () => {
          socket.destroy();
          resolve();
        });
        socket.once("error", reject);
      });
    }
    await expect.poll(async () => Number(await (await fetch(`${url}/_next/stand-in/open-early`)).text()), { timeout: 5_000 }).toBe(0);
  });

  it("carries any key both ways, \"constructor\" too (superjson refused it: a model whose metrics named one answered 500)", async () => {
    const answer = await (await fetch(`${url}/_next/stand-in/call?path=audit.export&input=${encodeURIComponent(JSON.stringify({ constructor: "x" }))}`, { headers: { authorization: `Bearer ${adminKey}` } })).json();
    expect(answer.error).toMatchObject({ code: "BAD_REQUEST" });
    expect(answer.error.message).toMatch(/constructor/);
  });

  it("stops a page's work when its client goes away", async () => {
    const before = Number(await (await fetch(`${url}/_next/stand-in/closed-early`)).text());
    const aborted = new AbortController();
    const hanging = await fetch(`${url}/_next/stand-in/hang`, { signal: aborted.signal });
    expect(hanging.status).toBe(200);
    aborted.abort();
    await expect.poll(async () => Number(await (await fetch(`${url}/_next/stand-in/closed-early`)).text()), { timeout: 5_000 }).toBe(before + 1);
  });

  it("is started again when it dies: pages answer 503 meanwhile, the front door's own endpoints never stop", async () => {
    const first = pages.threadId();
    expect((await fetch(`${url}/_next/stand-in/exit`)).status).toBe(200);
    await expect.poll(() => pages.threadId(), { timeout: 5_000 }).toBeNull();
    const meanwhile = await fetch(`${url}/_next/stand-in/stream`);
    expect(meanwhile.status).toBe(503);
    expect(meanwhile.headers.get("retry-after")).toBe("2");
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    const metrics = await fetch(`${url}/api/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toMatch(/^rerank_pages_thread_up 0$/m);
    const posted = await fetch(`${url}/api/health`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(posted.status).toBe(405);
    expect(posted.headers.get("allow")).toBe("GET, HEAD");
    await expect.poll(() => pages.threadId(), { timeout: 10_000 }).not.toBeNull();
    expect(pages.threadId()).not.toBe(first);
    expect(await (await fetch(`${url}/_next/stand-in/stream`)).text()).toBe("first;second");
    expect(log.join("\n")).toMatch(/the pages thread stopped \(exit code 3\)/);
    const text = await (await fetch(`${url}/api/metrics`)).text();
    expect(text).toMatch(/^rerank_pages_thread_up 1$/m);
    expect(text).toMatch(/^rerank_pages_thread_restarts_total [1-9]/m);
  });

  it("dying mid-answer ends that client's connection, and nothing else", async () => {
    await expect.poll(() => pages.threadId(), { timeout: 10_000 }).not.toBeNull();
    const dying = pages.threadId();
    const answer = await fetch(`${url}/_next/stand-in/die-mid-answer`);
    expect(answer.status).toBe(200);
    await expect(answer.text()).rejects.toThrow();
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    // Its successor, not the dying thread before its exit is heard.
    await expect.poll(() => { const id = pages.threadId(); return id !== null && id !== dying; }, { timeout: 10_000 }).toBe(true);
    expect(await (await fetch(`${url}/_next/stand-in/stream`)).text()).toBe("first;second");
    expect(log.join("\n")).toMatch(/the pages thread stopped \(exit code 4\)/);
  });

  it("is stopped and started again when its event loop is blocked (no heartbeat answered), serving going on", async () => {
    await expect.poll(() => pages.threadId(), { timeout: 10_000 }).not.toBeNull();
    const spinning = pages.threadId();
    expect(await (await fetch(`${url}/_next/stand-in/spin`)).text()).toBe("spinning");
    await new Promise((resolve) => setTimeout(resolve, 200)); // it blocks 20 ms after answering
    // Blocked: its pages get no answer, the front door's own endpoints do.
    await expect(fetch(`${url}/_next/stand-in/stream`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow();
    expect((await fetch(`${url}/api/health`)).status).toBe(200);
    await expect.poll(() => { const id = pages.threadId(); return id !== null && id !== spinning; }, { timeout: 15_000 }).toBe(true);
    expect(await (await fetch(`${url}/_next/stand-in/stream`)).text()).toBe("first;second");
    expect(log.join("\n")).toMatch(/the pages thread answered no heartbeat for [3-9] s \(its event loop is blocked\); it is stopped and started again/);
    expect(await (await fetch(`${url}/api/metrics`)).text()).toMatch(/^rerank_pages_thread_hangs_total [1-9]/m);
  });
});

describe("the pages thread's heartbeat", () => {
  const hangs = async () => Number(/^rerank_pages_thread_hangs_total (\d+)/m.exec(await (await fetch(`${url}/api/metrics`)).text())?.[1] ?? 0);

  it("abandons a thread blocked outside JavaScript (terminate() cannot reach it) and starts another; pages answer 503 meanwhile, not hang (break test: pages hung for good, up stayed 1)", async () => {
    await expect.poll(() => pages.threadId(), { timeout: 15_000 }).not.toBeNull();
    const blocked = pages.threadId();
    const before = await hangs();
    expect(await (await fetch(`${url}/_next/stand-in/native-block?s=12`)).text()).toBe("blocking");
    // Declared hung after 3 s: from then on pages answer 503 at once, and the metric says down.
    await expect.poll(async () => (await fetch(`${url}/_next/stand-in/stream`, { signal: AbortSignal.timeout(500) }).catch(() => null))?.status, { timeout: 8_000, interval: 600 }).toBe(503);
    expect(await (await fetch(`${url}/api/metrics`)).text()).toMatch(/^rerank_pages_thread_up 0$/m);
    // Abandoned 1 s after terminate() (the thread is still in its 12 s sleep), and a new one serves.
    await expect.poll(() => { const id = pages.threadId(); return id !== null && id !== blocked; }, { timeout: 10_000 }).toBe(true);
    expect(await (await fetch(`${url}/_next/stand-in/stream`)).text()).toBe("first;second");
    expect(await hangs()).toBe(before + 1);
    expect(log.join("\n")).toMatch(/the pages thread did not stop within 1 s of being terminated \(blocked outside JavaScript\) and is abandoned/);
  });

  it("does not take a healthy pages thread down when the serving thread itself was held up past the hang timeout (break test)", async () => {
    await expect.poll(() => pages.threadId(), { timeout: 15_000 }).not.toBeNull();
    const healthy = pages.threadId();
    const before = await hangs();
    const until = Date.now() + 4_500;
    while (Date.now() < until); // this thread, which runs the heartbeat, busy for longer than the 3 s timeout
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(pages.threadId()).toBe(healthy);
    expect(await hangs()).toBe(before);
    expect(await (await fetch(`${url}/_next/stand-in/stream`)).text()).toBe("first;second");
  });
});

describe("socket folders left by killed processes", () => {
  it("are removed when their process no longer runs, or bear this process's pid without being its own; those of running processes are kept", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "sweep-test-"));
    try {
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
      const names = { dead: `rerank-pages-${dead}-aB3dEf`, mine: `rerank-pages-${process.pid}-gH1jKl`, parent: `rerank-pages-${process.ppid}-mN2pQr` };
      for (const name of [...Object.values(names), "rerank-pages-XYZ123", "other-folder"]) mkdirSync(path.join(tmp, name));
      expect(sweepStaleSocketFolders(tmp).sort()).toEqual([path.join(tmp, names.dead), path.join(tmp, names.mine)].sort());
      for (const kept of [names.parent, "rerank-pages-XYZ123", "other-folder"]) expect(existsSync(path.join(tmp, kept))).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    // The folder of this process's own pages thread survives a sweep of the real temporary folder.
    sweepStaleSocketFolders();
    await expect.poll(() => pages.threadId(), { timeout: 15_000 }).not.toBeNull();
    expect(await (await fetch(`${url}/_next/stand-in/stream`)).text()).toBe("first;second");
  });
});
