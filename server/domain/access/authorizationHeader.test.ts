import { describe, expect, it } from "vitest";
import { BEARER_FORM, readAuthorization } from "./authorizationHeader";

const key = "rrk_3kqZx9vJ2mQ7yT1aB4cD5eF6gH7iJ8kL9mN0oP1qR2s";

describe("readAuthorization", () => {
  it("reads the key of `Bearer <key>`, the scheme in any case", () => {
    expect(readAuthorization(`Bearer ${key}`)).toEqual({ kind: "bearer", key });
    expect(readAuthorization(`  bearer   ${key} `)).toEqual({ kind: "bearer", key });
  });

  it("answers a key sent with another scheme with the expected form and the scheme it got, never the key", () => {
    const read = readAuthorization(`Token ${key}`);
    expect(read).toEqual({ kind: "malformed", message: `authorization: send the API key as ${BEARER_FORM}; the header's scheme was "Token"` });
    expect(readAuthorization(`Basic ${Buffer.from(`x:${key}`).toString("base64")}`)).toMatchObject({ message: expect.stringContaining('scheme was "Basic"') });
  });

  it("answers a bare key (no scheme) without echoing it", () => {
    const read = readAuthorization(key);
    expect(read.kind).toBe("malformed");
    expect(read.kind === "malformed" && read.message).toBe(`authorization: send the API key as ${BEARER_FORM}; the header carried a value without a scheme (no "Bearer " before it)`);
  });

  it("never names a 'scheme' that may be the key itself (our prefix, or too long for a scheme)", () => {
    for (const header of [`${key} ${key}`, `${"x".repeat(40)} ${key}`, `k€y ${key}`]) {
      const read = readAuthorization(header);
      expect(read).toEqual({ kind: "malformed", message: `authorization: send the API key as ${BEARER_FORM}; the header's scheme was not Bearer` });
    }
  });

  it("answers Bearer without a key, and with more than one value", () => {
    expect(readAuthorization("Bearer ")).toEqual({ kind: "malformed", message: `authorization: send the API key as ${BEARER_FORM}; the Bearer scheme carried no key` });
    expect(readAuthorization(`Bearer ${key} extra`)).toEqual({ kind: "malformed", message: `authorization: send the API key as ${BEARER_FORM}; the Bearer scheme carried more than one value (a key has no spaces)` });
  });
});
