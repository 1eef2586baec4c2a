import { describe, expect, it } from "vitest";
import { AUDIT_ACTION_NAMES, AUDIT_ACTIONS, type AuditAction } from "./actions";
import { changedFields, describeAuditEntry, formatValue, type AuditEntryFacts } from "./describe";
import { parseRolloutLabel, parseVersionLabel, subjectHref, subjects } from "./subject";

const user = { kind: "user", name: "ana@corp" };
const analysis = { kind: "system", name: "rollout-analysis" };
const entry = (e: Partial<AuditEntryFacts> & Pick<AuditEntryFacts, "action" | "subject">): AuditEntryFacts => ({ actor: user, surfaces: [], before: null, after: null, reason: null, ...e });

const rollout = subjects.rollout("r1", "search-ranker", 3, "search");
const experiment = subjects.experiment("e1", "ctr-test");

// One case per action (the test below fails when an action has none): the entry, the sentence.
const CASES: Record<AuditAction, Array<[AuditEntryFacts, string]>> = {
  "surface.kill_switch": [
    [entry({ action: "surface.kill_switch", subject: subjects.surface("s1", "search"), before: { killSwitch: false }, after: { killSwitch: true, surface: "search" } }), "ana@corp turned on the kill switch of search"],
    [entry({ action: "surface.kill_switch", subject: subjects.surface("s1", "search"), before: { killSwitch: true }, after: { killSwitch: false, surface: "search" } }), "ana@corp turned off the kill switch of search"],
  ],
  "surface.shadow": [
    [entry({ action: "surface.shadow", subject: subjects.surface("s1", "search"), before: { alias: null, sampleRate: 0 }, after: { alias: "shadow", sampleRate: 0.25 } }), "ana@corp started mirroring search to shadow at 25%"],
    [entry({ action: "surface.shadow", subject: subjects.surface("s1", "search"), before: { alias: "shadow", sampleRate: 0.25 }, after: { alias: "canary", sampleRate: 0.1 } }), "ana@corp changed the shadow of search from shadow at 25% to canary at 10%"],
    [entry({ action: "surface.shadow", subject: subjects.surface("s1", "search"), before: { alias: "shadow", sampleRate: 0.25 }, after: { alias: null, sampleRate: 0 } }), "ana@corp stopped mirroring search to a shadow (was shadow at 25%)"],
    [entry({ action: "surface.shadow", subject: subjects.surface("s1", "search"), before: { alias: null, sampleRate: 0 }, after: { alias: null, sampleRate: 0 } }), "ana@corp left shadow mirroring off on search"],
  ],
  "surface.stage2": [
    [entry({ action: "surface.stage2", subject: subjects.surface("s1", "search"), after: { model: "demo-cross-encoder", alias: "production", rerankCount: 20, budgetMs: 80 } }), "ana@corp added a stage 2 to search: demo-cross-encoder production over the top 20 within 80 ms"],
    [entry({ action: "surface.stage2", subject: subjects.surface("s1", "search"), before: { model: "big-trees", alias: "production", rerankCount: 20, budgetMs: 80 }, after: { model: "big-trees", alias: "production", rerankCount: 50, budgetMs: 40 } }), "ana@corp changed stage 2 of search: big-trees production over the top 50 within 40 ms"],
    [entry({ action: "surface.stage2", subject: subjects.surface("s1", "search"), before: { model: "big-trees", alias: "production", rerankCount: 20, budgetMs: 80 } }), "ana@corp removed stage 2 (big-trees production over the top 20 within 80 ms) from search"],
  ],
  "model.create": [
    [entry({ action: "model.create", subject: subjects.model("m1", "search-ranker"), after: { name: "search-ranker", owner: "ml@corp", surface: "search" } }), "ana@corp registered model search-ranker for search"],
    [entry({ action: "model.create", subject: subjects.model("m1", "lab"), after: { name: "lab", owner: "ml@corp", surface: null } }), "ana@corp registered model lab"],
  ],
  "model.version.create": [
    [entry({ action: "model.version.create", subject: subjects.modelVersion("v3", "search-ranker", 3), after: { model: "search-ranker", version: 3, sha256: "ab", sizeBytes: 2048 } }), "ana@corp uploaded search-ranker v3"],
  ],
  "model.alias.set": [
    [entry({ action: "model.alias.set", subject: subjects.model("m1", "search-ranker"), before: { alias: "production", versionId: "v2", version: 2 }, after: { alias: "production", versionId: "v1", version: 1, model: "search-ranker" } }), "ana@corp moved search-ranker production from v2 to v1"],
    [entry({ action: "model.alias.set", subject: subjects.model("m1", "search-ranker"), after: { alias: "canary", versionId: "v3", version: 3, model: "search-ranker" } }), "ana@corp pointed search-ranker canary at v3"],
    [entry({ action: "model.alias.set", subject: subjects.model("m1", "search-ranker"), before: { alias: "production", versionId: "v2", version: 2 }, after: { alias: "production", versionId: "v2", version: 2, model: "search-ranker" } }), "ana@corp re-pointed search-ranker production at v2 (unchanged)"],
  ],
  "model.alias.clear": [
    [entry({ action: "model.alias.clear", subject: subjects.model("m1", "search-ranker"), before: { alias: "canary", versionId: "v3", version: 3 }, after: { alias: "canary", model: "search-ranker" } }), "ana@corp cleared search-ranker canary (was v3)"],
  ],
  "experiment.create": [[entry({ action: "experiment.create", subject: experiment, after: { key: "ctr-test", name: "CTR test" } }), "ana@corp created experiment ctr-test"]],
  "experiment.update": [[entry({ action: "experiment.update", subject: experiment, before: { name: "CTR" }, after: { name: "CTR test" } }), "ana@corp edited experiment ctr-test"]],
  "experiment.start": [
    [entry({ action: "experiment.start", subject: experiment, before: { status: "draft", phase: 0 }, after: { status: "running", phase: 1 } }), "ana@corp started experiment ctr-test"],
    [entry({ action: "experiment.start", subject: experiment, before: { status: "stopped", phase: 1 }, after: { status: "running", phase: 2 } }), "ana@corp resumed experiment ctr-test (phase 2)"],
  ],
  "experiment.stop": [[entry({ action: "experiment.stop", subject: experiment, before: { status: "running", phase: 1 }, after: { status: "stopped", phase: 1 } }), "ana@corp stopped experiment ctr-test"]],
  "experiment.restart": [[entry({ action: "experiment.restart", subject: experiment, before: { status: "running", phase: 1 }, after: { status: "running", phase: 2 } }), "ana@corp restarted experiment ctr-test with a new allocation (phase 2)"]],
  "experiment.ship": [
    [entry({ action: "experiment.ship", subject: experiment, before: { status: "running", phase: 1 }, after: { status: "shipped", phase: 1, variant: "treatment" } }), "ana@corp shipped variant treatment of experiment ctr-test"],
    // Written before the variant was part of the entry (it was only in the reason).
    [entry({ action: "experiment.ship", subject: experiment, before: { status: "running", phase: 1 }, after: { status: "shipped", phase: 1 } }), "ana@corp shipped experiment ctr-test"],
  ],
  "rollout.start": [[entry({ action: "rollout.start", subject: rollout, after: { surface: "search", model: "search-ranker", version: 3, steps: [1, 5, 25, 50] } }), "ana@corp started a canary of search-ranker v3 on search (steps 1 → 5 → 25 → 50%)"]],
  "rollout.advance": [[entry({ action: "rollout.advance", actor: analysis, subject: rollout, before: { percent: 1 }, after: { surface: "search", percent: 5, status: "running" } }), "rollout-analysis widened the canary of search-ranker v3 on search from 1% to 5%"]],
  "rollout.paused": [[entry({ action: "rollout.paused", subject: rollout, before: { percent: 5 }, after: { surface: "search", percent: 5, status: "paused" } }), "ana@corp paused the canary of search-ranker v3 on search at 5%"]],
  "rollout.resumed": [[entry({ action: "rollout.resumed", subject: rollout, before: { percent: 5 }, after: { surface: "search", percent: 5, status: "running" } }), "ana@corp resumed the canary of search-ranker v3 on search at 5%"]],
  "rollout.promoted": [[entry({ action: "rollout.promoted", actor: analysis, subject: rollout, before: { percent: 50 }, after: { surface: "search", percent: 100, status: "promoted" } }), "rollout-analysis promoted the canary of search-ranker v3 on search to all traffic"]],
  "rollout.rolled_back": [
    [entry({ action: "rollout.rolled_back", actor: analysis, subject: rollout, before: { percent: 5 }, after: { surface: "search", model: "search-ranker", version: 3, percent: 0, status: "rolled_back" }, reason: "p99 38 ms vs 20 ms" }), "rollout-analysis rolled back the canary of search-ranker v3 on search at 5%"],
  ],
  "rollout.aborted": [[entry({ action: "rollout.aborted", subject: rollout, before: { percent: 25 }, after: { surface: "search", percent: 0, status: "aborted" } }), "ana@corp aborted the canary of search-ranker v3 on search at 25%"]],
  "rollout.analysed": [
    [entry({ action: "rollout.analysed", subject: rollout, before: { percent: 5 }, after: { surface: "search", percent: 25, status: "running", decision: "advance" } }), "ana@corp had the canary of search-ranker v3 on search judged now at 5%: passed, widened to 25%"],
    [entry({ action: "rollout.analysed", subject: rollout, before: { percent: 5 }, after: { surface: "search", percent: 5, status: "running", decision: "wait" } }), "ana@corp had the canary of search-ranker v3 on search judged now at 5%: not enough data yet, it waits"],
  ],
  "seed.demo": [[entry({ action: "seed.demo", actor: { kind: "system", name: "seed" }, subject: subjects.system("demo", "demo data"), after: { items: 2000 } }), "seed seeded the demo data (2,000 catalog items)"]],
  "surface.approvals": [
    [entry({ action: "surface.approvals", subject: subjects.surface("s1", "search"), before: { requireApproval: false }, after: { requireApproval: true } }), "ana@corp required approvals for production changes on search"],
    [entry({ action: "surface.approvals", subject: subjects.surface("s1", "search"), before: { requireApproval: true }, after: { requireApproval: false } }), "ana@corp stopped requiring approvals on search"],
  ],
  "user.create": [[entry({ action: "user.create", actor: { kind: "system", name: "first-start" }, subject: subjects.user("u1", "admin@corp"), after: { email: "admin@corp", roles: ["admin"] } }), "first-start created the first admin admin@corp (admin)"]],
  "user.invite": [[entry({ action: "user.invite", subject: subjects.user("u2", "bo@corp"), after: { email: "bo@corp", roles: ["pm", "oncall"] } }), "ana@corp invited bo@corp as pm, oncall"]],
  "user.roles": [[entry({ action: "user.roles", subject: subjects.user("u2", "bo@corp"), before: { roles: ["pm"] }, after: { roles: ["pm", "oncall"] } }), "ana@corp changed the roles of bo@corp from pm to pm, oncall"]],
  "user.disable": [
    [entry({ action: "user.disable", subject: subjects.user("u2", "bo@corp"), before: { disabled: false }, after: { disabled: true } }), "ana@corp disabled bo@corp (signed out everywhere, keys refused)"],
    [entry({ action: "user.disable", subject: subjects.user("u2", "bo@corp"), before: { disabled: false }, after: { disabled: true, revokedKeys: 2 } }), "ana@corp disabled bo@corp (signed out everywhere, 2 API keys revoked)"],
    [entry({ action: "user.disable", subject: subjects.user("u2", "bo@corp"), before: { disabled: false }, after: { disabled: true, revokedKeys: 1 } }), "ana@corp disabled bo@corp (signed out everywhere, 1 API key revoked)"],
  ],
  "user.enable": [[entry({ action: "user.enable", subject: subjects.user("u2", "bo@corp"), before: { disabled: true }, after: { disabled: false } }), "ana@corp enabled bo@corp"]],
  "user.reset_password": [[entry({ action: "user.reset_password", subject: subjects.user("u2", "bo@corp") }), "ana@corp reset the password of bo@corp"]],
  "api_key.create": [
    [entry({ action: "api_key.create", subject: subjects.apiKey("k1", "search frontend"), after: { kind: "serving", roles: [], surfaces: ["search"], expiresAt: null } }), "ana@corp created serving API key search frontend for search"],
    [entry({ action: "api_key.create", subject: subjects.apiKey("k2", "ci"), after: { kind: "automation", roles: ["ml_engineer"], surfaces: [], expiresAt: null } }), "ana@corp created automation API key ci acting as ml_engineer"],
    [entry({ action: "api_key.create", subject: subjects.apiKey("k3", "feed"), after: { kind: "serving", roles: [], surfaces: [], expiresAt: null, rateLimit: { rate: 25, burst: 50 } } }), "ana@corp created serving API key feed, limited to 25 requests per second (bursts of 50)"],
  ],
  "api_key.revoke": [[entry({ action: "api_key.revoke", subject: subjects.apiKey("k1", "search frontend"), after: { revokedAt: "2026-11-29T00:00:00Z" } }), "ana@corp revoked API key search frontend"]],
  "api_key.rate_limit": [
    [entry({ action: "api_key.rate_limit", subject: subjects.apiKey("k1", "search frontend"), before: { rateLimit: null }, after: { rateLimit: { rate: 50, burst: null } } }), "ana@corp limited API key search frontend to 50 requests per second (was unlimited)"],
    [entry({ action: "api_key.rate_limit", subject: subjects.apiKey("k1", "search frontend"), before: { rateLimit: { rate: 50, burst: null } }, after: { rateLimit: { rate: 0.2, burst: 3 } } }), "ana@corp limited API key search frontend to 1 request every 5 s (bursts of 3) (was 50 requests per second)"],
    [entry({ action: "api_key.rate_limit", subject: subjects.apiKey("k1", "search frontend"), before: { rateLimit: { rate: 1, burst: 5 } }, after: { rateLimit: null } }), "ana@corp removed the rate limit of API key search frontend (was 1 request per second (bursts of 5))"],
  ],
  "change_request.create": [[entry({ action: "change_request.create", subject: subjects.surface("s1", "search"), after: { id: "c1", summary: "search-ranker production: v2 → v3" } }), "ana@corp requested approval on search: search-ranker production: v2 → v3"]],
  "change_request.approve": [[entry({ action: "change_request.approve", actor: { kind: "user", name: "bo@corp" }, subject: subjects.surface("s1", "search"), after: { id: "c1", summary: "search-ranker production: v2 → v3", requestedBy: "ana@corp" } }), "bo@corp approved and applied on search: search-ranker production: v2 → v3 (requested by ana@corp)"]],
  "change_request.reject": [[entry({ action: "change_request.reject", actor: { kind: "user", name: "bo@corp" }, subject: subjects.surface("s1", "search"), after: { id: "c1", summary: "x", requestedBy: "ana@corp" } }), "bo@corp rejected on search: x (requested by ana@corp)"]],
  "webhook.create": [
    [entry({ action: "webhook.create", subject: subjects.webhook("w1", "ops chat"), after: { name: "ops chat", url: "https://hooks.slack.com/services/…", format: "slack", eventKinds: ["rollback", "kill_switch"], enabled: true } }), "ana@corp added webhook ops chat to https://hooks.slack.com/services/… for rollback, kill_switch"],
  ],
  "webhook.update": [
    [entry({ action: "webhook.update", subject: subjects.webhook("w1", "ops chat"), before: { name: "ops chat", url: "u", format: "slack", eventKinds: ["rollback"], enabled: true }, after: { name: "ops chat", url: "u", format: "slack", eventKinds: ["rollback"], enabled: false } }), "ana@corp edited webhook ops chat"],
    [entry({ action: "webhook.update", subject: subjects.webhook("w1", "ops chat"), before: { name: "ops chat", url: "https://ntfy.sh/…", format: "standard", eventKinds: ["rollback"], enabled: true }, after: { name: "ops chat", url: "https://ntfy.sh/…", format: "standard", eventKinds: ["rollback"], enabled: true, urlChanged: true } }), "ana@corp edited webhook ops chat (its URL changed)"],
  ],
  "webhook.delete": [[entry({ action: "webhook.delete", subject: subjects.webhook("w1", "ops chat"), before: { name: "ops chat", url: "u", format: "slack", eventKinds: ["rollback"], enabled: true } }), "ana@corp deleted webhook ops chat"]],
  "webhook.rotate_secret": [[entry({ action: "webhook.rotate_secret", subject: subjects.webhook("w1", "ops chat") }), "ana@corp rotated the signing secret of webhook ops chat"]],
  "webhook.test": [[entry({ action: "webhook.test", subject: subjects.webhook("w1", "ops chat"), after: { eventId: "e1" } }), "ana@corp sent a test delivery to webhook ops chat"]],
  "retention.drop": [
    [entry({ action: "retention.drop", actor: { kind: "system", name: "retention" }, subject: subjects.system("retention", "retention"), after: { retentionDays: 30, keptFrom: "2026-10-30", dropped: ["rerank_requests_p20261029", "outcome_events_p20261029", "shadow_records_p20261029"], webhookDeliveries: 12, webhookEvents: 4 } }), "retention dropped 3 day partitions of the request, event and shadow logs older than 2026-10-30 (keeping 30 days) and 12 webhook deliveries"],
  ],
  "user.change_password": [[entry({ action: "user.change_password", subject: subjects.user("u1", "ana@corp") }), "ana@corp changed their own password"]],
  "user.sign_in": [[entry({ action: "user.sign_in", subject: subjects.user("u1", "ana@corp") }), "ana@corp signed in"]],
  "user.sign_in_failed": [[entry({ action: "user.sign_in_failed", actor: { kind: "anonymous", name: "anonymous" }, subject: subjects.user("u1", "ana@corp"), reason: "wrong password" }), "anonymous tried to sign in as ana@corp and was refused"]],
  "user.sign_out": [[entry({ action: "user.sign_out", subject: subjects.user("u1", "ana@corp") }), "ana@corp signed out"]],
  "change_request.cancel": [[entry({ action: "change_request.cancel", actor: { kind: "user", name: "ana@corp" }, subject: subjects.surface("s1", "search"), after: { id: "c1", summary: "x" } }), "ana@corp withdrew their request on search: x"]],
  "change_request.fail": [[entry({ action: "change_request.fail", actor: { kind: "user", name: "bo@corp" }, subject: subjects.surface("s1", "search"), after: { id: "c1", summary: "x", error: "v3 already serves" } }), "bo@corp approved on search: x, but applying it failed: v3 already serves"]],
};

describe("describeAuditEntry", () => {
  it("has a sentence for every action", () => {
    for (const action of AUDIT_ACTION_NAMES) expect(CASES[action]?.length, action).toBeGreaterThan(0);
  });

  for (const action of AUDIT_ACTION_NAMES) {
    it(`says ${action} in words`, () => {
      for (const [facts, text] of CASES[action]) {
        const d = describeAuditEntry(facts);
        expect(d.text).toBe(text);
        expect(d.parts.map((p) => p.text).join("")).toBe(text);
        expect(d.text).not.toMatch(/undefined|null|\[object|[{}]/);
        // The subject's kind of entry is recorded against the table's subject kind.
        expect(facts.subject.kind).toBe(AUDIT_ACTIONS[action].subject);
      }
    });
  }

  it("links the subject and the versions it names", () => {
    const alias = describeAuditEntry(CASES["model.alias.set"][0]![0]);
    expect(alias.parts.filter((p) => p.href)).toEqual([
      { text: "search-ranker", href: "/models/search-ranker" },
      { text: "v2", href: "/models/search-ranker/v/2" },
      { text: "v1", href: "/models/search-ranker/v/1" },
    ]);
    expect(describeAuditEntry(CASES["rollout.advance"][0]![0]).parts.filter((p) => p.href)).toEqual([
      { text: "search-ranker v3", href: "/models/search-ranker/v/3" },
      { text: "search", href: "/dashboards/oncall#surface-search" },
    ]);
    expect(describeAuditEntry(CASES["experiment.stop"][0]![0]).parts.find((p) => p.href)).toEqual({ text: "ctr-test", href: "/experiments/ctr-test" });
    expect(describeAuditEntry(CASES["surface.shadow"][0]![0]).parts.find((p) => p.href)).toEqual({ text: "search", href: "/shadow?surface=search" });
    expect(describeAuditEntry(CASES["model.version.create"][0]![0]).parts.find((p) => p.href)).toEqual({ text: "search-ranker v3", href: "/models/search-ranker/v/3" });
  });

  it("falls back to the label for a rollout entry without model fields, and to the raw name for an unknown action", () => {
    const odd = describeAuditEntry(entry({ action: "rollout.aborted", subject: { kind: "rollout", id: "r9", label: "r9" }, before: { percent: 5 }, after: { percent: 0 } }));
    expect(odd.text).toBe("ana@corp aborted the canary of r9 at 5%");
    const future = describeAuditEntry(entry({ action: "user.teleport", subject: { kind: "user", id: "u1", label: "bo@corp" }, after: { email: "bo@corp" } }));
    expect(future.text).toBe("ana@corp recorded user.teleport on user bo@corp");
    expect(future.details).toEqual([{ field: "email", before: null, after: "bo@corp" }]);
  });

  it("survives stored values of the wrong shape", () => {
    const d = describeAuditEntry(entry({ action: "model.alias.set", subject: subjects.model("m1", "search-ranker"), before: "garbage", after: [1, 2] }));
    expect(d.text).toBe("ana@corp pointed search-ranker an alias at a version");
    expect(d.details).toEqual([]);
  });
});

describe("changedFields", () => {
  it("lists what changed in words, leaving out context fields only one side has", () => {
    expect(changedFields({ killSwitch: false }, { killSwitch: true, surface: "search" })).toEqual([{ field: "kill switch", before: "off", after: "on" }]);
    // The row id beside the version number is left out.
    expect(changedFields({ alias: "production", versionId: "a", version: 2 }, { alias: "production", versionId: "b", version: 1, model: "m" })).toEqual([
      { field: "version", before: "v2", after: "v1" },
    ]);
    expect(changedFields({ alias: null, sampleRate: 0 }, { alias: "shadow", sampleRate: 0.25 })).toEqual([
      { field: "alias", before: "—", after: "shadow" },
      { field: "sample rate", before: "0%", after: "25%" },
    ]);
  });

  it("lists a creation's fields with no before", () => {
    expect(changedFields(null, { model: "m", version: 3, sizeBytes: 2048 })).toEqual([
      { field: "model", before: null, after: "m" },
      { field: "version", before: null, after: "v3" },
      { field: "size bytes", before: null, after: "2.0 KiB" },
    ]);
    expect(changedFields(null, null)).toEqual([]);
  });

  it("does not report a field whose value only differs in key order or in null versus missing", () => {
    const before = { variants: [{ name: "A", key: "a", weight: 0.5, modelAlias: null, modelVersionId: "v1" }], namespace: null, name: "old" };
    const after = { variants: [{ key: "a", name: "A", modelVersionId: "v1", weight: 0.5 }], namespace: undefined, name: "new" };
    expect(changedFields(before, after)).toEqual([{ field: "name", before: "old", after: "new" }]);
  });

  it("compares nested values structurally", () => {
    const variants = [{ key: "control", weight: 0.5 }, { key: "b", weight: 0.5 }];
    expect(changedFields({ variants, coverage: 1 }, { variants: structuredClone(variants), coverage: 0.5 })).toEqual([{ field: "coverage", before: "100%", after: "50%" }]);
  });
});

describe("formatValue", () => {
  it("renders values without JSON punctuation", () => {
    expect(formatValue([{ key: "control", weight: 0.5, isControl: true }, { key: "b", weight: 0.5, isControl: false }], "variants")).toBe(
      "key control, weight 0.5, is control yes; key b, weight 0.5, is control no",
    );
    expect(formatValue({ id: "ns", start: 0, end: 0.5 })).toBe("id ns, start 0, end 0.5");
    expect(formatValue({ blocked: { flags: ["adult"] } })).toBe("blocked (flags adult)");
    expect(formatValue(["ctr", "revenue"])).toBe("ctr, revenue");
    expect(formatValue([])).toBe("none");
    expect(formatValue("")).toBe("(empty)");
    expect(formatValue(null)).toBe("—");
    expect(formatValue(0.1 + 0.2)).toBe("0.3");
    expect(formatValue([1, 5, 25], "steps")).toBe("1 → 5 → 25%");
  });
});

describe("subjects", () => {
  it("read back the labels they write", () => {
    expect(parseVersionLabel(subjects.modelVersion("v", "letor-lambdamart", 12).label)).toEqual({ model: "letor-lambdamart", version: 12 });
    expect(parseRolloutLabel(subjects.rollout("r", "search-ranker", 3, "home-feed").label)).toEqual({ model: "search-ranker", version: 3, surface: "home-feed" });
    expect(parseVersionLabel("search-ranker")).toBeNull();
  });

  it("link each kind to its console page, or to none", () => {
    expect(subjectHref(subjects.surface("s", "home-feed"))).toBe("/dashboards/oncall#surface-home-feed");
    expect(subjectHref(subjects.model("m", "search-ranker"))).toBe("/models/search-ranker");
    expect(subjectHref(subjects.modelVersion("v", "search-ranker", 2))).toBe("/models/search-ranker/v/2");
    expect(subjectHref(subjects.rollout("r", "search-ranker", 3, "search"))).toBe("/dashboards/oncall#surface-search");
    expect(subjectHref(subjects.experiment("e", "ctr-test"))).toBe("/experiments/ctr-test");
    expect(subjectHref(subjects.system("demo", "demo data"))).toBeNull();
    expect(subjectHref(subjects.request("req 7/a"))).toBe("/dashboards/debug?request=req%207%2Fa");
    expect(subjectHref({ kind: "model_version", label: "not a version label" })).toBeNull();
  });
});
