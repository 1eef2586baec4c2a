// Who may do what: the console's roles and the permission each procedure declares. Pure data and
// functions, shared by the server (the guard) and the UI (which disables what a role cannot do and
// says why). Admins hold every permission.

export const ROLES = ["viewer", "pm", "ml_engineer", "oncall", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Record<Role, string> = {
  viewer: "Viewer",
  pm: "Product manager",
  ml_engineer: "ML engineer",
  oncall: "On-call",
  admin: "Admin",
};

/**
 * Every permission a procedure or endpoint can require, with the roles that hold it (admin holds
 * all). `public` is not a permission: a procedure open to anonymous callers declares it instead.
 */
export const PERMISSIONS = {
  "console.read": { roles: ["viewer", "pm", "ml_engineer", "oncall"], what: "read dashboards, experiments, models and surfaces" },
  "requests.read": { roles: ["ml_engineer", "oncall"], what: "see logged requests and the features behind them" },
  "audit.read": { roles: ["viewer", "pm", "ml_engineer", "oncall"], what: "read the audit trail" },
  "rerank.serve": { roles: ["ml_engineer", "oncall"], what: "send rerank requests" },
  "events.write": { roles: [], what: "record outcome events" },
  "experiments.write": { roles: ["pm"], what: "create, edit, start and stop experiments" },
  "experiments.ship": { roles: ["pm"], what: "ship an experiment's variant to production" },
  "models.write": { roles: ["ml_engineer"], what: "register models, upload versions, move aliases and run evaluations" },
  "shadow.write": { roles: ["ml_engineer"], what: "configure shadow traffic" },
  "canary.start": { roles: ["ml_engineer"], what: "start a canary rollout" },
  "canary.abort": { roles: ["ml_engineer", "oncall"], what: "pause or abort a canary rollout" },
  // Resuming is an operational lever like pause and abort (on-call answers the judge's deadline pause);
  // promoting now skips the judge, so it stays with the people who start canaries.
  "canary.resume": { roles: ["ml_engineer", "oncall"], what: "resume a paused canary rollout" },
  "canary.promote": { roles: ["ml_engineer"], what: "promote a canary rollout now" },
  "oncall.killSwitch": { roles: ["oncall"], what: "turn a surface's kill switch on or off" },
  "oncall.rollback": { roles: ["oncall"], what: "roll a surface back to an earlier version" },
  "changes.request": { roles: ["pm", "ml_engineer"], what: "request, approve or reject production changes on surfaces that require approval" },
  "users.manage": { roles: [], what: "invite people, change their roles and disable them" },
  "keys.manage": { roles: [], what: "create and revoke API keys" },
  "settings.write": { roles: [], what: "change surface settings such as approvals" },
} as const satisfies Record<string, { roles: readonly Role[]; what: string }>;

export type Permission = keyof typeof PERMISSIONS;
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as Permission[];

/** Permissions a serving key has, whatever else: rerank and events, optionally for some surfaces. */
export const SERVING_PERMISSIONS: readonly Permission[] = ["rerank.serve", "events.write"];

/** True when any of `roles` holds `permission` (admin holds all). */
export function rolesAllow(roles: readonly Role[], permission: Permission): boolean {
  if (roles.includes("admin")) return true;
  const holders: readonly Role[] = PERMISSIONS[permission].roles;
  return roles.some((role) => holders.includes(role));
}

/** Every permission `roles` hold, in declaration order. */
export function permissionsOf(roles: readonly Role[]): Permission[] {
  return PERMISSION_NAMES.filter((p) => rolesAllow(roles, p));
}

/**
 * Why a person lacks a permission, in words the UI shows beside a disabled control:
 * "Needs the On-call or Admin role to turn a surface's kill switch on or off".
 */
export function missingPermissionReason(permission: Permission): string {
  const holders = [...PERMISSIONS[permission].roles, "admin" as const].map((r) => ROLE_LABELS[r]);
  const names = holders.length > 1 ? `${holders.slice(0, -1).join(", ")} or ${holders.at(-1)}` : holders[0];
  return `Needs the ${names} role to ${PERMISSIONS[permission].what}`;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
