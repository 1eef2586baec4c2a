import type { APIRequestContext } from "@playwright/test";
import { expect, test } from "./fixtures";

// Issue #11's hostile inputs against the production build that `npm start` runs (Next's bundles
// included, where error classes are copies and `instanceof` fails): each gets the status the README
// promises, names the field, and never carries PostgreSQL's words. Integration tests do not go
// through the build; this does.

const candidates = Array.from({ length: 5 }, (_, i) => ({ id: `sku-${String(i + 1).padStart(5, "0")}`, retrievalScore: 1 - i / 5 }));
const valid = { surface: "search", topK: 3, userKey: "e2e-hostile", candidates };

/** Words of PostgreSQL's and the drivers' errors that must never reach a caller. */
const DATABASE_WORDS = /invalid byte sequence|unsupported Unicode|22P05|22021|SQLSTATE|prisma|postgres|syntax error at|violates|relation "/i;

const rest = (request: APIRequestContext, body: string) => request.post("/api/v1/rerank", { data: Buffer.from(body), headers: { "content-type": "application/json" } });
const trpcMutation = (request: APIRequestContext, path: string, body: string) => request.post(`/api/trpc/${path}`, { data: Buffer.from(`{"json":${body}}`), headers: { "content-type": "application/json" } });
const trpcQuery = (request: APIRequestContext, path: string, body: string) => request.get(`/api/trpc/${path}?input=${encodeURIComponent(`{"json":${body}}`)}`);

test("an unknown surface is a 404 on POST /api/v1/rerank and on tRPC rerank.rank", async ({ request }) => {
  const body = JSON.stringify({ ...valid, surface: "nope" });
  const [h, t] = [await rest(request, body), await trpcMutation(request, "rerank.rank", body)];
  expect([h.status(), t.status()]).toEqual([404, 404]);
  expect(await h.json()).toEqual({ error: { code: "NOT_FOUND", message: 'surface "nope" does not exist' } });
  expect((await t.json()).error.json).toMatchObject({ message: 'surface "nope" does not exist', data: { code: "NOT_FOUND", httpStatus: 404 } });
});

test("the issue's hostile values are 400s naming the field, on both doors, without database words", async ({ request }) => {
  // JSON.stringify writes a lone surrogate as the escape \ud800, which JSON.parse turns back into one.
  const cases: Array<{ name: string; body: string; field: string }> = [
    { name: "retrievalScore 1e39", body: JSON.stringify({ ...valid, candidates: [{ id: "sku-00001", retrievalScore: 1e39 }, ...candidates.slice(1)] }), field: "candidates[0].retrievalScore" },
    { name: "an inline feature 1e39", body: JSON.stringify({ ...valid, candidates: [{ id: "sku-00001", features: { popularity: -1e39 } }] }), field: "candidates[0].features.popularity" },
    { name: "a lone surrogate in the user key", body: JSON.stringify({ ...valid, userKey: "qa-\ud800-user" }), field: "userKey" },
    { name: "a lone surrogate in a candidate id", body: JSON.stringify({ ...valid, candidates: [...candidates, { id: "sku-\udfff" }] }), field: "candidates[5].id" },
    { name: "NUL in the surface", body: JSON.stringify({ ...valid, surface: "search\u0000" }), field: "surface" },
  ];
  for (const c of cases) {
    const [h, t] = [await rest(request, c.body), await trpcMutation(request, "rerank.rank", c.body)];
    expect([c.name, h.status(), t.status()]).toEqual([c.name, 400, 400]);
    const [hb, tb] = [await h.json(), await t.json()];
    expect(hb.error.message, c.name).toMatch(new RegExp(`^${c.field.replace(/[[\].]/g, "\\$&")}: `));
    expect(tb.error.json.message, c.name).toBe(hb.error.message);
    expect(hb.error.message, c.name).not.toMatch(DATABASE_WORDS);
  }
});

test("other procedures refuse NUL ids, lone surrogates and deep JSON with a 400 naming the field", async ({ request }) => {
  const experiment = {
    key: "e2e-hostile", name: "Hostile", surface: "search", owner: "e2e@example.com",
    variants: [
      { key: "control", name: "Control", weight: 0.5, isControl: true, modelAlias: "production" },
      { key: "treatment", name: "Treatment", weight: 0.5, modelAlias: "fallback" },
    ],
  };
  let deep: unknown = "x";
  for (let i = 0; i < 3000; i++) deep = [deep];
  const cases: Array<{ name: string; call: () => ReturnType<typeof rest>; field: string }> = [
    { name: "NUL in a surface key", call: () => trpcQuery(request, "surfaces.get", JSON.stringify({ key: "sea\u0000rch" })), field: "key" },
    { name: "NUL in a version id", call: () => trpcMutation(request, "models.setAlias", JSON.stringify({ versionId: "v\u0000", alias: "canary" })), field: "versionId" },
    { name: "a lone surrogate in an experiment name", call: () => trpcMutation(request, "experiments.create", JSON.stringify({ ...experiment, name: "A/B \ud800" })), field: "name" },
    {
      name: "a targeting value nested 3,000 levels",
      call: () => trpcMutation(request, "experiments.create", JSON.stringify({ ...experiment, targeting: [{ attribute: "country", op: "in", value: deep }] })),
      field: "targeting[0].value",
    },
  ];
  for (const c of cases) {
    const response = await c.call();
    expect([c.name, response.status()]).toEqual([c.name, 400]);
    const message: string = (await response.json()).error.json.message;
    expect(message, c.name).toMatch(new RegExp(`^${c.field.replace(/[[\].]/g, "\\$&")}: `));
    expect(message, c.name).not.toMatch(DATABASE_WORDS);
  }
});
