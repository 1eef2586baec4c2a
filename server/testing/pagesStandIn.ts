import { execSync } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import { threadId } from "node:worker_threads";
import { pagesBridge } from "../http/pagesBridge";

// A stand-in for Next.js on the pages thread (server/http/pagesThread.int.test.ts): answers a few
// paths that exercise the thread's plumbing (streaming, headers both ways, bodies, tRPC over the
// bridge, a client gone, the thread dying).

let closedEarly = 0;
/** Requests of /answer-early whose connection is still open. */
let openEarly = 0;

export default function standIn() {
  return async (req: IncomingMessage, res: ServerResponse) => {
    // Under /_next/ (any path works; the front door sends an anonymous visitor of a console page to sign in first).
    const url = new URL((req.url ?? "/").replace(/^\/_next\/stand-in/, ""), "http://pages");
    if (url.pathname === "/stream") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first;");
      await new Promise((r) => setTimeout(r, 100));
      return res.end("second");
    }
    if (url.pathname === "/cookies") {
      res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"]);
      return res.writeHead(204).end();
    }
    if (url.pathname === "/echo") {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString("utf8"), forwardedFor: req.headers["x-forwarded-for"], host: req.headers.host, connection: req.headers.connection ?? null, threadId }));
    }
    if (url.pathname === "/call") {
      // A procedure run by the serving thread as this request's caller.
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
      try {
        const output = await pagesBridge()!.call(url.searchParams.get("path")!, JSON.parse(url.searchParams.get("input") ?? "null") ?? undefined, headers);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ output, isDate: output instanceof Date || (typeof output === "object" && output !== null && Object.values(output).some((v) => v instanceof Date)) }));
      } catch (error) {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { name: (error as Error).name, code: (error as { code?: string }).code, message: (error as Error).message } }));
      }
    }
    if (url.pathname === "/hang") {
      res.once("close", () => closedEarly++);
      return res.writeHead(200, { "content-type": "text/plain" }).write("started;");
    }
    if (url.pathname === "/answer-early") {
      // Answers without reading the body (as a page does).
      openEarly++;
      req.socket.once("close", () => openEarly--);
      return res.writeHead(200, { "content-type": "text/plain" }).end("answered");
    }
    if (url.pathname === "/open-early") return res.writeHead(200, { "content-type": "text/plain" }).end(String(openEarly));
    if (url.pathname === "/closed-early") return res.writeHead(200, { "content-type": "text/plain" }).end(String(closedEarly));
    if (url.pathname === "/die-mid-answer") {
      res.writeHead(200, { "content-type": "text/plain" }).write("half an answer;");
      setTimeout(() => process.exit(4), 50);
      return;
    }
    if (url.pathname === "/spin") {
      // A page that blocks the thread's event loop for good (the heartbeat's case).
      res.writeHead(200).end("spinning");
      setTimeout(() => {
        for (;;);
      }, 20);
      return;
    }
    if (url.pathname === "/native-block") {
      // Blocks the thread outside JavaScript (a synchronous child process), where terminate() cannot reach it.
      res.writeHead(200).end("blocking");
      setTimeout(() => execSync(`sleep ${Number(url.searchParams.get("s") ?? 8)}`), 20);
      return;
    }
    if (url.pathname === "/exit") {
      res.writeHead(200).end("bye");
      setTimeout(() => process.exit(3), 20);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("no such stand-in page");
  };
}
