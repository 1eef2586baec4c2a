import { canaryAliasOf } from "./canary";

// How a surface uses a model alias, as data: the roles a surface's configuration gives an alias,
// and their wording in dialogs and summaries. The database read that finds the surfaces is
// server/registry/aliasReach.ts.

/**
 * How a surface uses an alias. serving: its model alias (all of its traffic); canary: its own
 * `canary@<surface>` (the canary's share); stage2: rescoring the top of its order (any model,
 * surfaces.stage2); fallback: its cascade's lighter model (when the primary fails); experiment: a
 * running experiment's variant serves it; shadow: scored beside serving, never shown to users.
 */
export type AliasRole = "serving" | "canary" | "stage2" | "fallback" | "experiment" | "shadow";

export const ALIAS_ROLES: readonly AliasRole[] = ["serving", "canary", "stage2", "fallback", "experiment", "shadow"];

/** Roles that change what users are served (a shadow's scores are never shown): approvals guard these. */
export const RANKING_ROLES: readonly AliasRole[] = ["serving", "canary", "stage2", "fallback", "experiment"];

export interface SurfaceUse {
  key: string;
  /** The surface's own model, or null. */
  modelId: string | null;
  modelAlias: string;
  fallbackAlias: string | null;
  shadowAlias: string | null;
  /** surfaces.stage2 as stored (validated elsewhere): only `model` and `alias` are read. */
  stage2: unknown;
  /** Whether a running experiment on the surface has a variant naming this alias (of the surface's model). */
  experimentVariant: boolean;
}

/** The roles `surface` gives `alias` of the model (`modelId`, `modelName`), in ALIAS_ROLES order; [] when none. */
export function aliasRolesOf(surface: SurfaceUse, target: { modelId: string; modelName: string; alias: string }): AliasRole[] {
  const own = surface.modelId === target.modelId;
  const stage2 = (surface.stage2 ?? null) as { model?: unknown; alias?: unknown } | null;
  const has: Record<AliasRole, boolean> = {
    serving: own && surface.modelAlias === target.alias,
    canary: own && canaryAliasOf(surface.key) === target.alias,
    stage2: stage2 !== null && typeof stage2 === "object" && stage2.model === target.modelName && stage2.alias === target.alias,
    fallback: own && surface.fallbackAlias === target.alias,
    experiment: own && surface.experimentVariant,
    shadow: own && surface.shadowAlias === target.alias,
  };
  return ALIAS_ROLES.filter((r) => has[r]);
}

const ROLE_LABEL: Record<AliasRole, string> = { serving: "serving", canary: "canary", stage2: "stage 2", fallback: "fallback", experiment: "experiment variant", shadow: "shadow" };

/** "search, home-feed (stage 2)": each surface's key, with its roles named unless it is only serving. */
export function describeReach(surfaces: ReadonlyArray<{ key: string; roles: readonly AliasRole[] }>): string {
  return surfaces
    .map((s) => (s.roles.length === 1 && s.roles[0] === "serving" ? s.key : `${s.key} (${s.roles.map((r) => ROLE_LABEL[r]).join(", ")})`))
    .join(", ");
}
