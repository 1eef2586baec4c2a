import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { parentPort, workerData } from "node:worker_threads";
import { installPagesBridge, type BridgeAnswer } from "./pagesBridge";
import type { PagesHeartbeat, PagesThreadData } from "./pagesThread";
import { ignoreClosedOutput } from "./terminal";

// The pages thread (server/http/pagesThread.ts): Next.js (or a tests' stand-in) answering the
// requests the front door hands it over a Unix socket, its tRPC calls run by the serving thread.

// This thread's output goes through the serving thread's (which ignores a closed one too); its own streams likewise.
ignoreClosedOutput();
const data = workerData as PagesThreadData;
const port = parentPort!;
const answer = installPagesBridge((call) => port.postMessage(call));
port.on("message", (message: BridgeAnswer | PagesHeartbeat) => {
  if (message?.type === "rerank:pages-answer") answer(message);
  // Answered from this thread's event loop: a loop blocked by a page leaves it unanswered (pagesThread.ts).
  else if (message?.type === "rerank:pages-ping") port.postMessage({ type: "rerank:pages-pong", n: message.n } satisfies PagesHeartbeat);
});

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<unknown> | unknown;

async function pagesHandler(): Promise<Handler> {
  if (data.standIn) return ((await import(data.standIn)) as { default: () => Promise<Handler> | Handler }).default();
  const { default: next } = await import("next");
  const app = next({ dev: false, hostname: data.next.hostname, port: data.next.port, dir: data.next.dir });
  await app.prepare();
  return app.getRequestHandler();
}

const handler = await pagesHandler();
// Idle connections from the serving thread's agent stay open longer than it keeps them (pagesThread.ts).
// Headers up to 64 KiB: the front door refuses over 16 KiB and adds its own (X-Forwarded-For) to what it forwards.
const server = http.createServer({ keepAliveTimeout: 10 * 60_000, maxHeaderSize: 64 * 1024 }, (req, res) => {
  Promise.resolve(handler(req, res)).catch((error: unknown) => {
    console.error("[pages] a page request failed:", error);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("The page could not be rendered (logged on the server).");
    else res.destroy();
  });
});
server.headersTimeout = 0;
server.requestTimeout = 0;
server.listen(data.socketPath, () => port.postMessage({ type: "rerank:pages-ready" }));
