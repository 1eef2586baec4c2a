import { execFile } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { creditReasons } from "../domain/interleaving/credit";
import { teamDraftInterleave } from "../domain/interleaving/teamDraft";
import { formatProgress, formatSummary } from "./report";
import { checkServer, checkTrafficOptions, consoleUrl, ServerUnreachableError, simulateTraffic, TrafficRefusedError, type TrafficOptions } from "./traffic";

// simulateTraffic against a stand-in of the server's public API (same request and event checks as
// server/rerank and server/events, in miniature): an A/B or interleaving experiment on "search".

interface Served {
  positions: Map<string, number>;
}

function fakeServer(mode: "ab" | "interleaving" | "none") {
  const served = new Map<string, Served>();
  const seenEvents = new Set<string>();
  const log = { rerank: 0, events: 0, rejected: [] as string[] };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && req.url === "/api/health") return json(res, 200, { status: "ok" });
    if (req.method === "POST" && req.url === "/api/v1/rerank") {
      log.rerank++;
      const body = await read(req);
      if (body.surface !== "search") return json(res, 404, { error: { code: "NOT_FOUND", message: `surface "${body.surface}" not found` } });
      const ids: string[] = body.candidates.map((c: { id: string }) => c.id);
      if (new Set(ids).size !== ids.length || typeof body.userKey !== "string" || typeof body.context?.query !== "string") {
        return json(res, 400, { error: { code: "BAD_REQUEST", message: "bad request" } });
      }
      const arm = Number.parseInt(body.userKey.slice(-1), 10) % 2 === 0 ? "a" : "b";
      let items: Array<{ id: string; score: number; position: number; reasons: string[] }>;
      let variant = null;
      if (mode === "interleaving") {
        const merged = teamDraftInterleave(ids, [...ids].reverse(), body.topK, body.requestId);
        const credits = creditReasons(merged, ["v1", "v2"]);
        items = merged.ids.map((id, i) => ({ id, score: 1 - i / 100, position: i + 1, reasons: credits[i]! }));
        variant = { experiment: "exp", key: "interleaved", phase: 1 };
      } else {
        const order = mode === "ab" && arm === "b" ? [...ids].reverse() : ids;
        items = order.slice(0, body.topK).map((id, i) => ({ id, score: 1 - i / 100, position: i + 1, reasons: [] }));
        if (mode === "ab") variant = { experiment: "exp", key: arm, phase: 1 };
      }
      served.set(body.requestId, { positions: new Map(items.map((i) => [i.id, i.position])) });
      return json(res, 200, { requestId: body.requestId, surface: "search", items, variant, fallback: { used: false, reason: null, servedBy: "model" } });
    }
    if (req.method === "POST" && req.url === "/api/v1/events") {
      log.events++;
      const { events } = await read(req);
      const result = { accepted: 0, duplicates: 0, rejected: [] as Array<{ index: number; message: string }> };
      events.forEach((e: { eventId: string; requestId: string; type: string; itemId: string; position?: number; revenue?: number }, index: number) => {
        const request = served.get(e.requestId);
        const position = request?.positions.get(e.itemId);
        const problem = !request ? "unknown request" : position === undefined ? "item not served" : e.position !== undefined && e.position !== position ? "wrong position"
          : (e.type === "purchase") !== (e.revenue !== undefined) ? "revenue" : null;
        if (problem) {
          result.rejected.push({ index, message: problem });
          log.rejected.push(problem);
        } else if (seenEvents.has(e.eventId)) result.duplicates++;
        else {
          seenEvents.add(e.eventId);
          result.accepted++;
        }
      });
      return json(res, 200, result);
    }
    json(res, 404, { error: { code: "NOT_FOUND", message: "no route" } });
  };
  const server = createServer((req, res) => void handler(req, res).catch((e) => json(res, 500, { error: { code: "X", message: String(e) } })));
  return { server, log };
}

const servers: Server[] = [];
async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
/** A port nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

// Client and stand-in share one thread here: a modest rate, and counts bounded by maxRequests
// rather than by the clock, so a busy machine does not change them.
const base = (url: string): TrafficOptions => ({ url, surface: "search", rate: 100, durationSeconds: 30, maxRequests: 100, seed: 3, users: 300, concurrency: 4 });

describe("simulateTraffic", () => {
  it("sends paced rerank requests and valid outcome events, and tallies A/B variants", async () => {
    const { server, log } = fakeServer("ab");
    const url = await listen(server);
    const progress: number[] = [];
    const started = performance.now();
    const summary = await simulateTraffic(base(url), { onProgress: (s) => progress.push(s.requests) });
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeGreaterThan(0.9); // paced: 100 requests at 100/s
    expect(seconds).toBeLessThan(10);
    expect(summary.plannedRequests).toBe(100);
    expect(summary.requests).toBe(100);
    expect(summary.responses).toBe(100);
    expect(summary.stoppedBecause).toBeNull();
    expect(summary.errors).toBe(0);
    expect(log.rejected).toEqual([]);
    expect(summary.events.sent).toBeGreaterThan(100 * 10);
    expect(summary.events.accepted).toBe(summary.events.sent);
    expect(Object.keys(summary.variants).sort()).toEqual(["exp/a", "exp/b"]);
    const a = summary.variants["exp/a"]!;
    expect(a.impressions).toBe(a.requests * 10);
    expect(a.clicks).toBeGreaterThan(0);
    expect(summary.variants["exp/a"]!.requests + summary.variants["exp/b"]!.requests).toBe(100);
    expect(progress.at(-1)).toBe(100);
    const text = formatSummary(summary);
    expect(text).toMatch(/sent 100 rerank requests/);
    expect(text).toMatch(/exp\/a\s+\d+\s+\d+\s+\d+\s+\d+\.\d\d%/);
  });

  it("credits interleaved items to their variant and counts wins", async () => {
    const { server } = fakeServer("interleaving");
    const url = await listen(server);
    const summary = await simulateTraffic({ ...base(url), rate: 150, maxRequests: 150 });
    expect(Object.keys(summary.variants).sort()).toEqual(["exp/v1 (interleaved)", "exp/v2 (interleaved)"]);
    const v1 = summary.variants["exp/v1 (interleaved)"]!;
    const v2 = summary.variants["exp/v2 (interleaved)"]!;
    expect(v1.impressions + v2.impressions).toBe(summary.responses * 10);
    const [il] = summary.interleaving;
    expect(il!.experiment).toBe("exp");
    expect(Object.keys(il!.wins).sort()).toEqual(["v1", "v2"]);
    expect(il!.wins.v1! + il!.wins.v2! + il!.ties + il!.noClicks).toBe(summary.responses);
    expect(formatSummary(summary)).toMatch(/interleaving exp: wins v1 \d+, v2 \d+/);
  });

  it("is reproducible for a seed (same searches and clicks)", async () => {
    const { server } = fakeServer("none");
    const url = await listen(server);
    const one = await simulateTraffic({ ...base(url), maxRequests: 60, concurrency: 3 });
    const two = await simulateTraffic({ ...base(url), maxRequests: 60, concurrency: 3 });
    expect(one.requests).toBe(60);
    expect(two.variants).toEqual(one.variants);
    expect(formatSummary(one)).toMatch(/no experiment answered/);
  });

  it("stops on abort", async () => {
    const { server } = fakeServer("none");
    const url = await listen(server);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const summary = await simulateTraffic({ ...base(url), rate: 50, durationSeconds: 30, signal: controller.signal });
    expect(summary.requests).toBeLessThan(30);
    expect(summary.stoppedBecause).toBe("interrupted");
  });

  it("fails clearly when the server is unreachable or refuses the surface", async () => {
    const down = await closedPort();
    await expect(checkServer(down)).rejects.toThrow(ServerUnreachableError);
    await expect(checkServer(down)).rejects.toThrow(/cannot reach the server at .*ECONNREFUSED/);
    await expect(simulateTraffic({ ...base(down), rate: 1000, maxRequests: undefined, durationSeconds: 5 })).rejects.toThrow(/20 requests in a row failed/);
    const { server } = fakeServer("ab");
    const url = await listen(server);
    await expect(simulateTraffic({ ...base(url), surface: "nope" })).rejects.toThrow(TrafficRefusedError);
    await expect(simulateTraffic({ ...base(url), surface: "nope" })).rejects.toThrow(/surface "nope" not found/);
  });

  it("refuses remote hosts and out-of-range flags", () => {
    expect(() => checkTrafficOptions(base("http://example.com"))).toThrow(/localhost only/);
    expect(() => checkTrafficOptions({ ...base("http://localhost:3000"), rate: 5000 })).toThrow(/--rate/);
    expect(() => checkTrafficOptions({ ...base("http://127.0.0.1:3000"), durationSeconds: 0 })).toThrow(/--duration/);
    expect(() => checkTrafficOptions({ ...base("http://[::1]:3000"), concurrency: 0 })).toThrow(/--concurrency/);
    expect(() => checkTrafficOptions({ ...base("http://127.0.0.1:3000"), users: 1.5 })).toThrow(/--users/);
    expect(() => checkTrafficOptions(base("http://127.0.0.1:3000"))).not.toThrow();
  });

  it("draws a progress line with requests, events and errors", () => {
    const line = formatProgress({ requests: 50, responses: 50, fallbacks: 0, events: { sent: 700, accepted: 700, duplicates: 0, rejected: 0 }, errors: 2, plannedRequests: 200, elapsedMs: 2500 });
    expect(line).toContain(" 25% ");
    expect(formatProgress({ requests: 50, responses: 50, fallbacks: 0, events: { sent: 700, accepted: 700, duplicates: 0, rejected: 0 }, errors: 2, plannedRequests: 200, elapsedMs: 2500 }, 80).length).toBeLessThan(80);
    expect(line).toContain("50/200 requests");
    expect(line).toContain("700 events");
    expect(line).toContain("2 errors");
    expect(line).toContain("20.0/s");
  });
});

describe("npm run simulate", () => {
  it("exits 1 with one line when the server is unreachable", async () => {
    const down = await closedPort();
    const root = path.resolve(import.meta.dirname, "../..");
    const error = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/simulate/run.ts", "--url", down, "--duration", "1"], { cwd: root }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).toBe(1);
    expect(error?.stderr.trim().split("\n")).toHaveLength(1);
    expect(error?.stderr).toMatch(/^simulate: cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  }, 20_000);
});

describe("a target made of the console's HOST and PORT (no --url)", () => {
  it("names HOST, never --url, when HOST is what is wrong (a bad HOST was blamed on a flag nobody passed)", () => {
    const fromConsole = { HOST: "10.1.2.3", PORT: 3456 };
    expect(() => checkTrafficOptions(base(consoleUrl(fromConsole)), fromConsole)).toThrow(
      "HOST=10.1.2.3: the simulator generates load against localhost only, and HOST (the console's address, its target without --url) is not a loopback address: pass --url http://127.0.0.1:3456 when the console listens there too (HOST=0.0.0.0 or ::)",
    );
    // A flag the user passed is still named as the flag.
    expect(() => checkTrafficOptions(base("http://10.1.2.3:3456"))).toThrow(/^--url: the simulator generates load against localhost only, not 10\.1\.2\.3$/);
    // A wildcard or loopback HOST is fine.
    for (const HOST of ["0.0.0.0", "::", "127.0.0.1", "::1"]) expect(() => checkTrafficOptions(base(consoleUrl({ HOST })), { HOST })).not.toThrow();
  });
  it("says a link-local IPv6 HOST needs a zone id, naming HOST", () => {
    const fromConsole = { HOST: "fe80::1" };
    expect(() => checkTrafficOptions(base(consoleUrl(fromConsole)), fromConsole)).toThrow(/^HOST=fe80::1: .*a link-local IPv6 address, fe80::\/10, needs a zone id such as fe80::1%eth0.*pass --url http:\/\/127\.0\.0\.1:3000/);
  });
});

describe("consoleUrl", () => {
  it("targets the console's HOST and PORT as npm start reads them (PORT was ignored: always port 3000)", () => {
    expect(consoleUrl({ HOST: "127.0.0.1", PORT: 3300 })).toBe("http://127.0.0.1:3300");
    expect(consoleUrl({ HOST: "127.0.0.1" })).toBe("http://127.0.0.1:3000");
    expect(consoleUrl({ HOST: "0.0.0.0", PORT: 8080 })).toBe("http://localhost:8080");
    expect(consoleUrl({ HOST: "::", PORT: 3300 })).toBe("http://[::1]:3300");
    expect(() => checkTrafficOptions(base(consoleUrl({ HOST: "::1", PORT: 3300 })))).not.toThrow();
  });
});
