import { describeRateLimit } from "../admission/rateLimit";
import { canonicalJson } from "../canonicalJson";
import { isAuditAction, type AuditAction, type AuditChanges } from "./actions";
import { hrefs, parseRolloutLabel, subjectHref } from "./subject";

// An audit entry said in words: "ana@corp moved search-ranker production from v2 to v1", with the
// subject and versions as links, and its before/after as readable field rows. Stored rows are read
// defensively: an older row may lack a field, and its words fall back to the subject's label.

/** An entry as stored (plain data: what the Audit page, the On-call page and the CSV export read). */
export interface AuditEntryFacts {
  action: string;
  actor: { kind: string; name: string };
  subject: { kind: string; id: string; label: string };
  surfaces: string[];
  before: unknown;
  after: unknown;
  reason: string | null;
}

/** A piece of the sentence; with `href`, a link to the console page of what it names. */
export interface Phrase {
  text: string;
  href?: string;
}

export interface DetailRow {
  /** The field in words ("kill switch", "sample rate"). */
  field: string;
  /** Formatted values; null where that side has none (a creation has no before). */
  before: string | null;
  after: string | null;
}

export interface AuditDescription {
  /** The sentence, starting with the actor's name. */
  parts: Phrase[];
  /** The same sentence as plain text. */
  text: string;
  /** What changed, one row per field (for a creation: what was created). */
  details: DetailRow[];
}

type Loose<T> = T extends null ? null : Partial<NonNullable<T>> | null;
type Sentence<A extends AuditAction> = (s: { before: Loose<AuditChanges[A]["before"]>; after: Loose<AuditChanges[A]["after"]>; subject: AuditEntryFacts["subject"]; surfaces: string[] }) => Array<Phrase | string>;

/** What the canary analysis decided, in words (server/domain/rollouts/judge.ts StepVerdict's decisions, and "skipped"). */
function judgeDecisionWords(after: { decision?: string; status?: string; percent?: number } | null): string {
  switch (after?.decision) {
    case undefined:
      return "";
    case "wait":
      return ": not enough data yet, it waits";
    case "advance":
      return after?.status === "promoted" ? ": passed, promoted" : `: passed, widened to ${after?.percent ?? "?"}%`;
    case "fail":
      return ": failed, rolled back";
    case "pause":
      return ": paused for on-call (a required metric still lacks data past the step's deadline)";
    case "skipped":
      return ": nothing to judge (paused, ended, or the kill switch on)";
    case "judging":
      return ": its judge was already at it";
    default:
      return `: ${after?.decision}`;
  }
}

const link = (text: string, href: string | null | undefined): Phrase => (href ? { text, href } : { text });
const pct = (v: number | undefined) => (v === undefined ? "?%" : `${Number((v * 100).toFixed(2))}%`);
const subjectLink = (subject: AuditEntryFacts["subject"]) => link(subject.label, subjectHref(subject));

/** "search-ranker v3 on search" as two links (the version, the surface), or the plain label. */
function rolloutPhrases(subject: AuditEntryFacts["subject"], after: { model?: string; version?: number; surface?: string } | null): Array<Phrase | string> {
  const parsed = parseRolloutLabel(subject.label);
  const model = after?.model ?? parsed?.model;
  const version = after?.version ?? parsed?.version;
  const surface = after?.surface ?? parsed?.surface;
  if (!model || version === undefined || !surface) return [subjectLink(subject)];
  return [link(`${model} v${version}`, hrefs.modelVersion(model, version)), " on ", link(surface, hrefs.surface(surface))];
}

function experimentState(verb: string): Sentence<"experiment.start" | "experiment.stop"> {
  return ({ subject }) => [`${verb} experiment `, subjectLink(subject)];
}

const SENTENCES: { [A in AuditAction]: Sentence<A> } = {
  "surface.kill_switch": ({ after, subject }) => [`turned ${after?.killSwitch ? "on" : "off"} the kill switch of `, subjectLink(subject)],
  "surface.shadow": ({ before, after, subject }) => {
    const surface = link(subject.label, hrefs.shadow(subject.label));
    const was = before?.alias ? `${before.alias} at ${pct(before.sampleRate)}` : null;
    if (!after?.alias) return was ? ["stopped mirroring ", surface, ` to a shadow (was ${was})`] : ["left shadow mirroring off on ", surface];
    const now = `${after.alias} at ${pct(after.sampleRate)}`;
    return was ? ["changed the shadow of ", surface, ` from ${was} to ${now}`] : ["started mirroring ", surface, ` to ${now}`];
  },
  "surface.stage2": ({ before, after, subject }) => {
    const stage = (s: NonNullable<typeof after>) => `${s.model} ${s.alias} over the top ${s.rerankCount} within ${s.budgetMs} ms`;
    if (!after) return before ? ["removed stage 2 (", stage(before), ") from ", subjectLink(subject)] : ["left ", subjectLink(subject), " without a stage 2"];
    return [before ? "changed stage 2 of " : "added a stage 2 to ", subjectLink(subject), `: ${stage(after)}`];
  },
  "model.create": ({ after, subject }) => ["registered model ", subjectLink(subject), after?.surface ? ` for ${after.surface}` : ""],
  "model.version.create": ({ subject }) => ["uploaded ", subjectLink(subject)],
  "model.alias.set": ({ before, after, subject }) => {
    const model = after?.model ?? subject.label;
    const alias = after?.alias ?? "an alias";
    const v = (n: number | undefined) => (n === undefined ? link("a version", null) : link(`v${n}`, hrefs.modelVersion(model, n)));
    const name = link(model, hrefs.model(model));
    if (!before || before.version === undefined) return ["pointed ", name, ` ${alias} at `, v(after?.version)];
    if (before.version === after?.version) return ["re-pointed ", name, ` ${alias} at `, v(after?.version), " (unchanged)"];
    return ["moved ", name, ` ${alias} from `, v(before.version), " to ", v(after?.version)];
  },
  "model.alias.clear": ({ before, after, subject }) => {
    const model = after?.model ?? subject.label;
    return ["cleared ", link(model, hrefs.model(model)), ` ${after?.alias ?? before?.alias ?? "an alias"}`, before?.version !== undefined ? ` (was v${before.version})` : ""];
  },
  "experiment.create": ({ subject }) => ["created experiment ", subjectLink(subject)],
  "experiment.update": ({ subject }) => ["edited experiment ", subjectLink(subject)],
  "experiment.start": ({ before, after, subject }) => [before?.status === "stopped" ? "resumed experiment " : "started experiment ", subjectLink(subject), after?.phase && after.phase > 1 ? ` (phase ${after.phase})` : ""],
  "experiment.stop": experimentState("stopped"),
  "experiment.restart": ({ after, subject }) => ["restarted experiment ", subjectLink(subject), ` with a new allocation${after?.phase ? ` (phase ${after.phase})` : ""}`],
  "experiment.ship": ({ after, subject }) => (after?.variant ? [`shipped variant ${after.variant} of experiment `, subjectLink(subject)] : ["shipped experiment ", subjectLink(subject)]),
  "rollout.start": ({ after, subject }) => ["started a canary of ", ...rolloutPhrases(subject, after), after?.steps?.length ? ` (steps ${after.steps.join(" → ")}%)` : "", after?.nonDefault?.length ? `; judge policy: ${after.nonDefault.join(", ")}` : ""],
  "rollout.advance": ({ before, after, subject }) => ["widened the canary of ", ...rolloutPhrases(subject, after), ` from ${before?.percent ?? "?"}% to ${after?.percent ?? "?"}%`],
  "rollout.paused": ({ after, subject }) => ["paused the canary of ", ...rolloutPhrases(subject, after), after?.percent !== undefined ? ` at ${after.percent}%` : ""],
  "rollout.resumed": ({ after, subject }) => ["resumed the canary of ", ...rolloutPhrases(subject, after), after?.percent !== undefined ? ` at ${after.percent}%` : ""],
  "rollout.promoted": ({ after, subject }) => ["promoted the canary of ", ...rolloutPhrases(subject, after), " to all traffic"],
  "rollout.rolled_back": ({ before, after, subject }) => ["rolled back the canary of ", ...rolloutPhrases(subject, after), before?.percent !== undefined ? ` at ${before.percent}%` : ""],
  "rollout.aborted": ({ before, after, subject }) => ["aborted the canary of ", ...rolloutPhrases(subject, after), before?.percent !== undefined ? ` at ${before.percent}%` : ""],
  "rollout.analysed": ({ before, after, subject }) => [
    "had the canary of ", ...rolloutPhrases(subject, after), " judged now", before?.percent !== undefined ? ` at ${before.percent}%` : "", judgeDecisionWords(after),
  ],
  "surface.approvals": ({ after, subject }) => [after?.requireApproval ? "required approvals for production changes on " : "stopped requiring approvals on ", subjectLink(subject)],
  "user.create": ({ after, subject }) => ["created the first admin ", subjectLink(subject), after?.roles ? ` (${after.roles.join(", ")})` : ""],
  "user.invite": ({ after, subject }) => ["invited ", subjectLink(subject), after?.roles ? ` as ${after.roles.join(", ")}` : ""],
  "user.roles": ({ before, after, subject }) => ["changed the roles of ", subjectLink(subject), ` from ${before?.roles?.join(", ") || "none"} to ${after?.roles?.join(", ") || "none"}`],
  "user.disable": ({ subject, after }) => [
    "disabled ", subjectLink(subject),
    after?.revokedKeys === undefined ? " (signed out everywhere, keys refused)" : ` (signed out everywhere, ${after.revokedKeys === 1 ? "1 API key" : `${after.revokedKeys} API keys`} revoked)`,
  ],
  "user.enable": ({ subject }) => ["enabled ", subjectLink(subject)],
  "user.reset_password": ({ subject }) => ["reset the password of ", subjectLink(subject)],
  "user.change_password": () => ["changed their own password"],
  "user.sign_in": () => ["signed in"],
  "user.sign_in_failed": ({ subject }) => ["tried to sign in as ", subjectLink(subject), " and was refused"],
  "user.sign_out": () => ["signed out"],
  "api_key.create": ({ after, subject }) => [
    `created ${after?.kind ?? ""} API key `.replace("  ", " "), subjectLink(subject), after?.surfaces?.length ? ` for ${after.surfaces.join(", ")}` : "", after?.roles?.length ? ` acting as ${after.roles.join(", ")}` : "",
    after?.rateLimit ? `, limited to ${describeRateLimit(after.rateLimit)}` : "",
  ],
  "api_key.revoke": ({ subject }) => ["revoked API key ", subjectLink(subject)],
  "api_key.rate_limit": ({ before, after, subject }) => [
    after?.rateLimit ? "limited API key " : "removed the rate limit of API key ", subjectLink(subject),
    after?.rateLimit ? ` to ${describeRateLimit(after.rateLimit)}` : "", before?.rateLimit ? ` (was ${describeRateLimit(before.rateLimit)})` : after?.rateLimit ? " (was unlimited)" : "",
  ],
  "change_request.create": ({ after, subject }) => ["requested approval on ", subjectLink(subject), after?.summary ? `: ${after.summary}` : ""],
  "change_request.approve": ({ after, subject }) => ["approved and applied on ", subjectLink(subject), after?.summary ? `: ${after.summary}` : "", after?.requestedBy ? ` (requested by ${after.requestedBy})` : ""],
  "change_request.reject": ({ after, subject }) => ["rejected on ", subjectLink(subject), after?.summary ? `: ${after.summary}` : "", after?.requestedBy ? ` (requested by ${after.requestedBy})` : ""],
  "change_request.fail": ({ after, subject }) => ["approved on ", subjectLink(subject), after?.summary ? `: ${after.summary}` : "", `, but applying it failed: ${after?.error ?? "unknown error"}`],
  "change_request.cancel": ({ after, subject }) => ["withdrew their request on ", subjectLink(subject), after?.summary ? `: ${after.summary}` : ""],
  "webhook.create": ({ after, subject }) => ["added webhook ", subjectLink(subject), after?.url ? ` to ${after.url}` : "", after?.eventKinds?.length ? ` for ${after.eventKinds.join(", ")}` : ""],
  "webhook.update": ({ subject, after }) => ["edited webhook ", subjectLink(subject), after?.urlChanged ? " (its URL changed)" : ""],
  "webhook.delete": ({ subject }) => ["deleted webhook ", subjectLink(subject)],
  "webhook.rotate_secret": ({ subject }) => ["rotated the signing secret of webhook ", subjectLink(subject)],
  "webhook.test": ({ subject }) => ["sent a test delivery to webhook ", subjectLink(subject)],
  "retention.drop": ({ after }) => [
    `dropped ${after?.dropped?.length ?? 0} day partitions of the request, event and shadow logs older than ${after?.keptFrom ?? "the retention period"}`,
    after?.retentionDays !== undefined ? ` (keeping ${after.retentionDays} days)` : "",
    after?.webhookDeliveries ? ` and ${after.webhookDeliveries} webhook deliveries` : "",
    after?.errorMinutes ? `, ${after.errorMinutes} minutes of the 5xx tally` : "",
  ],
  "seed.demo": ({ after }) => [`seeded the demo data${after?.items !== undefined ? ` (${after.items.toLocaleString("en-US")} catalog items)` : ""}`],
};

const asObject = (v: unknown): Record<string, unknown> | null => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

/** "killSwitch" → "kill switch", "sha256" stays. */
export function fieldName(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
}

const FIELD_FORMATS: Record<string, (v: unknown) => string | null> = {
  killSwitch: (v) => (typeof v === "boolean" ? (v ? "on" : "off") : null),
  sampleRate: (v) => (typeof v === "number" ? pct(v) : null),
  coverage: (v) => (typeof v === "number" ? pct(v) : null),
  percent: (v) => (typeof v === "number" ? `${v}%` : null),
  version: (v) => (typeof v === "number" ? `v${v}` : null),
  sizeBytes: (v) => (typeof v === "number" ? `${(v / 1024).toFixed(1)} KiB` : null),
  steps: (v) => (Array.isArray(v) ? `${v.join(" → ")}%` : null),
};

/** A stored value in words: lists joined, objects as "field: value" pairs, no JSON punctuation. */
export function formatValue(value: unknown, key?: string): string {
  const special = key ? FIELD_FORMATS[key]?.(value) : null;
  if (special) return special;
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isFinite(value) ? String(Number(value.toPrecision(12))) : String(value);
  if (typeof value === "string") return value === "" ? "(empty)" : value;
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.map((v) => formatValue(v)).join(value.some((v) => asObject(v)) ? "; " : ", ");
  const object = asObject(value)!;
  const entries = Object.entries(object).filter(([, v]) => v !== undefined);
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${fieldName(k)} ${asObject(v) ? `(${formatValue(v, k)})` : formatValue(v, k)}`).join(", ");
}

/** A value with its object keys sorted and missing fields (undefined or null) dropped, for comparing. */
const same = (a: unknown, b: unknown) => canonicalJson(a ?? null, { omitNull: true }) === canonicalJson(b ?? null, { omitNull: true });

/** Row ids ("versionId") repeat what a readable field beside them says; the CSV keeps them. */
const shown = (o: Record<string, unknown> | null) => (o ? Object.fromEntries(Object.entries(o).filter(([k]) => !/Id$/.test(k))) : null);

/**
 * Field rows of a change. A creation (no before) lists what was created; otherwise the fields
 * both sides have and whose values differ (fields only one side carries are context, such as
 * the surface's key next to its kill switch, not changes). Top-level row ids are left out.
 */
export function changedFields(before: unknown, after: unknown): DetailRow[] {
  const b = shown(asObject(before));
  const a = shown(asObject(after));
  if (!a && !b) return [];
  if (!b) return Object.entries(a!).filter(([, v]) => v !== undefined).map(([k, v]) => ({ field: fieldName(k), before: null, after: formatValue(v, k) }));
  if (!a) return Object.entries(b).map(([k, v]) => ({ field: fieldName(k), before: formatValue(v, k), after: null }));
  return Object.keys(b)
    .filter((k) => k in a && !same(b[k], a[k]))
    .map((k) => ({ field: fieldName(k), before: formatValue(b[k], k), after: formatValue(a[k], k) }));
}

/** The entry in words, with links to what it names, and its changed fields. */
export function describeAuditEntry(entry: AuditEntryFacts): AuditDescription {
  const sentence = isAuditAction(entry.action)
    ? (SENTENCES[entry.action] as Sentence<AuditAction>)({ before: asObject(entry.before) as never, after: asObject(entry.after) as never, subject: entry.subject, surfaces: entry.surfaces })
    : [`recorded ${entry.action} on ${fieldName(entry.subject.kind)} `, subjectLink(entry.subject)];
  const parts: Phrase[] = [{ text: `${entry.actor.name} ` }, ...sentence.filter((p) => p !== "").map((p) => (typeof p === "string" ? { text: p } : p))];
  return { parts, text: parts.map((p) => p.text).join(""), details: changedFields(entry.before, entry.after) };
}
