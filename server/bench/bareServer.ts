import http from "node:http";
import { rerankJson } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { warmServing } from "../rerank/warm";

// The serving ceiling for the benchmark: the same pipeline behind a bare node:http server, with no
// framework in between (same JSON parsing and validation as the real endpoint). Any GET is the
// ping (GET /api/v1/ping in the app), to compare Next's fixed cost per request.
//
// `--with-next` (after the port): the same server with Next.js on a thread of its process answering
// every GET (the app's own GET /api/v1/ping), as the console runs it (server/http/pagesThread.ts):
// what the console's serving thread carries for Next.js, without the front door.
// `--with-next-in-process`: Next.js prepared in the serving thread's isolate instead (the console
// until 2026-12-01): its modules and heap, its patches of process.nextTick, setImmediate, Date,
// Math.random and crypto, its AsyncLocalStorage hooks on every promise once it has served a request.
// bench:serving compares the rerank's CPU against both (section i). (An argument, not an environment
// variable: server/config.ts is the one reader of the environment.)

const port = Number(process.argv[2] ?? 3199);

let nextHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => unknown) | null = null;
if (process.argv[3] === "--with-next") {
  const { startPagesThread } = await import("../http/pagesThread");
  nextHandler = (await startPagesThread({ next: { hostname: "127.0.0.1", port, dir: process.cwd() }, log: console.log })).handler;
} else if (process.argv[3] === "--with-next-in-process") {
  const { default: next } = await import("next");
  const app = next({ dev: false, hostname: "127.0.0.1", port, dir: process.cwd() });
  await app.prepare();
  nextHandler = app.getRequestHandler();
}
await warmServing(() => {});
// Exit on SIGTERM like the console does (the benchmark stops its servers so; a CPU profile is written on exit).
process.once("SIGTERM", () => process.exit(0));
http
  .createServer((req, res) => {
    if (req.method === "GET" && nextHandler) {
      void nextHandler(req, res);
      return;
    }
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
