import http, { type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RetryLaterError } from "../errors";
import { firstInvalidUtf8, sendJsonText, utf8Text } from "./body";
import { frontDoorSettings } from "./frontDoor";
import { frontDoorListener } from "./server";

// What goes out on the wire (raw header lines, so a header sent twice shows) from the JSON sender and
// from the front door's last-resort error answer. Real node:http servers on loopback; no database.

let server: http.Server | null = null;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function rawHeaders(listener: RequestListener, path = "/"): Promise<{ status: number; lines: string[] }> {
  server = http.createServer(listener);
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      const lines: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]!.toLowerCase()}: ${res.rawHeaders[i + 1]}`);
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, lines }));
    }).on("error", reject);
  });
}

const named = (lines: string[], name: string) => lines.filter((l) => l.startsWith(`${name}: `));

describe("sendJsonText", () => {
  it("sends each header once: a name given in options replaces the base list's, in any case (break test: both went out)", async () => {
    const { lines } = await rawHeaders((_req, res) => sendJsonText(res, 200, "{}", { headers: { "Content-Type": "application/problem+json", "X-Frame-Options": "SAMEORIGIN", "retry-after": "3" } }));
    expect(named(lines, "content-type")).toEqual(["content-type: application/problem+json"]);
    expect(named(lines, "x-frame-options")).toEqual(["x-frame-options: SAMEORIGIN"]);
    expect(named(lines, "retry-after")).toEqual(["retry-after: 3"]);
    expect(named(lines, "x-content-type-options")).toEqual(["x-content-type-options: nosniff"]);
    expect(named(lines, "content-length")).toEqual(["content-length: 2"]);
  });

  it("keeps a header set on the response before, unless it names it", async () => {
    const { lines } = await rawHeaders((_req, res) => {
      res.setHeader("x-rerank-worker", "2");
      res.setHeader("content-type", "text/plain");
      sendJsonText(res, 200, "{}");
    });
    expect(named(lines, "x-rerank-worker")).toEqual(["x-rerank-worker: 2"]);
    expect(named(lines, "content-type")).toEqual(["content-type: application/json"]);
  });
});

describe("the front door's last-resort error answer", () => {
  it("says when to retry on a 503 that asks for a retry, as the endpoints do (break test: no retry-after)", async () => {
    const settings = frontDoorSettings({}, { host: "127.0.0.1", port: 0, dev: false, jsonBodyLimit: 1000, uploadBodyLimit: 1000 });
    const listener = frontDoorListener({ ...settings, allowedHosts: ["*"] }, () => {
      throw new RetryLaterError("the model registry is busy", 7);
    });
    const { status, lines } = await rawHeaders(listener, "/api/v1/ping");
    expect(status).toBe(503);
    expect(named(lines, "retry-after")).toEqual(["retry-after: 7"]);
    expect(named(lines, "x-frame-options")).toEqual(["x-frame-options: DENY"]);
  });
});

describe("utf8Text", () => {
  it("refuses exactly what a fatal TextDecoder refuses, at the first bad sequence (overlong, surrogate, past U+10FFFF, cut short), and keeps a U+FFFD that was sent", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const pieces = [[0x61], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x99, 0x82], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe9], [0xff], [0xef, 0xbb, 0xbf], [0xef, 0xbf, 0xbd]]; // the last: U+FFFD itself, valid
    for (let run = 0; run < 2_000; run++) {
      const parts = Array.from({ length: 1 + (run % 6) }, (_, i) => pieces[(run * 7 + i * 13 + (run >> 3)) % pieces.length]!);
      const bytes = Buffer.from(parts.flat());
      let expected: number | null = null;
      try {
        fatal.decode(bytes);
      } catch {
        // The first bad sequence: the longest prefix that decodes, as whole pieces.
        let at = 0;
        for (const part of parts) {
          try {
            fatal.decode(Buffer.from(part));
          } catch {
            break;
          }
          at += part.length;
        }
        expected = at;
      }
      if (expected === null) expect(utf8Text(bytes)).toBe(fatal.decode(bytes));
      else expect(() => utf8Text(bytes), bytes.toString("hex")).toThrow(`body: not valid UTF-8 at byte ${expected}`);
      expect(firstInvalidUtf8(bytes)).toBe(expected ?? bytes.length);
    }
  });
});
