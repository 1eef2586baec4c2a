import type { AuditEntryFacts } from "./describe";

// Deploy markers: the audit entries that change what a surface serves, as short labels for the
// On-call charts ("v2 → v3", "rollback v3 → v2", "kill switch on"). On-call reads a latency or
// fallback spike against them: did it start when something moved?

/** The audit actions that change what a surface serves. */
export const DEPLOY_MARKER_ACTIONS = ["model.alias.set", "surface.kill_switch", "rollout.promoted", "rollout.rolled_back", "rollout.aborted"] as const;

/**
 * The marker actions every entry of which on a surface is a marker; an alias move
 * ("model.alias.set") is one only when it moves an alias of markedAliasesOf.
 */
export const UNCONDITIONAL_MARKER_ACTIONS = DEPLOY_MARKER_ACTIONS.filter((a) => a !== "model.alias.set");

export type DeployMarkerKind = "deploy" | "rollback" | "kill_switch" | "canary";

export interface DeployMarker {
  kind: DeployMarkerKind;
  /** A few words for the chart, e.g. "rollback v3 → v2". */
  label: string;
}

const version = (side: unknown) => (side && typeof side === "object" && typeof (side as { version?: unknown }).version === "number" ? `v${(side as { version: number }).version}` : null);

/** The aliases a surface answers with: the serving alias and its cascade fallback. */
export interface SurfaceAliases {
  serving: string;
  fallback: string | null;
}

/**
 * The alias names whose moves mark a surface's chart: its serving alias, and its cascade's
 * fallback when it has one. The audit trail files every alias move of a model under the model's
 * own surface (a nightly or shadow alias too), so a reader selects by these names before it limits
 * the rows: otherwise moves that mark nothing crowd out the ones that do.
 */
export function markedAliasesOf(aliases: SurfaceAliases): string[] {
  return aliases.fallback === null || aliases.fallback === aliases.serving ? [aliases.serving] : [aliases.serving, aliases.fallback];
}

/**
 * The marker of one audit entry on a surface's chart, or null when the entry does not change what
 * the surface serves: any other action, or a move of an alias it does not answer with (`shadow`,
 * `canary` — a canary's outcome has its own marker). A move whose reason starts with "rollback:"
 * (the On-call rollback lever) is a rollback; a move of the fallback alias says so.
 */
export function deployMarkerOf(entry: Pick<AuditEntryFacts, "action" | "before" | "after" | "reason">, aliases: SurfaceAliases): DeployMarker | null {
  switch (entry.action) {
    case "model.alias.set": {
      const alias = (entry.after as { alias?: unknown } | null)?.alias;
      if (typeof alias !== "string" || !markedAliasesOf(aliases).includes(alias)) return null;
      const move = `${alias === aliases.serving ? "" : `${alias} `}${version(entry.before) ?? "none"} → ${version(entry.after) ?? "?"}`;
      return (entry.reason ?? "").startsWith("rollback:") ? { kind: "rollback", label: `rollback ${move}` } : { kind: "deploy", label: move };
    }
    case "surface.kill_switch": {
      const on = (entry.after as { killSwitch?: unknown } | null)?.killSwitch === true;
      return { kind: "kill_switch", label: on ? "kill switch on" : "kill switch off" };
    }
    case "rollout.promoted":
      return { kind: "canary", label: "canary promoted" };
    case "rollout.rolled_back":
      return { kind: "canary", label: "canary rolled back" };
    case "rollout.aborted":
      return { kind: "canary", label: "canary aborted" };
    default:
      return null;
  }
}
