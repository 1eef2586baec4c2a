import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { createTestSurface } from "../testing/models";
import { callerAs } from "../testing/callers";
import { insertRolledBackRollouts, startTestCanary } from "../testing/rollouts";

// The On-call page's canary strips read rollouts.current. Break test: they read the 50 newest
// rollouts of all surfaces, so a canary running since Monday lost its Pause, Abort and Promote (and
// was offered "Start canary…", then a 409) once a pipeline had started 50 canaries on another
// surface that each rolled back.

const DAY = 86_400_000;
const ml = () => callerAs(["ml_engineer", "oncall"], "ml@rerank.local");

let monday: { id: string };
let paused: { id: string };

beforeAll(async () => {
  const db = getDb();
  const candidate = demoModelBytes("candidate");
  for (const key of ["t-cur-monday", "t-cur-paused", "t-cur-pipeline", "t-cur-quiet"]) {
    await createTestSurface(db, { key, bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [candidate] });
  }
  monday = await startTestCanary("t-cur-monday", { version: 4, daysAgo: 3 });
  paused = await startTestCanary("t-cur-paused", { version: 4, daysAgo: 2 });
  await ml().rollouts.pause({ surface: "t-cur-paused", rolloutId: paused.id, reason: "hold while we look" });
  // A surface whose only rollout ended five days ago, before everything else.
  await insertRolledBackRollouts("t-cur-quiet", { version: 4, count: 1, newest: new Date(Date.now() - 5 * DAY) });
  await insertRolledBackRollouts("t-cur-pipeline", { version: 4, count: 60, newest: new Date(Date.now() - 60_000) });
}, 120_000);

describe("rollouts.current: each surface's canary, however many rollouts ran since", () => {
  it("returns every running or paused rollout and each surface's newest, when 60 rollbacks on another surface fill any newest-50 page", async () => {
    // The crowding is real: the page the strips used to read holds none of the canaries.
    const newest50 = await ml().rollouts.list({ limit: 50 });
    expect(newest50.map((r) => r.surface)).toEqual(Array(50).fill("t-cur-pipeline"));

    const current = (await ml().rollouts.current()).filter((r) => r.surface.startsWith("t-cur-"));
    const of = (key: string) => current.filter((r) => r.surface === key);
    expect(of("t-cur-monday")).toMatchObject([{ id: monday.id, status: "running", toVersion: 4, percent: 5 }]);
    // Active rows carry what the strip's levers need: live figures and the promotion's reach.
    expect(of("t-cur-monday")[0]!.live).toEqual({ canary: expect.any(Object), baseline: expect.any(Object) });
    expect(of("t-cur-monday")[0]!.reach.map((s) => s.key)).toEqual(["t-cur-monday"]);
    expect(of("t-cur-paused")).toMatchObject([{ id: paused.id, status: "paused", percent: 5 }]);
    // Ended surfaces: their newest rollout only, not the other 59.
    const pipelineNewest = await getDb().rollout.findFirstOrThrow({ where: { surface: { key: "t-cur-pipeline" } }, orderBy: { startedAt: "desc" } });
    expect(of("t-cur-pipeline")).toMatchObject([{ id: pipelineNewest.id, status: "rolled_back" }]);
    expect(of("t-cur-quiet")).toMatchObject([{ status: "rolled_back" }]);
    expect(current).toHaveLength(4);
    // Active ones first, so a surface's first row is the one its levers act on; then newest first.
    expect(current.map((r) => r.surface)).toEqual(["t-cur-paused", "t-cur-monday", "t-cur-pipeline", "t-cur-quiet"]);
  });

  it("keeps a surface's active rollout first when an ended one of that surface is newer (the strip acts on the live canary)", async () => {
    // Not reachable through a start (a second one is refused while one runs), but the strip must not
    // depend on it: an ended row stamped after the running one, as a data fix or a race could leave.
    await insertRolledBackRollouts("t-cur-monday", { version: 4, count: 1, newest: new Date() });
    const current = await ml().rollouts.current();
    expect(current.filter((r) => r.surface === "t-cur-monday").map((r) => r.status)).toEqual(["running", "rolled_back"]);
    expect(current.find((r) => r.surface === "t-cur-monday")!.id).toBe(monday.id);
  });
});
