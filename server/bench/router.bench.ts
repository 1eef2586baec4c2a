import { env as settings } from "../config";
import { spawn, type ChildProcess } from "node:child_process";
import autocannon from "autocannon";
import getPort from "get-port";
import { disconnectDb } from "../db/client";
import { benchDatabase } from "./benchDatabase";
import { stopServers } from "./children";

// npm run bench:router — plain node:http against fastify for the two serving routes, each in its own
// process with the same pipeline, loaded in alternating rounds (autocannon, 8 connections); medians.

const DURATION_S = settings().BENCH_DURATION_S ?? 4;
const ROUNDS = settings().BENCH_ROUNDS;

async function start(kind: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await getPort();
  const child = spawn(process.execPath, ["--import", "tsx", "server/bench/routerServer.ts", kind, String(port)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => (d.toString().includes(" on ") ? resolve() : undefined));
    child.on("exit", (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

const load = async (url: string, body: string) =>
  (await autocannon({ url, method: "POST", body, headers: { "content-type": "application/json" }, connections: 8, duration: DURATION_S })).requests.average;

async function main() {
  const database = await benchDatabase();
  const children: ChildProcess[] = [];
  try {
    await disconnectDb();
    const rerankBody = JSON.stringify(database.request);
    const env = { DATABASE_URL: database.url, TELEMETRY_DISABLED: "1" };
    const servers = { node: await start("node", env), fastify: await start("fastify", env) };
    children.push(servers.node.child, servers.fastify.child);
    // Ten events on a request each server served (validated against its in-memory recent responses).
    const served = (await (await fetch(`${servers.node.url}/api/v1/rerank`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...JSON.parse(rerankBody), requestId: "bench-served" }) })).json()) as { items: Array<{ id: string; position: number }> };
    await fetch(`${servers.fastify.url}/api/v1/rerank`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...JSON.parse(rerankBody), requestId: "bench-served" }) });
    const eventsBody = JSON.stringify({ events: served.items.slice(0, 10).map((item, i) => ({ eventId: `bench-${i}`, requestId: "bench-served", type: "impression", itemId: item.id, position: item.position })) });
    const results: Record<string, Record<string, number[]>> = { rerank: { node: [], fastify: [] }, events: { node: [], fastify: [] } };
    for (const [route, body] of [["rerank", rerankBody], ["events", eventsBody]] as const) {
      for (const s of Object.values(servers)) await load(`${s.url}/api/v1/${route}`, body); // warm-up
      for (let r = 0; r < ROUNDS; r++) {
        for (const [kind, s] of Object.entries(servers)) results[route]![kind]!.push(await load(`${s.url}/api/v1/${route}`, body));
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`\nRouter benchmark: ${ROUNDS} alternating rounds of ${DURATION_S}s, 8 connections, telemetry off, 2 cores`);
    for (const route of ["rerank", "events"]) {
      const node = med(results[route]!.node!);
      const fastify = med(results[route]!.fastify!);
      console.log(`  POST /api/v1/${route}: node:http ${node.toFixed(0)} req/s, fastify ${fastify.toFixed(0)} req/s (${((100 * fastify) / node).toFixed(0)}% of node:http); rounds ${results[route]!.node!.map((n, i) => `${n.toFixed(0)}/${results[route]!.fastify![i]!.toFixed(0)}`).join(", ")}`);
    }
  } finally {
    await stopServers(children);
    await database.close();
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
