// The audit trail's vocabulary: every action the product records, the kind of subject it is
// recorded against, and the shape of its before/after. One table, so a new action is one entry
// here (and one sentence in describe.ts, which the compiler asks for).

export const SUBJECT_KINDS = ["surface", "experiment", "model", "model_version", "rollout", "user", "api_key", "settings", "system", "request", "webhook"] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

/** A person, an API key, one of the console's own jobs, or an unknown caller (a refused sign-in). */
export const ACTOR_KINDS = ["user", "api_key", "system", "anonymous"] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** The console's own jobs, as the audit trail names them (server/audit/actor.ts systemActor takes only these). */
export const SYSTEM_ACTOR_NAMES = ["rollout-analysis", "seed", "first-start", "evaluation", "retention", "db:retention", "models:train-from-logs", "bench"] as const;
export type SystemActorName = (typeof SYSTEM_ACTOR_NAMES)[number];

/**
 * Actor names no API key may take (compared after NFKC and lower-casing): the console's own jobs, and
 * "anonymous" (a refused sign-in's actor). A key named "rollout-analysis" read as the canary judge
 * in the audit trail and in webhooks (break test).
 */
export const RESERVED_ACTOR_NAMES: readonly string[] = [...SYSTEM_ACTOR_NAMES, "anonymous"];

/** Action name → the subject kind its entries name, and a short title for filters and exports. */
export const AUDIT_ACTIONS = {
  "surface.kill_switch": { subject: "surface", title: "Kill switch" },
  "surface.shadow": { subject: "surface", title: "Shadow configured" },
  "surface.stage2": { subject: "surface", title: "Cascade stage 2 configured" },
  "model.create": { subject: "model", title: "Model registered" },
  "model.version.create": { subject: "model_version", title: "Version uploaded" },
  "model.alias.set": { subject: "model", title: "Alias moved" },
  "model.alias.clear": { subject: "model", title: "Alias cleared" },
  "experiment.create": { subject: "experiment", title: "Experiment created" },
  "experiment.update": { subject: "experiment", title: "Experiment edited" },
  "experiment.start": { subject: "experiment", title: "Experiment started" },
  "experiment.stop": { subject: "experiment", title: "Experiment stopped" },
  "experiment.restart": { subject: "experiment", title: "Experiment restarted" },
  "experiment.ship": { subject: "experiment", title: "Experiment shipped" },
  "rollout.start": { subject: "rollout", title: "Canary started" },
  "rollout.advance": { subject: "rollout", title: "Canary widened" },
  "rollout.paused": { subject: "rollout", title: "Canary paused" },
  "rollout.resumed": { subject: "rollout", title: "Canary resumed" },
  "rollout.promoted": { subject: "rollout", title: "Canary promoted" },
  "rollout.rolled_back": { subject: "rollout", title: "Canary rolled back" },
  "rollout.aborted": { subject: "rollout", title: "Canary aborted" },
  "rollout.analysed": { subject: "rollout", title: "Canary judged by hand" },
  "seed.demo": { subject: "system", title: "Demo data seeded" },
  "surface.approvals": { subject: "surface", title: "Approvals required" },
  "user.create": { subject: "user", title: "First admin created" },
  "user.invite": { subject: "user", title: "Person invited" },
  "user.roles": { subject: "user", title: "Roles changed" },
  "user.disable": { subject: "user", title: "Person disabled" },
  "user.enable": { subject: "user", title: "Person enabled" },
  "user.reset_password": { subject: "user", title: "Password reset" },
  "user.change_password": { subject: "user", title: "Own password changed" },
  "user.sign_in": { subject: "user", title: "Signed in" },
  "user.sign_in_failed": { subject: "user", title: "Sign-in refused" },
  "user.sign_out": { subject: "user", title: "Signed out" },
  "api_key.create": { subject: "api_key", title: "API key created" },
  "api_key.revoke": { subject: "api_key", title: "API key revoked" },
  "api_key.rate_limit": { subject: "api_key", title: "API key rate limit set" },
  "change_request.create": { subject: "surface", title: "Change requested" },
  "change_request.approve": { subject: "surface", title: "Change approved" },
  "change_request.reject": { subject: "surface", title: "Change rejected" },
  "change_request.fail": { subject: "surface", title: "Approved change failed" },
  "change_request.cancel": { subject: "surface", title: "Change request withdrawn" },
  "webhook.create": { subject: "webhook", title: "Webhook added" },
  "webhook.update": { subject: "webhook", title: "Webhook edited" },
  "webhook.delete": { subject: "webhook", title: "Webhook deleted" },
  "webhook.rotate_secret": { subject: "webhook", title: "Webhook secret rotated" },
  "webhook.test": { subject: "webhook", title: "Webhook test sent" },
  "retention.drop": { subject: "system", title: "Old data dropped" },
} as const satisfies Record<string, { subject: SubjectKind; title: string }>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

/**
 * Who signed in, out or failed to, from where: read only by those who manage people (users.manage);
 * the rest of the trail is every reader's (a colleague's comings and goings and address are not).
 */
export const SESSION_ACTIONS: readonly AuditAction[] = ["user.sign_in", "user.sign_in_failed", "user.sign_out"];
export const AUDIT_ACTION_NAMES = Object.keys(AUDIT_ACTIONS) as AuditAction[];
export type SubjectKindOf<A extends AuditAction> = (typeof AUDIT_ACTIONS)[A]["subject"];

export function isAuditAction(name: string): name is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, name);
}

type ExperimentState = { status: string; phase: number };
type Stage2State = { model: string; alias: string; rerankCount: number; budgetMs: number };
/** An experiment's definition as submitted (the create/edit form's input). */
type ExperimentDefinition = Record<string, unknown>;
type KeyRateLimit = { rate: number; burst: number | null };
type RolloutState = { surface: string; model?: string; version?: number; percent: number; status: string };

/**
 * What each action stores as before and after. Rows written before this table existed have the
 * same shapes (it was read off the writers), except that fields marked optional may be missing.
 */
export interface AuditChanges {
  "surface.kill_switch": { before: { killSwitch: boolean }; after: { killSwitch: boolean; surface: string } };
  "surface.shadow": { before: { alias: string | null; sampleRate: number }; after: { alias: string | null; sampleRate: number } };
  /** null: no stage 2. */
  "surface.stage2": { before: Stage2State | null; after: Stage2State | null };
  "model.create": { before: null; after: { name: string; owner: string; surface: string | null } };
  "model.version.create": { before: null; after: { model: string; version: number; sha256: string; sizeBytes: number } };
  /** `reached`: every surface the move reached, sorted (the history row's surfaces; [] when the alias serves none); older entries lack it. */
  "model.alias.set": {
    before: { alias: string; versionId: string; version: number } | null;
    after: { alias: string; versionId: string; version: number; model: string; reached?: string[] };
  };
  "model.alias.clear": { before: { alias: string; versionId: string; version: number }; after: { alias: string; model: string; reached?: string[] } };
  "experiment.create": { before: null; after: ExperimentDefinition };
  /** Before: the allocation that was in force; after: the submitted definition. */
  "experiment.update": { before: ExperimentDefinition; after: ExperimentDefinition };
  "experiment.start": { before: ExperimentState; after: ExperimentState };
  "experiment.stop": { before: ExperimentState; after: ExperimentState };
  "experiment.restart": { before: ExperimentState; after: ExperimentState };
  "experiment.ship": { before: ExperimentState; after: ExperimentState & { variant?: string } };
  /** `policy`: the judge's settable fields as started; `nonDefault`: those that differ from the defaults, in words (older entries have neither). */
  "rollout.start": { before: null; after: { surface: string; model: string; version: number; steps: number[]; policy?: Record<string, number>; nonDefault?: string[] } };
  "rollout.advance": { before: { percent: number }; after: RolloutState };
  "rollout.paused": { before: { percent: number }; after: RolloutState };
  "rollout.resumed": { before: { percent: number }; after: RolloutState };
  "rollout.promoted": { before: { percent: number }; after: RolloutState };
  "rollout.rolled_back": { before: { percent: number }; after: RolloutState };
  "rollout.aborted": { before: { percent: number }; after: RolloutState };
  /** "Analyse now": a person had the judge run at once; after: what it decided (its own entries record any change it made). */
  "rollout.analysed": { before: { percent: number }; after: RolloutState & { decision: string } };
  "seed.demo": { before: null; after: { items: number } };
  "surface.approvals": { before: { requireApproval: boolean }; after: { requireApproval: boolean } };
  "user.create": { before: null; after: { email: string; roles: string[] } };
  "user.invite": { before: null; after: { email: string; roles: string[] } };
  "user.roles": { before: { roles: string[] }; after: { roles: string[] } };
  /** revokedKeys: how many of the person's API keys the disable revoked (since 2026-12-01; each has its own api_key.revoke entry). */
  "user.disable": { before: { disabled: boolean }; after: { disabled: boolean; revokedKeys?: number } };
  "user.enable": { before: { disabled: boolean }; after: { disabled: boolean } };
  "user.reset_password": { before: null; after: null };
  /** A person changing their own password (the actor is the subject); the password is never recorded. */
  "user.change_password": { before: null; after: null };
  /** A person's sign-in (the actor is the subject; the client address is the entry's). */
  "user.sign_in": { before: null; after: null };
  /**
   * A refused sign-in as a person who exists (the actor is whoever tried: "anonymous" and the client
   * address). `reason` of the entry: "wrong password" or "disabled". Attempts naming nobody are not
   * recorded (what was typed is not kept: a password typed into the email field would be).
   */
  "user.sign_in_failed": { before: null; after: null };
  "user.sign_out": { before: null; after: null };
  /** rateLimit: since 2026-12-02 (entries before it have none: no key had a limit). */
  "api_key.create": { before: null; after: { kind: string; roles: string[]; surfaces: string[]; expiresAt: string | null; rateLimit?: KeyRateLimit | null } };
  "api_key.revoke": { before: null; after: { revokedAt: string } };
  /** A serving key's rate limit before and after (null: none; burst null: one second's worth). */
  "api_key.rate_limit": { before: { rateLimit: KeyRateLimit | null }; after: { rateLimit: KeyRateLimit | null } };
  "change_request.create": { before: null; after: ChangeRequestFacts };
  "change_request.approve": { before: null; after: ChangeRequestFacts };
  "change_request.reject": { before: null; after: ChangeRequestFacts };
  "change_request.fail": { before: null; after: ChangeRequestFacts & { error: string } };
  "change_request.cancel": { before: null; after: ChangeRequestFacts };
  "webhook.create": { before: null; after: WebhookFacts };
  /** urlChanged: the URL was replaced (both are shown masked to their host, which may not differ). */
  "webhook.update": { before: WebhookFacts; after: WebhookFacts & { urlChanged?: boolean } };
  "webhook.delete": { before: WebhookFacts; after: null };
  "webhook.rotate_secret": { before: null; after: null };
  /** A test delivery queued by hand: the event it sends. */
  "webhook.test": { before: null; after: { eventId: string } };
  "retention.drop": { before: null; after: { retentionDays: number; keptFrom: string; dropped: string[]; webhookDeliveries: number; webhookEvents: number; errorMinutes?: number } };
}

/** A webhook endpoint as its audit entries record it: the URL masked (it may carry a token), never the secret. */
type WebhookFacts = { name: string; url: string; format: string; eventKinds: string[]; enabled: boolean };

/** A change request as its audit entries record it: what it changes, in words, and who asked. */
type ChangeRequestFacts = { id: string; summary: string; requestedBy?: string };

// Every action has a before/after shape, and every shape an action (checked by the compiler).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const ACTIONS_HAVE_SHAPES: Same<AuditAction, keyof AuditChanges> = true;
