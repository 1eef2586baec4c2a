import http from "node:http";
import https from "node:https";
import { guardedLookup, literalHost, refusedAddress } from "./address";

// One HTTP POST of a webhook: node:http(s) rather than fetch, because only it lets us check the
// address connected to (guardedLookup). Redirects are not followed (a 3xx is a failed attempt: a
// redirect could lead past the address check). The response body is read up to 64 KiB and kept
// for the log up to 1,000 characters.

const MAX_BODY_BYTES = 65_536;
export const LOGGED_BODY_CHARS = 1000;

export interface SendResult {
  /** The HTTP status, or null when no response came. */
  status: number | null;
  ok: boolean;
  latencyMs: number;
  /** The first LOGGED_BODY_CHARS characters of the response body. */
  body: string | null;
  /** Why the attempt failed, in words (never the request's URL, headers or body). */
  error: string | null;
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

/** POSTs `body` (JSON) to `url` with `headers`. Never throws: a failure is a result with `error`. */
export async function postWebhook(url: string, body: string, headers: Record<string, string>, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { status: null, ok: false, latencyMs: 0, body: null, error: "the endpoint's URL is not valid" };
  }
  const literal = literalHost(target);
  const refused = literal ? refusedAddress(literal, options.allowPrivate) : null;
  if (refused) return { status: null, ok: false, latencyMs: 0, body: null, error: `not sent: ${literal} is ${refused}` };
  const client = target.protocol === "https:" ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, "latencyMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, latencyMs: elapsed() });
    };
    const request = client.request(
      target,
      {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body), "user-agent": "RerankConsole-Webhooks/1" },
        lookup: guardedLookup(options.allowPrivate) as never,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const status = response.statusCode ?? null;
          const text = Buffer.concat(chunks).toString("utf8").slice(0, LOGGED_BODY_CHARS);
          const ok = status !== null && status >= 200 && status < 300;
          const error = ok ? null : status !== null && status >= 300 && status < 400 ? `answered ${status}: redirects are not followed` : `answered ${status}`;
          finish({ status, ok, body: text || null, error });
        };
        response.on("data", (chunk: Buffer) => {
          if (size < MAX_BODY_BYTES) chunks.push(chunk.subarray(0, MAX_BODY_BYTES - size));
          size += chunk.length;
          if (size >= MAX_BODY_BYTES) {
            done();
            response.destroy();
          }
        });
        response.on("end", done);
        response.on("error", done);
      },
    );
    const timer = setTimeout(() => {
      finish({ status: null, ok: false, body: null, error: `no answer within ${options.timeoutMs} ms` });
      request.destroy();
    }, options.timeoutMs);
    request.on("error", (error: NodeJS.ErrnoException) => {
      finish({ status: null, ok: false, body: null, error: error.code === "EADDRNOTALLOWED" ? `not sent: ${error.message}` : `${error.code ?? error.name}: ${error.message.split("\n")[0]}` });
    });
    request.end(body);
  });
}
