import type { SubjectKind } from "./actions";

// What an audit entry is about: a kind, the row's id and a label a person recognises. The label is
// built here and read back here (for links), so its format is written once.

export interface AuditSubject<K extends SubjectKind = SubjectKind> {
  kind: K;
  id: string;
  /** Surface key, experiment key, model name, "search-ranker v3", "search-ranker v3 on search"… */
  label: string;
}

export const subjects = {
  surface: (id: string, key: string): AuditSubject<"surface"> => ({ kind: "surface", id, label: key }),
  experiment: (id: string, key: string): AuditSubject<"experiment"> => ({ kind: "experiment", id, label: key }),
  model: (id: string, name: string): AuditSubject<"model"> => ({ kind: "model", id, label: name }),
  modelVersion: (id: string, model: string, version: number): AuditSubject<"model_version"> => ({ kind: "model_version", id, label: `${model} v${version}` }),
  rollout: (id: string, model: string, version: number, surface: string): AuditSubject<"rollout"> => ({ kind: "rollout", id, label: `${model} v${version} on ${surface}` }),
  user: (id: string, email: string): AuditSubject<"user"> => ({ kind: "user", id, label: email }),
  apiKey: (id: string, name: string): AuditSubject<"api_key"> => ({ kind: "api_key", id, label: name }),
  settings: (id: string, name: string): AuditSubject<"settings"> => ({ kind: "settings", id, label: name }),
  system: (id: string, name: string): AuditSubject<"system"> => ({ kind: "system", id, label: name }),
  /** A served rerank request: its id is its label. */
  request: (requestId: string): AuditSubject<"request"> => ({ kind: "request", id: requestId, label: requestId }),
  webhook: (id: string, name: string): AuditSubject<"webhook"> => ({ kind: "webhook", id, label: name }),
};

const VERSION_LABEL = /^(.+) v(\d+)$/;
const ROLLOUT_LABEL = /^(.+) v(\d+) on (.+)$/;

/** A model version label ("search-ranker v3") read back, or null if the label has another form. */
export function parseVersionLabel(label: string): { model: string; version: number } | null {
  const m = VERSION_LABEL.exec(label);
  return m ? { model: m[1]!, version: Number(m[2]) } : null;
}

/** A rollout label ("search-ranker v3 on search") read back, or null. */
export function parseRolloutLabel(label: string): { model: string; version: number; surface: string } | null {
  const m = ROLLOUT_LABEL.exec(label);
  return m ? { model: m[1]!, version: Number(m[2]), surface: m[3]! } : null;
}

export const hrefs = {
  surface: (key: string) => `/dashboards/oncall#surface-${encodeURIComponent(key)}`,
  shadow: (surface: string) => `/shadow?surface=${encodeURIComponent(surface)}`,
  experiment: (key: string) => `/experiments/${encodeURIComponent(key)}`,
  model: (name: string) => `/models/${encodeURIComponent(name)}`,
  modelVersion: (name: string, version: number) => `/models/${encodeURIComponent(name)}/v/${version}`,
  /**
   * The Debug page opened on one logged request; with `ts` (the row's log time) and `owner` (its
   * owner key, '' when shared) on that exact row, since a client-chosen id can be shared by several
   * rows, two of them in one millisecond.
   */
  request: (requestId: string, ts?: Date | string, owner?: string) =>
    `/dashboards/debug?request=${encodeURIComponent(requestId)}${ts ? `&at=${encodeURIComponent(new Date(ts).toISOString())}` : ""}${ts && owner !== undefined ? `&owner=${encodeURIComponent(owner)}` : ""}`,
  /** One shadow comparison side by side. */
  shadowComparison: (requestId: string, versionId: string, ts?: Date | string, owner?: string) =>
    `/shadow/compare?request=${encodeURIComponent(requestId)}&version=${encodeURIComponent(versionId)}${ts ? `&at=${encodeURIComponent(new Date(ts).toISOString())}` : ""}${ts && owner !== undefined ? `&owner=${encodeURIComponent(owner)}` : ""}`,
  webhooks: () => "/settings/webhooks",
};

/**
 * The console page of a subject, or null where the console has none (yet): a surface → its card
 * on the On-call page, a rollout → its surface's card there (where canaries are run), a request →
 * the Debug page opened on it.
 */
export function subjectHref(subject: { kind: string; label: string }): string | null {
  switch (subject.kind) {
    case "surface":
      return hrefs.surface(subject.label);
    case "experiment":
      return hrefs.experiment(subject.label);
    case "model":
      return hrefs.model(subject.label);
    case "model_version": {
      const v = parseVersionLabel(subject.label);
      return v ? hrefs.modelVersion(v.model, v.version) : null;
    }
    case "rollout": {
      const r = parseRolloutLabel(subject.label);
      return r ? hrefs.surface(r.surface) : null;
    }
    case "request":
      return hrefs.request(subject.label);
    case "webhook":
      return hrefs.webhooks();
    default:
      return null;
  }
}
