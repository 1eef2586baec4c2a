import { describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { BEARER_FORM } from "../domain/access/authorizationHeader";
import { createCaller } from "../routers/_app";
import { startTestFrontDoor } from "../testing/frontDoor";
import { createContext } from "../trpc";
import { createApiKey } from "./apiKeys";
import { authorizeHttp } from "./http";
import { BAD_KEY_MESSAGE } from "./principal";
import { createUser } from "./users";

// A valid API key sent in another form than `Authorization: Bearer <key>` (another scheme, or bare)
// is refused with 401 saying the expected form and the scheme it got, never the key; it used to be
// told the key was "unknown, revoked or expired".

async function keys() {
  const { user } = await createUser(getDb(), { email: `scheme-${Math.random().toString(36).slice(2)}@corp.test`, name: "Scheme", roles: ["admin"], password: "scheme test password" });
  const serving = (await createApiKey(getDb(), { name: "pipeline", kind: "serving" }, user.id)).key;
  const automation = (await createApiKey(getDb(), { name: "ci", kind: "automation", roles: ["ml_engineer"] }, user.id)).key;
  return { serving, automation };
}

const tokenMessage = `authorization: send the API key as ${BEARER_FORM}; the header's scheme was "Token"`;
const bareMessage = `authorization: send the API key as ${BEARER_FORM}; the header carried a value without a scheme (no "Bearer " before it)`;

describe("an API key sent without the Bearer scheme", () => {
  it("authorizeHttp (rerank, events, upload, metrics, artifacts): 401 naming the expected form and the scheme, not the key", async () => {
    const { serving, automation } = await keys();
    expect(await authorizeHttp(new Headers({ authorization: `Bearer ${serving}` }), "rerank.serve")).toMatchObject({ ok: true });
    const token = await authorizeHttp(new Headers({ authorization: `Token ${serving}` }), "rerank.serve");
    // With the challenge every 401 carries (RFC 6750 §3): no error code, since no Bearer key was sent.
    expect(token).toEqual({ ok: false, status: 401, code: "UNAUTHORIZED", message: tokenMessage, headers: { "www-authenticate": 'Bearer realm="rerank-console"' } });
    const bare = await authorizeHttp({ authorization: automation }, "models.write");
    expect(bare).toEqual({ ok: false, status: 401, code: "UNAUTHORIZED", message: bareMessage, headers: { "www-authenticate": 'Bearer realm="rerank-console"' } });
    for (const answer of [token, bare]) expect(JSON.stringify(answer)).not.toContain(serving.slice(4, 20));
    // A Bearer key that is not one is still told so.
    expect(await authorizeHttp(new Headers({ authorization: "Bearer rrk_not-a-key" }), "rerank.serve")).toMatchObject({ status: 401, message: BAD_KEY_MESSAGE, headers: { "www-authenticate": 'Bearer realm="rerank-console", error="invalid_token"' } });
  });

  it("over HTTP: POST /api/v1/rerank, /api/v1/events, /v2/rerank and the model upload answer 401 with the expected form", async () => {
    const { serving } = await keys();
    const frontDoor = await startTestFrontDoor();
    try {
      for (const path of ["/api/v1/rerank", "/api/v1/events", "/v2/rerank", "/api/v1/models/search-ranker/versions"]) {
        for (const [authorization, message] of [[`Token ${serving}`, tokenMessage], [serving, bareMessage]] as const) {
          const answer = await frontDoor.post(path, { surface: "search", candidates: [] }, { headers: { authorization } });
          const text = await answer.text();
          expect([path, answer.status]).toEqual([path, 401]);
          expect(text).toContain(message.replaceAll('"', '\\"'));
          expect(text).not.toContain(serving);
          expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="rerank-console"');
        }
      }
    } finally {
      await frontDoor.close();
    }
  });

  it("tRPC: a procedure called with `Token <key>` is refused naming the expected form", async () => {
    const { automation } = await keys();
    const ok = createCaller(await createContext({ headers: new Headers({ authorization: `Bearer ${automation}` }) }));
    await expect(ok.surfaces.list()).resolves.toBeInstanceOf(Array);
    const caller = createCaller(await createContext({ headers: new Headers({ authorization: `Token ${automation}` }) }));
    await expect(caller.surfaces.list()).rejects.toMatchObject({ code: "UNAUTHORIZED", message: tokenMessage });
  });
});
