import { describe, expect, it } from "vitest";
import { describeWebhookEvent, slackBody, slackEscape, standardWebhookBody, WEBHOOK_EVENT_KIND_NAMES, type WebhookEventFacts, type WebhookEventInput } from "./events";

const at = new Date("2026-11-29T14:02:00.000Z");
const facts = (e: WebhookEventInput): WebhookEventFacts => ({ ...e, id: "msg_1", occurredAt: at });
const canary = { rolloutId: "r1", surface: "search", model: "search-ranker", version: 3 };

// One event per kind, and the sentence it reads as.
const CASES: Array<[WebhookEventInput, string, string | null]> = [
  [{ kind: "canary.step", actor: "ml@corp", data: { ...canary, fromPercent: 0, toPercent: 1 } }, "Canary of search-ranker v3 on search started at 1% (ml@corp)", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.step", actor: "rollout-analysis", data: { ...canary, fromPercent: 5, toPercent: 25 } }, "Canary of search-ranker v3 on search widened from 5% to 25% (rollout-analysis)", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.promoted", actor: "rollout-analysis", data: { ...canary, alias: "production" } }, "Canary of search-ranker v3 on search promoted: v3 is now production (rollout-analysis)", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.promoted", actor: "rollout-analysis", data: { ...canary, alias: "production", surfaces: ["home-feed", "search"] } }, "Canary of search-ranker v3 on search promoted: v3 is now production; it also serves home-feed (rollout-analysis)", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.rolled_back", actor: "bo@corp", data: { ...canary, percent: 5, mode: "rollback" } }, "Canary of search-ranker v3 on search aborted: bo@corp rolled back the serving alias it is judged against at 5%", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.paused", actor: "rollout-analysis", data: { ...canary, percent: 5, mode: "automatic" } }, "Canary of search-ranker v3 on search paused by its analysis at 5%: it keeps its traffic until resumed, promoted or aborted", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.paused", actor: "bo@corp", data: { ...canary, percent: 25, mode: "manual" } }, "Canary of search-ranker v3 on search paused by bo@corp at 25%: it keeps its traffic until resumed, promoted or aborted", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.resumed", actor: "bo@corp", data: { ...canary, percent: 25 } }, "Canary of search-ranker v3 on search resumed by bo@corp at 25%", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.rolled_back", actor: "rollout-analysis", data: { ...canary, percent: 5, mode: "automatic" } }, "Canary of search-ranker v3 on search rolled back by its analysis at 5%", "/dashboards/oncall#surface-search"],
  [{ kind: "canary.rolled_back", actor: "bo@corp", data: { ...canary, percent: 25, mode: "manual" } }, "Canary of search-ranker v3 on search aborted by bo@corp at 25%", "/dashboards/oncall#surface-search"],
  [{ kind: "rollback", actor: "bo@corp", data: { surface: "search", model: "search-ranker", alias: "production", fromVersion: 3, toVersion: 2 } }, "bo@corp rolled search back: search-ranker production v3 → v2", "/dashboards/oncall#surface-search"],
  // An alias serving two surfaces moves both: the text says so.
  [{ kind: "rollback", actor: "bo@corp", data: { surface: "search", surfaces: ["search", "home-feed"], model: "search-ranker", alias: "production", fromVersion: 3, toVersion: 2 } }, "bo@corp rolled search back (also serves home-feed): search-ranker production v3 → v2", "/dashboards/oncall#surface-search"],
  [{ kind: "rollback", actor: "bo@corp", data: { surface: "product-search", stage: 2, model: "demo-cross-encoder", alias: "production", fromVersion: 2, toVersion: 1 } }, "bo@corp rolled product-search's stage 2 back: demo-cross-encoder production v2 → v1", "/dashboards/oncall#surface-product-search"],
  [{ kind: "kill_switch", actor: "bo@corp", data: { surface: "search", on: true } }, "bo@corp turned the kill switch ON for search: it serves retrieval order", "/dashboards/oncall#surface-search"],
  [{ kind: "kill_switch", actor: "bo@corp", data: { surface: "search", on: false } }, "bo@corp turned the kill switch off for search: models serve again", "/dashboards/oncall#surface-search"],
  [{ kind: "experiment.shipped", actor: "pm@corp", data: { experiment: "ctr-test", surface: "search", variant: "treatment", model: "search-ranker", version: 3, alias: "production" } }, "pm@corp shipped variant treatment of experiment ctr-test: search-ranker v3 is now production on search", "/experiments/ctr-test"],
  [{ kind: "experiment.srm_alarm", actor: "experiment-analysis", data: { experiment: "ctr-test", surface: "search", phase: 1, pValue: 2.54e-10, units: { control: 40, treatment: 0 } } }, "Sample-ratio mismatch in experiment ctr-test on search (phase 1, p = 2.5e-10; units control 40, treatment 0): assignment is off, its results cannot be trusted", "/experiments/ctr-test"],
  [{ kind: "alias.moved", actor: "ml@corp", data: { model: "search-ranker", alias: "canary", fromVersion: null, toVersion: 3, surfaces: ["search"] } }, "ml@corp moved search-ranker canary from nothing to v3", "/models/search-ranker"],
  [{ kind: "webhook.test", actor: "admin@corp", data: { endpoint: "ops chat" } }, 'Test message from Rerank Console to the endpoint "ops chat" (admin@corp)', null],
];

describe("webhook events", () => {
  it("has a case for every kind", () => {
    for (const kind of WEBHOOK_EVENT_KIND_NAMES) expect(CASES.some(([e]) => e.kind === kind), kind).toBe(true);
  });

  it.each(CASES.map(([e, text, href]) => [e.kind, e, text, href] as const))("says %s in words", (_kind, event, text, href) => {
    expect(describeWebhookEvent(event)).toEqual({ text, href });
  });

  it("builds the Standard Webhooks body: type, ISO timestamp, data with actor and reason", () => {
    expect(standardWebhookBody(facts({ kind: "kill_switch", actor: "bo@corp", reason: "INC-7", data: { surface: "search", on: true } }))).toEqual({
      type: "kill_switch", timestamp: "2026-11-29T14:02:00.000Z", data: { surface: "search", on: true, actor: "bo@corp", reason: "INC-7" },
    });
    expect(standardWebhookBody(facts({ kind: "kill_switch", actor: "bo@corp", data: { surface: "search", on: false } })).data.reason).toBeNull();
  });

  it("builds Slack's {text, blocks}, escaping mrkdwn and linking the console when its address is known", () => {
    const event = facts({ kind: "rollback", actor: "bo@corp", reason: "p99 > 200ms & CTR <1%", data: { surface: "search", model: "m", alias: "production", fromVersion: 3, toVersion: 2 } });
    expect(slackBody(event, "https://rerank.example.com")).toEqual({
      text: "bo@corp rolled search back: m production v3 → v2: p99 > 200ms & CTR <1%",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "*bo@corp rolled search back: m production v3 → v2*\n>p99 &gt; 200ms &amp; CTR &lt;1% <https://rerank.example.com/dashboards/oncall#surface-search|Open in Rerank Console>" } },
        { type: "context", elements: [{ type: "mrkdwn", text: "rollback · 2026-11-29T14:02:00.000Z · msg_1" }] },
      ],
    });
    expect(slackBody(event, null).blocks[0]).toEqual({ type: "section", text: { type: "mrkdwn", text: "*bo@corp rolled search back: m production v3 → v2*\n>p99 &gt; 200ms &amp; CTR &lt;1%" } });
    expect(slackEscape("<@here> & co")).toBe("&lt;@here&gt; &amp; co");
  });
});
