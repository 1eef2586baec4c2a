import http from "node:http";
import { rerankJson } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { warmServing } from "../rerank/warm";

// The serving ceiling for the benchmark: the same pipeline behind a bare node:http server, with no
// framework in between (same JSON parsing and validation as the real endpoint). Any GET is the
// ping (GET /api/v1/ping in the app), to compare Next's fixed cost per request.

const port = Number(process.argv[2] ?? 3199);

await warmServing(() => {});
// Exit on SIGTERM like the console does (the benchmark stops its servers so; a CPU profile is written on exit).
process.once("SIGTERM", () => process.exit(0));
http
  .createServer((req, res) => {
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/plain", "cache-control": "no-store" }).end("ok");
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const parsed = rerankRequestSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      if (!parsed.success) {
        res.writeHead(400).end();
        return;
      }
      rerankJson(parsed.data, "bench").then(
        (json) => res.writeHead(200, { "content-type": "application/json" }).end(json),
        () => res.writeHead(503).end(),
      );
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`bare server on ${port}`));
