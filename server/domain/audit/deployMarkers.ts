import type { AuditEntryFacts } from "./describe";

// Deploy markers: the audit entries that change what a surface serves, as short labels for the
// On-call charts ("v2 → v3", "rollback v3 → v2", "kill switch on"). On-call reads a latency or
// fallback spike against them: did it start when something moved?

/** The audit actions that change what a surface serves. */
export const DEPLOY_MARKER_ACTIONS = ["model.alias.set", "surface.kill_switch", "rollout.promoted", "rollout.rolled_back", "rollout.aborted"] as const;

export type DeployMarkerKind = "deploy" | "rollback" | "kill_switch" | "canary";

export interface DeployMarker {
  kind: DeployMarkerKind;
  /** A few words for the chart, e.g. "rollback v3 → v2". */
  label: string;
}

const version = (side: unknown) => (side && typeof side === "object" && typeof (side as { version?: unknown }).version === "number" ? `v${(side as { version: number }).version}` : null);

/**
 * The marker of one audit entry, or null when the entry does not change serving (any other action,
 * or an alias move of an alias that serves nothing, e.g. `shadow`, which the audit files under no surface).
 * A move whose reason starts with "rollback:" (the On-call rollback lever) is a rollback.
 */
export function deployMarkerOf(entry: Pick<AuditEntryFacts, "action" | "before" | "after" | "reason" | "surfaces">): DeployMarker | null {
  switch (entry.action) {
    case "model.alias.set": {
      if (entry.surfaces.length === 0) return null;
      const move = `${version(entry.before) ?? "none"} → ${version(entry.after) ?? "?"}`;
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
