import { AUDIT_ACTION_NAMES, type AuditAction } from "./actions";

// On-call's "Recent changes": the audit entries that touch serving (alias moves, kill switches,
// shadow, cascade and experiment changes, canaries), newest first. The list is short (15 rows), so an
// entry that records a look rather than a change must not take a row from one that changed something.

/** The action prefixes of entries that touch serving. */
export const RECENT_CHANGE_PREFIXES = ["model.alias", "surface.", "experiment.", "rollout."] as const;

/**
 * Actions under those prefixes that change nothing themselves: "Analyse now" (rollout.analysed) is
 * written per running rollout on every press, whatever the judge decided; a step it widened, paused,
 * promoted or failed has its own entry (rollout.advance, .paused, .promoted, .rolled_back, .aborted,
 * by the analysis), so leaving it out loses no change. A script pressing it every 30 s filled the list.
 */
export const NOT_CHANGES: readonly AuditAction[] = ["rollout.analysed"];

/** Whether an entry of `action` belongs in Recent changes: under a prefix of RECENT_CHANGE_PREFIXES and not in NOT_CHANGES. */
export function isRecentChange(action: string): boolean {
  return RECENT_CHANGE_PREFIXES.some((p) => action.startsWith(p)) && !(NOT_CHANGES as readonly string[]).includes(action);
}

/**
 * Alias entries that record the surfaces their move reached (`after.reached`, the history row's
 * surfaces). One that reached none (an alias no surface serves, shadows or tries) changed nothing
 * served: it is left out, so a script moving an unused alias cannot push real changes off the list.
 * Entries written before `reached` was recorded say nothing of their reach and are kept.
 */
export const REACH_RECORDING_ACTIONS: readonly AuditAction[] = ["model.alias.set", "model.alias.clear"];

/** Whether an entry belongs in Recent changes, its details read too: isRecentChange, and not an alias move recorded as reaching no surface (REACH_RECORDING_ACTIONS). */
export function isRecentChangeEntry(entry: { action: string; after: unknown }): boolean {
  if (!isRecentChange(entry.action)) return false;
  if (!(REACH_RECORDING_ACTIONS as readonly string[]).includes(entry.action)) return true;
  const after = entry.after;
  const reached = after !== null && typeof after === "object" && !Array.isArray(after) ? (after as { reached?: unknown }).reached : undefined;
  return !(Array.isArray(reached) && reached.length === 0);
}

/** Every action of the trail's vocabulary that belongs in Recent changes (what the service selects by, before its limit). */
export const RECENT_CHANGE_ACTIONS: readonly AuditAction[] = AUDIT_ACTION_NAMES.filter(isRecentChange);
