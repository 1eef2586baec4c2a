import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { rerank } from "../rerank/pipeline";
import { surfaceConfigs } from "../surfaces/configCache";
import { callerAs } from "../testing/callers";
import { abDefinition, seedSurfacesOnDemoModel } from "../testing/experiments";

// Break test (2026-12): caller mistakes that were accepted silently. Each is a 400 naming the field
// (a 404 naming the surface for a plan on none), and nothing stored changes.

const caller = () => callerAs(["admin"], "pm@rerank.local");
let candidateIds: string[];

beforeAll(async () => {
  const db = getDb();
  await seedSurfacesOnDemoModel(db, ["t-mistake", "t-mistake-other", "t-mistake-geo"]);
  candidateIds = (await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 10, orderBy: { id: "asc" }, select: { id: true } })).map((c) => c.id);
});

/** What a refused call must leave as it was: the experiment, its variants and phases, and its audit trail. */
async function stored(key: string) {
  const db = getDb();
  const e = await db.experiment.findUnique({ where: { key }, include: { surface: { select: { key: true } }, variants: { orderBy: { position: "asc" } }, phases: true } });
  const audit = e ? await db.auditLog.count({ where: { entityType: "experiment", entityId: e.id } }) : 0;
  return { e, audit };
}

describe("experiments.restart", () => {
  it("refuses a changed surface, as an edit does, naming experiment.surface; nothing changes", async () => {
    await caller().experiments.create(abDefinition("mistake-restart", "t-mistake"));
    await caller().experiments.start({ key: "mistake-restart" });
    const before = await stored("mistake-restart");
    const moved = { ...abDefinition("mistake-restart", "t-mistake-other"), seed: before.e!.seed };
    await expect(caller().experiments.restart({ experiment: moved, reason: "move it" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: 'experiment.surface: an experiment\'s surface cannot change (it runs on "t-mistake", not "t-mistake-other"); create a new experiment',
    });
    expect(await stored("mistake-restart")).toEqual(before);
    // The same definition on its own surface restarts.
    expect((await caller().experiments.restart({ experiment: { ...moved, surface: "t-mistake" }, reason: "again" })).phase).toBe(2);
  });
});

describe("guardrail thresholds", () => {
  it("a negative threshold, or a fall of 100 % or more, is refused naming guardrails[i].threshold; nothing is stored", async () => {
    // abDefinition parses its input, so the refused guardrails go in after it.
    const withGuardrails = (key: string, guardrails: Array<{ metric: "ctr" | "fallback_rate"; direction: "increase" | "decrease"; threshold: number }>) => ({ ...abDefinition(key, "t-mistake"), guardrails });
    await expect(caller().experiments.create(withGuardrails("mistake-neg", [{ metric: "ctr", direction: "decrease", threshold: 0.1 }, { metric: "fallback_rate", direction: "increase", threshold: -5 }]))).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringMatching(/^guardrails\[1\]\.threshold: must not be negative/),
    });
    await expect(caller().experiments.create(withGuardrails("mistake-neg", [{ metric: "ctr", direction: "decrease", threshold: 1 }]))).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringMatching(/^guardrails\[0\]\.threshold: a fall of 100 % or more cannot happen to ctr/),
    });
    expect((await stored("mistake-neg")).e).toBeNull();
    // An edit of an existing experiment is refused the same way, and leaves it as it was.
    await caller().experiments.create(abDefinition("mistake-edit", "t-mistake", { guardrails: [{ metric: "ctr", direction: "decrease", threshold: 0.1 }] }));
    const before = await stored("mistake-edit");
    await expect(caller().experiments.update({ ...withGuardrails("mistake-edit", [{ metric: "ctr", direction: "decrease", threshold: -0.1 }]), seed: before.e!.seed })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^guardrails\[0\]\.threshold: /) });
    expect(await stored("mistake-edit")).toEqual(before);
    // 0 (no worsening tolerated) and a rise past 100 % are meaningful.
    await caller().experiments.create(abDefinition("mistake-ok", "t-mistake", { guardrails: [{ metric: "ctr", direction: "decrease", threshold: 0 }, { metric: "latency_p95", direction: "increase", threshold: 2 }] }));
  });
});

describe("experiments.plan", () => {
  it("on an unknown surface is a 404 naming it, not 'not enough recent traffic'", async () => {
    await expect(caller().experiments.plan({ surface: "no-such-surface", minimumDetectableEffect: 0.1, weights: [0.5, 0.5] })).rejects.toMatchObject({ code: "NOT_FOUND", message: 'surface "no-such-surface" does not exist' });
    // A known surface with no traffic still answers with its reason.
    expect(await caller().experiments.plan({ surface: "t-mistake-other", minimumDetectableEffect: 0.1, weights: [0.5, 0.5] })).toMatchObject({ ready: false, reason: expect.stringMatching(/^not enough recent traffic on "t-mistake-other"/) });
  });
});

describe("targeting on context.attributes", () => {
  it("context.attributes.country 'US' is enrolled by a `country eq US` rule; a contradicting context.country is a 400 naming the attribute", async () => {
    await caller().experiments.create(abDefinition("mistake-geo", "t-mistake-geo", { targeting: [{ attribute: "country", op: "eq", value: "US" }] }));
    await caller().experiments.start({ key: "mistake-geo" });
    await surfaceConfigs().refresh();
    const body = (context: Record<string, unknown>) => ({ surface: "t-mistake-geo", topK: 5, userKey: "guest", candidates: candidateIds.map((id) => ({ id })), context });
    expect((await rerank(body({ attributes: { country: "US" } }))).variant?.key).toMatch(/^(control|treatment)$/);
    expect((await rerank(body({ country: "US" }))).variant?.key).toMatch(/^(control|treatment)$/);
    expect((await rerank(body({ attributes: { country: "DE" } }))).variant).toBeNull();
    const logged = await getDb().rerankRequest.count({ where: { surface: "t-mistake-geo" } });
    await expect(callerAs(["admin"]).rerank.rank(body({ country: "DE", attributes: { country: "US" } }))).rejects.toMatchObject({
      code: "BAD_REQUEST", message: expect.stringMatching(/^context\.attributes\.country: "US" contradicts context\.country \("DE"\)/),
    });
    expect(await getDb().rerankRequest.count({ where: { surface: "t-mistake-geo" } })).toBe(logged);
  });
});
