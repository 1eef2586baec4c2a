import http from "node:http";
import { authenticate } from "../auth/authenticate";
import { getDb } from "../db/client";

// A second server process for the access-control integration tests: answers every request with
// the principal its headers authenticate as (JSON, or null), so a test can prove that a revoked key
// or a disabled person is refused by another process on the same database on its next request.

const server = http.createServer(async (req, res) => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
  const principal = await authenticate(getDb(), headers).catch((error: Error) => ({ error: error.message }));
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(principal));
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : 0}\n`);
});
