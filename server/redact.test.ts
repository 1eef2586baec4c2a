import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { errorForLog, keyedHash, logKey, maskFields, redactMessage, rowsForLog, INTERNAL_ERROR_LOG_WINDOW_MS, logInternalError } from "./redact";

const SECRET = "s".repeat(32);

describe("keyedHash and logKey", () => {
  it("is HMAC-SHA256 under the secret: stable for one secret, different under another, never the key itself", () => {
    expect(keyedHash("u42", SECRET)).toBe(createHmac("sha256", SECRET).update("u42").digest("hex"));
    expect(keyedHash("u42", SECRET)).toBe(keyedHash("u42", SECRET));
    expect(keyedHash("u42", SECRET)).not.toBe(keyedHash("u43", SECRET));
    expect(keyedHash("u42", SECRET)).not.toBe(keyedHash("u42", "t".repeat(32)));
    expect(logKey("u42", SECRET)).toBe(`#${keyedHash("u42", SECRET).slice(0, 12)}`);
    expect(logKey("qa-\ud800-user", SECRET)).toMatch(/^#[0-9a-f]{12}$/);
  });
});

describe("redactMessage", () => {
  it("replaces what is quoted by its length and keeps the words around it", () => {
    expect(redactMessage('invalid input syntax for type integer: "u42-secret"')).toBe('invalid input syntax for type integer: "[10 chars]"');
    expect(redactMessage("connect ECONNREFUSED 127.0.0.1:5432")).toBe("connect ECONNREFUSED 127.0.0.1:5432");
  });

  it("masks one span from the first quote to the last, since quoted input can hold quotes", () => {
    // What JSON.parse says about a malformed body: it quotes the start of it.
    let parseError = "";
    try {
      JSON.parse('ab"u42"');
    } catch (error) {
      parseError = (error as Error).message;
    }
    expect(parseError).toContain("u42");
    expect(redactMessage(parseError)).not.toContain("u42");
    expect(redactMessage(`Unexpected token 'a', "abc {"userKey":"u4"... is not valid JSON`)).toBe(`Unexpected token '[23 chars]"... is not valid JSON`);
    expect(redactMessage('value "u42 and more')).toBe('value "[12 chars]');
  });

  it("keeps only the first line, at most 300 characters", () => {
    expect(redactMessage("first line\nDETAIL: the row (u42, s9)")).toBe("first line");
    const long = redactMessage("x".repeat(1000));
    expect(long).toHaveLength(301);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("errorForLog", () => {
  const pgError = () =>
    Object.assign(new Error('invalid input syntax for type json\nDETAIL: Token "qa-user" is invalid.'), {
      name: "error",
      code: "22P02",
      detail: 'Token "qa-user" is invalid.',
      where: 'JSON data, line 1: {"userKey":"qa-user"...',
    });

  it("prints name, code and the redacted first line, never the driver's detail or where", () => {
    const line = errorForLog(pgError(), { stack: false });
    expect(line).toBe("error 22P02: invalid input syntax for type json");
    expect(errorForLog(pgError())).not.toMatch(/qa-user|JSON data|DETAIL/);
  });

  it("follows causes, redacted the same way, and keeps stack frames only", () => {
    const error = new Error("rerank_requests: write failed", { cause: new Error('value "u42" refused', { cause: pgError() }) });
    const text = errorForLog(error);
    const [first, ...frames] = text.split("\n");
    expect(first).toBe('Error: rerank_requests: write failed ← cause: Error: value "[3 chars]" refused ← cause: error 22P02: invalid input syntax for type json');
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) expect(frame).toMatch(/^\s+at /);
    expect(text).not.toMatch(/u42|qa-user/);
  });

  it("describes thrown non-errors without printing objects", () => {
    expect(errorForLog('body "abc"')).toBe('thrown string: body "[3 chars]"');
    expect(errorForLog({ userKey: "u42" })).toBe("Error: ");
    expect(errorForLog(undefined)).toBe("thrown undefined: undefined");
  });

  it("ignores a code that is not a plain identifier (it could be data)", () => {
    expect(errorForLog(Object.assign(new Error("x"), { code: "u42 secret" }), { stack: false })).toBe("Error: x");
    expect(errorForLog(Object.assign(new Error("x"), { code: "ECONNREFUSED" }), { stack: false })).toBe("Error ECONNREFUSED: x");
  });
});

describe("rowsForLog", () => {
  it("counts and measures rows instead of printing them", () => {
    expect(rowsForLog([{ userKey: "u42" }])).toBe("1 row, 17 bytes of JSON");
    expect(rowsForLog([{ a: 1 }, { b: 2 }])).toBe("2 rows, 14 bytes of JSON");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(rowsForLog([cyclic])).toBe("1 row, 0 bytes of JSON");
  });
});

describe("maskFields", () => {
  it("replaces the named fields at any depth by their log key and leaves the payload itself alone", () => {
    const payload = { userKey: "u42", context: { sessionKey: "s9", device: "mobile" }, items: [{ userKey: "u7", id: "sku-1" }], n: null as string | null };
    const masked = maskFields(payload, ["userKey", "sessionKey"], SECRET);
    expect(masked).toEqual({
      userKey: logKey("u42", SECRET),
      context: { sessionKey: logKey("s9", SECRET), device: "mobile" },
      items: [{ userKey: logKey("u7", SECRET), id: "sku-1" }],
      n: null,
    });
    expect(payload.userKey).toBe("u42");
    expect(JSON.stringify(masked)).not.toMatch(/u42|s9|u7/);
  });

  it("masks objects under a named field, keeps nulls, and survives cycles", () => {
    const cyclic: Record<string, unknown> = { userKey: { nested: "u42" }, sessionKey: null };
    cyclic.self = cyclic;
    const masked = maskFields(cyclic, ["userKey", "sessionKey"], SECRET) as Record<string, unknown>;
    expect(masked.userKey).toBe("[masked]");
    expect(masked.sessionKey).toBeNull();
    expect(masked.self).toBe(masked);
  });
});

describe("logInternalError", () => {
  it("logs an error with its frames once, then one line per window saying how many it did not print", () => {
    const lines: string[] = [];
    const write = (line: string) => void lines.push(line);
    const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432 for "alice"'), { code: "ECONNREFUSED" });
    const where = `[http] POST /api/v1/rerank t-${Math.random()}`;
    for (let i = 0; i < 500; i++) logInternalError(where, outage, { now: 1_000_000 + i * 10, write }); // 5 s of failures
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[http\] POST \/api\/v1\/rerank t-[\d.]+: Error ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:5432 for "\[5 chars\]"\n\s+at /);
    logInternalError(where, outage, { now: 1_000_000 + INTERNAL_ERROR_LOG_WINDOW_MS + 1, write });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(`${where}: Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432 for "[5 chars]" (and 499 more like it in the last 10 s)`);
    // Another place, or another error, is logged at once.
    logInternalError(`${where} other`, outage, { now: 1_000_000 + INTERNAL_ERROR_LOG_WINDOW_MS + 2, write });
    logInternalError(where, new Error("disk full"), { now: 1_000_000 + INTERNAL_ERROR_LOG_WINDOW_MS + 3, write });
    expect(lines).toHaveLength(4);
  });
});
