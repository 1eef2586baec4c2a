import { describe, expect, it } from "vitest";
import { AUTH_REALM, BEARER_FORM, bearerChallenge, KNOWN_SCHEMES, knownScheme, readAuthorization, refusalHeaders } from "./authorizationHeader";

const key = "rrk_3kqZx9vJ2mQ7yT1aB4cD5eF6gH7iJ8kL9mN0oP1qR2s";
const told = (got: string) => `authorization: send the API key as ${BEARER_FORM}; ${got}`;
const UNRECOGNISED = told("the header used an unrecognised scheme");

describe("readAuthorization", () => {
  it("reads the key of `Bearer <key>`, the scheme in any case", () => {
    expect(readAuthorization(`Bearer ${key}`)).toEqual({ kind: "bearer", key });
    expect(readAuthorization(`  bearer   ${key} `)).toEqual({ kind: "bearer", key });
  });

  it("reads `Bearer <key>` with one space (the common form, read without splitting) as the general reading does every near variant", () => {
    for (const header of [`Bearer ${key}`, `BEARER ${key}`, `bEaReR ${key}`, `Bearer\t${key}`, `Bearer ${key}\t`, `Bearer ${key} `, ` Bearer ${key}`, `Bearer \t${key}`]) {
      expect(readAuthorization(header), JSON.stringify(header)).toEqual({ kind: "bearer", key });
    }
    expect(readAuthorization(`Bearer ${key} extra`)).toEqual({ kind: "malformed", bearer: true, message: told("the Bearer scheme carried more than one value (a key has no spaces)") });
    expect(readAuthorization(`Bearer ${key}\textra`)).toMatchObject({ kind: "malformed", bearer: true });
    expect(readAuthorization("Bearer  ")).toEqual({ kind: "malformed", bearer: true, message: told("the Bearer scheme carried no key") });
    expect(readAuthorization(`Bearer\u00a0${key}`)).toMatchObject({ kind: "malformed", bearer: false });
    expect(readAuthorization(`Bearerx${key}`)).toMatchObject({ kind: "malformed", bearer: false });
    expect(readAuthorization("Bearer k")).toEqual({ kind: "bearer", key: "k" });
  });

  it("answers a key sent with a known scheme with the expected form and that scheme's registered name, never the key", () => {
    const read = readAuthorization(`Token ${key}`);
    expect(read).toEqual({ kind: "malformed", bearer: false, message: told('the header\'s scheme was "Token"') });
    expect(readAuthorization(`Basic ${Buffer.from(`x:${key}`).toString("base64")}`)).toMatchObject({ message: told('the header\'s scheme was "Basic"') });
  });

  it("names a known scheme in the list's spelling, whatever the case it was sent in (the sender's text is not echoed)", () => {
    expect(readAuthorization(`bAsIc ${key}`)).toMatchObject({ message: told('the header\'s scheme was "Basic"') });
    expect(readAuthorization(`apikey ${key}`)).toMatchObject({ message: told('the header\'s scheme was "ApiKey"') });
    expect(readAuthorization("scram-sha-256 data=abc")).toMatchObject({ message: told('the header\'s scheme was "SCRAM-SHA-256"') });
    expect(readAuthorization("aws4-hmac-sha256 Credential=x")).toMatchObject({ message: told('the header\'s scheme was "AWS4-HMAC-SHA256"') });
    expect(readAuthorization("VAPID t=x, k=y")).toMatchObject({ message: told('the header\'s scheme was "vapid"') });
    expect(readAuthorization("ntlm TlRMTVNTUAAB")).toMatchObject({ message: told('the header\'s scheme was "NTLM"') });
    expect(readAuthorization("dpop eyJ")).toMatchObject({ message: told('the header\'s scheme was "DPoP"') });
  });

  it("never quotes a scheme it does not know: arbitrary text (a break test reflected it), a key sent as the scheme, a long word", () => {
    for (const header of [
      `Click-here-to-verify-your-account ${key}`,
      `<script>alert(1)</script> ${key}`,
      `Your_key_is_revoked_call_555 ${key}`,
      `${key} ${key}`,
      `${"x".repeat(40)} ${key}`,
      `k€y ${key}`,
      `Bearerx ${key}`,
      `Basic: ${key}`,
    ]) {
      const read = readAuthorization(header);
      expect(read, header).toEqual({ kind: "malformed", bearer: false, message: UNRECOGNISED });
      expect(read.kind === "malformed" && read.message).not.toContain(header.split(" ")[0]);
    }
  });

  it("answers a bare key (no scheme) without echoing it", () => {
    const read = readAuthorization(key);
    expect(read).toEqual({ kind: "malformed", bearer: false, message: told('the header carried a value without a scheme (no "Bearer " before it)') });
  });

  it("answers Bearer without a key, and with more than one value", () => {
    expect(readAuthorization("Bearer ")).toEqual({ kind: "malformed", bearer: true, message: told("the Bearer scheme carried no key") });
    expect(readAuthorization(`Bearer ${key} extra`)).toEqual({ kind: "malformed", bearer: true, message: told("the Bearer scheme carried more than one value (a key has no spaces)") });
  });
});

describe("readAuthorization separators (RFC 9110 §11.4: space or tab only)", () => {
  it("accepts spaces and tabs between scheme and key and around the value", () => {
    expect(readAuthorization("Bearer\trrk_abc")).toEqual({ kind: "bearer", key: "rrk_abc" });
    expect(readAuthorization(" \tBearer   rrk_abc \t")).toEqual({ kind: "bearer", key: "rrk_abc" });
  });
  it("does not take a no-break space or another Unicode space as the separator (break test: Bearer\u00a0<key> was accepted)", () => {
    for (const space of ["\u00a0", "\u2003", "\u3000", "\ufeff"]) {
      const read = readAuthorization(`Bearer${space}rrk_abc`);
      expect(read.kind).toBe("malformed");
      expect(read.kind === "malformed" && read.message).not.toContain("rrk_abc");
    }
    // Trailing Unicode space is part of the key, so the key is not the live one.
    expect(readAuthorization("Bearer rrk_abc\u00a0")).toEqual({ kind: "bearer", key: "rrk_abc\u00a0" });
  });
});

describe("knownScheme", () => {
  it("holds IANA's registered schemes and the common ones, each once", () => {
    for (const scheme of ["Basic", "Bearer", "Digest", "Negotiate", "HOBA", "Mutual", "SCRAM-SHA-1", "SCRAM-SHA-256", "vapid", "DPoP", "OAuth", "NTLM", "Token", "ApiKey", "AWS4-HMAC-SHA256"]) {
      expect(knownScheme(scheme.toUpperCase())).toBe(scheme);
    }
    expect(new Set(KNOWN_SCHEMES.map((s) => s.toLowerCase())).size).toBe(KNOWN_SCHEMES.length);
    expect(knownScheme("Tokens")).toBeNull();
    expect(knownScheme("")).toBeNull();
  });
});

describe("bearerChallenge (a 401's WWW-Authenticate, RFC 6750 §3)", () => {
  const realm = `Bearer realm="${AUTH_REALM}"`;

  it("names the realm alone when no Bearer credential was tried: none sent, another scheme, a bare value", () => {
    expect(realm).toBe('Bearer realm="rerank-console"');
    for (const authorization of [null, undefined, "", `Token ${key}`, `Basic eDp5`, key, "<b>hi</b> there"]) expect(bearerChallenge(authorization)).toBe(realm);
  });

  it("says invalid_token when a Bearer key was sent and is not a live key", () => {
    expect(bearerChallenge(`Bearer ${key}`)).toBe(`${realm}, error="invalid_token"`);
    expect(bearerChallenge("bearer rrk_not-a-key")).toBe(`${realm}, error="invalid_token"`);
  });

  it("says invalid_request for a malformed Bearer credential (no key, more than one value)", () => {
    expect(bearerChallenge("Bearer")).toBe(`${realm}, error="invalid_request"`);
    expect(bearerChallenge(`Bearer ${key} more`)).toBe(`${realm}, error="invalid_request"`);
  });

  it("never carries anything of the request", () => {
    for (const authorization of [`Bearer ${key}`, `Bearer ${key} x"y`, `x"y ${key}`]) {
      const value = bearerChallenge(authorization);
      expect(value).not.toContain(key);
      expect(value).not.toContain('x"y');
    }
  });
});

describe("refusalHeaders", () => {
  it("gives a 401 its challenge and any other refusal nothing", () => {
    expect(refusalHeaders(401, `Bearer ${key}`)).toEqual({ "www-authenticate": 'Bearer realm="rerank-console", error="invalid_token"' });
    expect(refusalHeaders(401, null)).toEqual({ "www-authenticate": 'Bearer realm="rerank-console"' });
    expect(refusalHeaders(403, `Bearer ${key}`)).toEqual({});
  });
});
