import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { InvalidInputError } from "../errors";
import { JSON_SECURITY_HEADERS } from "./frontDoor";

// Request bodies read with a byte limit that holds while they stream in (chunked bodies included):
// reading stops at the first chunk past the limit, nothing after it is buffered, and the connection
// is closed once the 413 is sent so the rest of the body is never read.

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body: the payload exceeds the ${limit}-byte limit`);
  }
}

/** The client closed the connection (or the front door closed it: a body that paused too long) before the body ended: nobody to answer. */
export class BodyAbortedError extends Error {
  constructor() {
    super("body: the connection closed before the body ended");
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
      // A body that came in one chunk (most JSON bodies) is that chunk, not a copy of it.
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onAborted = () => onError(new BodyAbortedError());
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/**
 * Bytes as UTF-8 text, refusing what is not UTF-8 instead of reading it as U+FFFD (Buffer#toString
 * does): two ids differing in an invalid byte would become one id (break test: "L2-\xe9" was
 * answered from "L2-\xe8"'s cache).
 * @throws InvalidInputError(field, "not valid UTF-8 at byte N"), N the 0-based offset of the first bad sequence
 */
export function utf8Text(bytes: Buffer, field = "body"): string {
  // Decoding replaces each ill-formed sequence with U+FFFD, so text without one came from valid
  // UTF-8: one pass over the bytes for every body that has none (all but a few), two for the rest.
  const text = bytes.toString("utf8");
  if (!text.includes("\uFFFD") || isUtf8(bytes)) return text;
  throw new InvalidInputError(field, `not valid UTF-8 at byte ${firstInvalidUtf8(bytes)}`);
}

/**
 * Where the first sequence that is not well-formed UTF-8 starts (RFC 3629 §4: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or the length when there is none. Only read on the refusal path.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    const trailing = lead < 0x80 ? 0 : lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
    if (trailing < 0) return i;
    // The second byte's range is what rules out overlong forms (E0, F0), surrogates (ED) and past U+10FFFF (F4).
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= trailing; k++) {
      const b = bytes[i + k];
      if (b === undefined || b < (k === 1 ? low : 0x80) || b > (k === 1 ? high : 0xbf)) return i;
    }
    i += trailing + 1;
  }
  return bytes.length;
}

/**
 * Bounds the pauses of a request body (slowloris): when `ms` pass with no byte of it arriving,
 * `onIdle` runs (the front door answers 408 and closes). A pause after the body ended — the answer
 * being worked out, an upload converting — is not one. Node's socket inactivity timer, which every
 * byte read resets; after the answer, keep-alive sets its own.
 */
export function boundBodyPauses(req: IncomingMessage, res: ServerResponse, ms: number, onIdle: () => void): void {
  req.setTimeout(ms);
  // The socket's timeout reaches the response too: a listener there keeps Node from destroying the
  // socket when the body is complete, and answers when it is not.
  res.on("timeout", () => {
    if (!req.complete) onIdle();
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

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** The heading of sendErrorPage's page by status: what a person opening a page address can meet before Next.js. */
const ERROR_PAGE_TITLES: Record<number, string> = { 400: "Not a valid address", 421: "Not served at this host name" };

/**
 * A browser's answer to a page address refused before Next.js could serve it (a %-escape that is not
 * UTF-8, "/%": 400; a host name not in ALLOWED_HOSTS: 421): a small HTML page saying why, with a way
 * back, instead of the JSON an API client gets. No script; one inline style, which the pages' CSP
 * (already set on `res`) allows. `message` is escaped.
 * @param status the refusal's status; its heading from ERROR_PAGE_TITLES ("Request refused" otherwise).
 */
export function sendErrorPage(res: ServerResponse, status: number, message: string): void {
  const title = ERROR_PAGE_TITLES[status] ?? "Request refused";
  const text = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Rerank Console</title>
<style>body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:2rem 1rem;color:#212529}main{max-width:40rem;margin:0 auto}h1{font-size:1.5rem}p{line-height:1.5;overflow-wrap:anywhere}a{color:#1c7ed6}</style></head>
<body><main><h1>${title}</h1><p>${message.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!)}</p><p><a href="/">Back to the console</a></p></main></body></html>
`;
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" }).end(res.req.method === "HEAD" ? undefined : text);
}

/** Does an Accept header ask for HTML (a browser navigating)? */
export const acceptsHtml = (accept: string | string[] | undefined): boolean => (Array.isArray(accept) ? accept.join(",") : accept ?? "").toLowerCase().includes("text/html");
