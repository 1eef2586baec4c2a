// The audit trail's vocabulary: every action the product records, the kind of subject it is
// recorded against, and the shape of its before/after. One table, so a new action is one entry
// here (and one sentence in describe.ts, which the compiler asks for).

export const SUBJECT_KINDS = ["surface", "experiment", "model", "model_version", "rollout", "user", "api_key", "settings", "system"] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

export const ACTOR_KINDS = ["user", "api_key", "system"] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** Action name → the subject kind its entries name, and a short title for filters and exports. */
export const AUDIT_ACTIONS = {
  "surface.kill_switch": { subject: "surface", title: "Kill switch" },
  "surface.shadow": { subject: "surface", title: "Shadow configured" },
  "model.create": { subject: "model", title: "Model registered" },
  "model.version.create": { subject: "model_version", title: "Version uploaded" },
  "model.alias.set": { subject: "model", title: "Alias moved" },
  "experiment.create": { subject: "experiment", title: "Experiment created" },
  "experiment.update": { subject: "experiment", title: "Experiment edited" },
  "experiment.start": { subject: "experiment", title: "Experiment started" },
  "experiment.stop": { subject: "experiment", title: "Experiment stopped" },
  "experiment.restart": { subject: "experiment", title: "Experiment restarted" },
  "experiment.ship": { subject: "experiment", title: "Experiment shipped" },
  "rollout.start": { subject: "rollout", title: "Canary started" },
  "rollout.advance": { subject: "rollout", title: "Canary widened" },
  "rollout.promoted": { subject: "rollout", title: "Canary promoted" },
  "rollout.rolled_back": { subject: "rollout", title: "Canary rolled back" },
  "rollout.aborted": { subject: "rollout", title: "Canary aborted" },
  "seed.demo": { subject: "system", title: "Demo data seeded" },
} as const satisfies Record<string, { subject: SubjectKind; title: string }>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
export const AUDIT_ACTION_NAMES = Object.keys(AUDIT_ACTIONS) as AuditAction[];
export type SubjectKindOf<A extends AuditAction> = (typeof AUDIT_ACTIONS)[A]["subject"];

export function isAuditAction(name: string): name is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, name);
}

type ExperimentState = { status: string; phase: number };
/** An experiment's definition as submitted (the create/edit form's input). */
type ExperimentDefinition = Record<string, unknown>;
type RolloutState = { surface: string; model?: string; version?: number; percent: number; status: string };

/**
 * What each action stores as before and after. Rows written before this table existed have the
 * same shapes (it was read off the writers), except that fields marked optional may be missing.
 */
export interface AuditChanges {
  "surface.kill_switch": { before: { killSwitch: boolean }; after: { killSwitch: boolean; surface: string } };
  "surface.shadow": { before: { alias: string | null; sampleRate: number }; after: { alias: string | null; sampleRate: number } };
  "model.create": { before: null; after: { name: string; owner: string; surface: string | null } };
  "model.version.create": { before: null; after: { model: string; version: number; sha256: string; sizeBytes: number } };
  "model.alias.set": {
    before: { alias: string; versionId: string; version: number } | null;
    after: { alias: string; versionId: string; version: number; model: string };
  };
  "experiment.create": { before: null; after: ExperimentDefinition };
  /** Before: the allocation that was in force; after: the submitted definition. */
  "experiment.update": { before: ExperimentDefinition; after: ExperimentDefinition };
  "experiment.start": { before: ExperimentState; after: ExperimentState };
  "experiment.stop": { before: ExperimentState; after: ExperimentState };
  "experiment.restart": { before: ExperimentState; after: ExperimentState };
  "experiment.ship": { before: ExperimentState; after: ExperimentState & { variant?: string } };
  "rollout.start": { before: null; after: { surface: string; model: string; version: number; steps: number[] } };
  "rollout.advance": { before: { percent: number }; after: RolloutState };
  "rollout.promoted": { before: { percent: number }; after: RolloutState };
  "rollout.rolled_back": { before: { percent: number }; after: RolloutState };
  "rollout.aborted": { before: { percent: number }; after: RolloutState };
  "seed.demo": { before: null; after: { items: number } };
}

// Every action has a before/after shape, and every shape an action (checked by the compiler).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const ACTIONS_HAVE_SHAPES: Same<AuditAction, keyof AuditChanges> = true;
