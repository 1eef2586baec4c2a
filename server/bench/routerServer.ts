import http from "node:http";
import Fastify from "fastify";
import { outcomeBatchSchema } from "../events/schema";
import { recordOutcomes } from "../events/service";
import { rerank } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { warmServing } from "../rerank/warm";

// The two serving routes (POST /api/v1/rerank, POST /api/v1/events) behind plain node:http or
// fastify, nothing else in the process: `npm run bench:router` compares the two (issue 12 asked to
// choose the front door's router with figures). Same zod validation and services in both.

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
await warmServing(() => {});

const routes: Record<string, (body: unknown) => Promise<unknown>> = {
  "/api/v1/rerank": async (body) => rerank(rerankRequestSchema.parse(body)),
  "/api/v1/events": async (body) => recordOutcomes(outcomeBatchSchema.parse(body)),
};

if (kind === "fastify") {
  const app = Fastify({ bodyLimit: 1_048_576 });
  for (const [path, handler] of Object.entries(routes)) app.post(path, (req) => handler(req.body));
  await app.listen({ port, host: "127.0.0.1" });
} else {
  http
    .createServer((req, res) => {
      const handler = routes[req.url ?? ""];
      if (!handler || req.method !== "POST") return void res.writeHead(404).end();
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        handler(JSON.parse(Buffer.concat(chunks).toString("utf8"))).then(
          (result) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result)),
          () => res.writeHead(400).end(),
        );
      });
    })
    .listen(port, "127.0.0.1");
}
console.log(`${kind} on ${port}`);
