import { LRUCache } from "lru-cache";
import { getDb } from "../../db/client";
import { InvalidInputError } from "../../errors";

// Which surface serves a POST /v2/rerank request's `model`. Every text rerank is served by a
// surface's pipeline (its alias, experiments, canary, shadow, budget, breaker and fallback), so
// `model` names one:
//   "<surface key>"         that surface (e.g. "docs-search");
//   "<model name>"          the surface the registry model serves (its serving alias, "production" by default);
//   "<model name>:<alias>"  the surface serving that model under that alias (when the model serves several).
// Looked up in the database at most every RESOLVE_TTL_MS per name: surfaces are created and
// re-pointed rarely, and the request path should not wait for a query each time.

const RESOLVE_TTL_MS = 2_000;

interface Holder {
  resolved: LRUCache<string, Promise<string>>;
}
// One cache per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __textModelSurfaces?: Holder };
const state: Holder = (holder.__textModelSurfaces ??= { resolved: new LRUCache({ max: 1000, ttl: RESOLVE_TTL_MS }) });

/**
 * The surface key that serves `model` (see above). InvalidInputError on `model` when nothing does,
 * or when a model name serves several surfaces under different aliases (the message names them).
 */
export function surfaceForModel(model: string): Promise<string> {
  let pending = state.resolved.get(model);
  if (!pending) {
    pending = lookUp(model);
    state.resolved.set(model, pending);
    pending.catch(() => state.resolved.delete(model));
  }
  return pending;
}

async function lookUp(model: string): Promise<string> {
  const db = getDb();
  const bySurface = await db.surface.findUnique({ where: { key: model }, select: { key: true } });
  if (bySurface) return bySurface.key;
  const colon = model.lastIndexOf(":");
  const [name, alias] = colon > 0 ? [model.slice(0, colon), model.slice(colon + 1)] : [model, undefined];
  const surfaces = await db.surface.findMany({ where: { model: { name }, ...(alias ? { modelAlias: alias } : {}) }, select: { key: true, modelAlias: true }, orderBy: { key: "asc" } });
  if (surfaces.length === 1) return surfaces[0]!.key;
  if (surfaces.length > 1) {
    throw new InvalidInputError("model", `"${name}" serves ${surfaces.length} surfaces (${surfaces.map((s) => `${s.key} under ${s.modelAlias}`).join(", ")}): name the surface, or "${name}:<alias>"`);
  }
  throw new InvalidInputError("model", `"${model}" is neither a surface nor a registry model that serves one (model is a surface key, a model name, or "name:alias")`);
}

/** Forgets resolved names (tests that re-point surfaces). */
export function forgetResolvedModels(): void {
  state.resolved.clear();
}
