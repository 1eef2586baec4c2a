import { LRUCache } from "lru-cache";
import { getDb } from "../../db/client";
import { InvalidInputError } from "../../errors";

// Which surface serves a POST /v2/rerank request's `model`. Every text rerank is served by a
// surface's pipeline (its alias, experiments, canary, shadow, budget, breaker and fallback), so
// `model` names one:
//   "<surface key>"         that surface (e.g. "docs-search");
//   "<model name>"          the surface the registry model serves (its serving alias, "production" by default);
//   "<model name>:<alias>"  the surface serving that model under that alias (when the model serves several).
// Only the surfaces the caller may rank on are ever considered (a serving key limited to some
// surfaces sees no other): a name that serves only other surfaces is answered exactly as a name that
// serves nothing, so a key cannot probe which models, aliases or surfaces exist beyond its own.
// What a name may mean is looked up in the database at most every RESOLVE_TTL_MS per name: surfaces
// are created and re-pointed rarely, and the request path should not wait for a query each time.

const RESOLVE_TTL_MS = 2_000;

/** A surface a name may mean, and the alias its model serves there. */
interface Meaning {
  key: string;
  alias: string;
}

/** What a name may mean: the surface of that key, else the surfaces its model (and alias) serves. */
interface Meanings {
  surface: string | null;
  byModel: Meaning[];
  /** The name's model part, for the ambiguity message. */
  name: string;
}

interface Holder {
  meanings: LRUCache<string, Promise<Meanings>>;
}
// One cache per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __textModelMeanings?: Holder };
const state: Holder = (holder.__textModelMeanings ??= { meanings: new LRUCache({ max: 1000, ttl: RESOLVE_TTL_MS }) });

/** The one answer for a name that serves nothing this caller may rank on, whatever it serves elsewhere. */
export const notServedMessage = (model: string) =>
  `"${model}" is neither a surface nor a registry model that serves one you may rank on (model is a surface key, a model name, or "name:alias")`;

/**
 * The surface key that serves `model` (see above) among the surfaces `allowedSurfaces` admits
 * (server/auth/principal.ts allowedSurfaces: a serving key's surfaces; empty: every surface).
 * Errors: InvalidInputError on `model` when it names nothing among them (notServedMessage, the same
 * text whether it serves other surfaces or none), or when a model name serves several of them under
 * different aliases (the message names those surfaces only).
 */
export async function surfaceForModel(model: string, allowedSurfaces: readonly string[]): Promise<string> {
  const meanings = await meaningsOf(model);
  const allowed = (key: string) => allowedSurfaces.length === 0 || allowedSurfaces.includes(key);
  if (meanings.surface !== null && allowed(meanings.surface)) return meanings.surface;
  const candidates = meanings.byModel.filter((m) => allowed(m.key));
  if (candidates.length === 1) return candidates[0]!.key;
  if (candidates.length > 1) {
    // "name:alias" only helps when the aliases differ: the same alias on every surface leaves the surface key.
    const aliasesDiffer = new Set(candidates.map((s) => s.alias)).size === candidates.length;
    throw new InvalidInputError("model", `"${meanings.name}" serves ${candidates.length} surfaces (${candidates.map((s) => `${s.key} under ${s.alias}`).join(", ")}): name the surface${aliasesDiffer ? `, or "${meanings.name}:<alias>"` : ""}`);
  }
  throw new InvalidInputError("model", notServedMessage(model));
}

function meaningsOf(model: string): Promise<Meanings> {
  let pending = state.meanings.get(model);
  if (!pending) {
    pending = lookUp(model);
    state.meanings.set(model, pending);
    pending.catch(() => state.meanings.delete(model));
  }
  return pending;
}

async function lookUp(model: string): Promise<Meanings> {
  const db = getDb();
  const colon = model.lastIndexOf(":");
  const [name, alias] = colon > 0 ? [model.slice(0, colon), model.slice(colon + 1)] : [model, undefined];
  const [bySurface, surfaces] = await Promise.all([
    db.surface.findUnique({ where: { key: model }, select: { key: true } }),
    db.surface.findMany({ where: { model: { name }, ...(alias ? { modelAlias: alias } : {}) }, select: { key: true, modelAlias: true }, orderBy: { key: "asc" } }),
  ]);
  return { surface: bySurface?.key ?? null, byModel: surfaces.map((s) => ({ key: s.key, alias: s.modelAlias })), name };
}

/** Forgets resolved names (tests that re-point surfaces). */
export function forgetResolvedModels(): void {
  state.meanings.clear();
}
