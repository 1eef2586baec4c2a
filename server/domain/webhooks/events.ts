import { hrefs } from "../audit/subject";

// What the console notifies about, and how a notification reads: the event kinds endpoints
// subscribe to, the data each carries, the Standard Webhooks body and the Slack-compatible body.
// Pure: the service (server/webhooks/) stores events and delivers them.

/** Event kind → a title for the Settings page and what it means, in a line. */
export const WEBHOOK_EVENT_KINDS = {
  "canary.step": { title: "Canary step", what: "a canary started at its first share of traffic or widened to the next" },
  "canary.promoted": { title: "Canary promoted", what: "a canary passed every step: its version now serves" },
  "canary.paused": { title: "Canary paused", what: "a canary stopped being judged: paused by a person, or by its analysis at a step deadline when a required metric lacked data" },
  "canary.resumed": { title: "Canary resumed", what: "a paused canary is judged again (its step gets a fresh deadline)" },
  "canary.rolled_back": { title: "Canary rolled back", what: "a canary was rolled back by its analysis (automatic) or aborted by a person (manual)" },
  rollback: { title: "Rollback", what: "on-call rolled a surface's serving alias (or its cascade's stage 2) back to an earlier version" },
  kill_switch: { title: "Kill switch", what: "a surface's kill switch was turned on or off" },
  "experiment.shipped": { title: "Experiment shipped", what: "an experiment's variant was shipped to production" },
  "experiment.srm_alarm": { title: "Sample-ratio alarm", what: "an experiment's sample-ratio check failed (once per analysis phase)" },
  "alias.moved": { title: "Alias moved", what: "any model alias moved, the moves of rollbacks, ships and canaries included" },
} as const;

export type WebhookEventKind = keyof typeof WEBHOOK_EVENT_KINDS;
export const WEBHOOK_EVENT_KIND_NAMES = Object.keys(WEBHOOK_EVENT_KINDS) as WebhookEventKind[];
/** Sent only by "Send test", to the one endpoint tested; nobody subscribes to it. */
export const TEST_EVENT_KIND = "webhook.test";

export const WEBHOOK_FORMATS = {
  standard: "Standard Webhooks JSON: {type, timestamp, data}",
  slack: "Slack-compatible: {text, blocks} (Slack, Mattermost, Rocket.Chat incoming webhooks)",
} as const;
export type WebhookFormat = keyof typeof WEBHOOK_FORMATS;

interface Canary {
  rolloutId: string;
  surface: string;
  model: string;
  version: number;
}

/** The data of each kind. Every event also says who acted and why (`actor`, `reason`). */
export interface WebhookEventData {
  "canary.step": Canary & { fromPercent: number; toPercent: number };
  /** `surfaces`: every surface the promotion's alias move reaches (as alias.moved names them), the rollout's own among them. */
  "canary.promoted": Canary & { alias: string; surfaces?: string[] };
  "canary.paused": Canary & { percent: number; mode: "automatic" | "manual" };
  "canary.resumed": Canary & { percent: number };
  /** mode "rollback": aborted because an on-call rollback moved the serving alias it is judged against. */
  "canary.rolled_back": Canary & { percent: number; mode: "automatic" | "manual" | "rollback" };
  /** `surfaces`: every surface the alias serves, the pressed one first (they all move). */
  /** stage 2: the alias a cascade's stage 2 rescores with was rolled back (absent: the serving alias). */
  rollback: { surface: string; surfaces?: string[]; stage?: 2; model: string; alias: string; fromVersion: number | null; toVersion: number };
  kill_switch: { surface: string; on: boolean };
  "experiment.shipped": { experiment: string; surface: string; variant: string; model: string; version: number; alias: string };
  "experiment.srm_alarm": { experiment: string; surface: string; phase: number; pValue: number; units: Record<string, number> };
  "alias.moved": { model: string; alias: string; fromVersion: number | null; toVersion: number; surfaces: string[] };
  "webhook.test": { endpoint: string };
}

export type AnyEventKind = WebhookEventKind | typeof TEST_EVENT_KIND;

/** An event as raised: its kind, data, who acted and why. */
export type WebhookEventInput<K extends AnyEventKind = AnyEventKind> = {
  [P in K]: { kind: P; data: WebhookEventData[P]; actor: string; reason?: string | null };
}[K];

/** An event as stored and sent: with its id (the webhook-id header) and the time it was raised. */
export type WebhookEventFacts = WebhookEventInput & { id: string; occurredAt: Date };

export function isWebhookEventKind(kind: string): kind is WebhookEventKind {
  return Object.hasOwn(WEBHOOK_EVENT_KINDS, kind);
}

const version = (n: number | null) => (n === null ? "nothing" : `v${n}`);
const percent = (p: number) => `${Number(p.toFixed(2))}%`;

interface Sentence {
  text: string;
  /** The console page it concerns (a path), for a link. */
  href: string | null;
}

/** The event in one sentence, e.g. "ana@corp rolled search back: search-ranker production v3 → v2". */
export function describeWebhookEvent(event: WebhookEventInput): Sentence {
  const by = event.actor;
  switch (event.kind) {
    case "canary.step": {
      const d = event.data;
      const what = d.fromPercent === 0 ? `started at ${percent(d.toPercent)}` : `widened from ${percent(d.fromPercent)} to ${percent(d.toPercent)}`;
      return { text: `Canary of ${d.model} v${d.version} on ${d.surface} ${what} (${by})`, href: hrefs.surface(d.surface) };
    }
    case "canary.promoted": {
      const d = event.data;
      const others = (d.surfaces ?? []).filter((s) => s !== d.surface);
      const also = others.length > 0 ? `; it also serves ${others.join(", ")}` : "";
      return { text: `Canary of ${d.model} v${d.version} on ${d.surface} promoted: v${d.version} is now ${d.alias}${also} (${by})`, href: hrefs.surface(d.surface) };
    }
    case "canary.paused": {
      const d = event.data;
      const how = d.mode === "automatic" ? "paused by its analysis" : `paused by ${by}`;
      return { text: `Canary of ${d.model} v${d.version} on ${d.surface} ${how} at ${percent(d.percent)}: it keeps its traffic until resumed, promoted or aborted`, href: hrefs.surface(d.surface) };
    }
    case "canary.resumed": {
      const d = event.data;
      return { text: `Canary of ${d.model} v${d.version} on ${d.surface} resumed by ${by} at ${percent(d.percent)}`, href: hrefs.surface(d.surface) };
    }
    case "canary.rolled_back": {
      const d = event.data;
      const how = d.mode === "automatic" ? "rolled back by its analysis" : d.mode === "rollback" ? `aborted: ${by} rolled back the serving alias it is judged against` : `aborted by ${by}`;
      return { text: `Canary of ${d.model} v${d.version} on ${d.surface} ${how} at ${percent(d.percent)}`, href: hrefs.surface(d.surface) };
    }
    case "rollback": {
      const d = event.data;
      const others = (d.surfaces ?? []).filter((s) => s !== d.surface);
      const also = others.length > 0 ? ` (also serves ${others.join(", ")})` : "";
      return { text: `${by} rolled ${d.surface}${d.stage === 2 ? "'s stage 2" : ""} back${also}: ${d.model} ${d.alias} ${version(d.fromVersion)} → v${d.toVersion}`, href: hrefs.surface(d.surface) };
    }
    case "kill_switch": {
      const d = event.data;
      const what = d.on ? `turned the kill switch ON for ${d.surface}: it serves retrieval order` : `turned the kill switch off for ${d.surface}: models serve again`;
      return { text: `${by} ${what}`, href: hrefs.surface(d.surface) };
    }
    case "experiment.shipped": {
      const d = event.data;
      return { text: `${by} shipped variant ${d.variant} of experiment ${d.experiment}: ${d.model} v${d.version} is now ${d.alias} on ${d.surface}`, href: hrefs.experiment(d.experiment) };
    }
    case "experiment.srm_alarm": {
      const d = event.data;
      const units = Object.entries(d.units).map(([variant, n]) => `${variant} ${n}`).join(", ");
      return {
        text: `Sample-ratio mismatch in experiment ${d.experiment} on ${d.surface} (phase ${d.phase}, p = ${d.pValue.toPrecision(2)}; units ${units}): assignment is off, its results cannot be trusted`,
        href: hrefs.experiment(d.experiment),
      };
    }
    case "alias.moved": {
      const d = event.data;
      return { text: `${by} moved ${d.model} ${d.alias} from ${version(d.fromVersion)} to v${d.toVersion}`, href: hrefs.model(d.model) };
    }
    case TEST_EVENT_KIND:
      return { text: `Test message from Rerank Console to the endpoint "${event.data.endpoint}" (${by})`, href: null };
  }
}

/** The Standard Webhooks body: `{type, timestamp, data}`; data holds the kind's fields, actor and reason. */
export function standardWebhookBody(event: WebhookEventFacts) {
  return { type: event.kind, timestamp: event.occurredAt.toISOString(), data: { ...event.data, actor: event.actor, reason: event.reason ?? null } };
}

/** Slack's mrkdwn needs &, < and > escaped; everything else is literal. */
export function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * The Slack-compatible body (an incoming webhook's `{text, blocks}`): the sentence, the reason,
 * and a link to the console page when `consoleUrl` (PUBLIC_URL) is known. `text` is the fallback
 * notifications show; blocks are what the channel shows.
 */
export function slackBody(event: WebhookEventFacts, consoleUrl: string | null) {
  const { text, href } = describeWebhookEvent(event);
  const reason = event.reason ? `\n>${slackEscape(event.reason)}` : "";
  const link = consoleUrl && href ? ` <${consoleUrl}${href}|Open in Rerank Console>` : "";
  return {
    text: event.reason ? `${text}: ${event.reason}` : text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${slackEscape(text)}*${reason}${link}` } },
      { type: "context", elements: [{ type: "mrkdwn", text: `${event.kind} · ${event.occurredAt.toISOString()} · ${event.id}` }] },
    ],
  };
}
