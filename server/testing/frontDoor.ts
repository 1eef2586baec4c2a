import getPort from "get-port";
import { RERANK_LIMITS } from "../rerank/schema";
import { maxModelBytes } from "../registry/versions";
import { frontDoorSettings } from "../http/frontDoor";
import { createFrontDoorServer } from "../http/server";

// The console's front door on a real port for integration tests, without Next.js (paths Next would
// serve answer 404 from a stand-in): tests reach our own endpoints exactly as callers do, over HTTP.

export interface TestFrontDoor {
  url: string;
  post(path: string, body: unknown, options?: { raw?: string; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestFrontDoor(env: Record<string, string | undefined> = {}): Promise<TestFrontDoor> {
  const port = await getPort({ host: "127.0.0.1" });
  const settings = frontDoorSettings(env, { host: "127.0.0.1", port, dev: false, jsonBodyLimit: RERANK_LIMITS.maxPayloadBytes, uploadBodyLimit: maxModelBytes() + 1_048_576 });
  const server = createFrontDoorServer(settings, (_req, res) => {
    res.statusCode = 404;
    res.end("not found (Next.js is not running in this test)");
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    post: (path, body, options = {}) =>
      fetch(`${url}${path}`, { method: "POST", body: options.raw ?? JSON.stringify(body), headers: { "content-type": "application/json", ...options.headers } }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
