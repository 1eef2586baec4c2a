import type { IncomingMessage, ServerResponse } from "node:http";
import { JSON_SECURITY_HEADERS } from "./frontDoor";

// Request bodies read with a byte limit that holds while they stream in (chunked bodies included):
// reading stops at the first chunk past the limit, nothing after it is buffered, and the connection
// is closed once the 413 is sent so the rest of the body is never read.

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body: the payload exceeds the ${limit}-byte limit`);
  }
}

/** The whole body as bytes, or BodyTooLargeError as soon as more than `limit` bytes arrived. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onAborted = () => onError(new Error("body: the client closed the connection before the body ended"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/** Sends a JSON body. `close` ends the connection after it (a body left unread must not be read). */
export function sendJson(res: ServerResponse, status: number, body: unknown, options: { close?: boolean; headers?: Record<string, string> } = {}): void {
  sendJsonText(res, status, JSON.stringify(body), options);
}

/**
 * Sends JSON that is already text (serialised once elsewhere), with the security headers every answer
 * carries (JSON_SECURITY_HEADERS), all written by one `writeHead`. Headers set on `res` before stay
 * unless named here; a name in `options.headers` replaces both those and the base list's (each goes out once).
 */
export function sendJsonText(res: ServerResponse, status: number, text: string, options: { close?: boolean; headers?: Record<string, string> } = {}): void {
  let headers: Array<string | number> = [...JSON_SECURITY_HEADERS, "content-type", "application/json", "content-length", Buffer.byteLength(text)];
  if (options.headers) {
    // A name given here replaces the base list's (writeHead sends a flat list as it is: both would go out).
    const named = new Set(Object.keys(options.headers).map((name) => name.toLowerCase()));
    headers = headers.filter((_, i, all) => !named.has(String(all[i - (i % 2)]).toLowerCase()));
    for (const [name, value] of Object.entries(options.headers)) headers.push(name, value);
  }
  if (options.close) {
    headers.push("connection", "close");
    res.once("finish", () => res.req.socket.destroy());
  }
  res.writeHead(status, headers as string[]).end(text);
}
