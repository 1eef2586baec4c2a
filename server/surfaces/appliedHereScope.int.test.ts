// A lever answers once its own surfaces serve the change here, never after another surface's change
// that is still opening its models (up to MODEL_WARM_WAIT_MS in production; held forever here).
// Real PostgreSQL and the real routers; the process's config cache is one whose preparation of
// "t-scope-busy"'s changed config never ends. Each lever here waited for it before (session 21).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal";
import { createUser } from "../auth/users";
import { getDb } from "../db/client";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import type { Role } from "../domain/access/permissions";
import { createCaller } from "../routers/_app";
import { callerAs } from "../testing/callers";
import { gatedPrepare } from "../testing/configCache";
import { createTestSurface } from "../testing/models";
import { experimentInputSchema } from "../experiments/schema";
import { contextFor } from "../trpc";
import { resetSurfaceConfigs, SurfaceConfigCache, surfaceConfigs } from "./configCache";

const NEVER = 3_600_000;
const sql = (q: string, ...args: unknown[]) => getDb().$executeRawUnsafe(q, ...args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The lever's answer, or a failure naming it if it takes 5 s (it waits on the other surface). */
async function answered<T>(what: string, lever: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still waits after 5 s (on t-scope-busy's preparation)`)), 5_000)));
  try {
    return await Promise.race([lever, late]);
  } finally {
    clearTimeout(timer);
  }
}
async function person(email: string, roles: Role[]): Promise<Principal> {
  const { user } = await createUser(getDb(), { email, name: email, roles, password: "a long enough password" });
  return { kind: "user", id: user.id, name: user.email, displayName: user.name, roles };
}
const as = (p: Principal) => createCaller(contextFor(p));

const gate = gatedPrepare((c) => c.key === "t-scope-busy" && c.timeoutMs === 777);
let ana: Principal;
let bo: Principal;

beforeAll(async () => {
  const db = getDb();
  await createTestSurface(db, { key: "t-scope", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), extraVersions: [demoModelBytes("popularity")] });
  await createTestSurface(db, { key: "t-scope-busy", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec() });
  ana = await person("ana@scope.test", ["ml_engineer"]);
  bo = await person("bo@scope.test", ["ml_engineer", "oncall"]);
  resetSurfaceConfigs();
  (globalThis as { __rerankSurfaceConfigs?: SurfaceConfigCache }).__rerankSurfaceConfigs = new SurfaceConfigCache(getDb, gate.prepare, { pollMs: NEVER, listen: false, prepareWithinMs: NEVER });
  await surfaceConfigs().get("t-scope");
  await surfaceConfigs().get("t-scope-busy");
  // Another surface's change is read and now opens its (here: never-ending) models.
  await sql("UPDATE surfaces SET timeout_ms = 777, config_version = config_version + 1 WHERE key = 't-scope-busy'");
  void surfaceConfigs().refresh({ surfaces: ["t-scope-busy"] });
  await sleep(300);
});

afterAll(() => {
  gate.release();
  resetSurfaceConfigs();
});

describe("levers wait for their own surfaces only", () => {
  it("approvals.setRequired, and an approved alias move, answer while another surface's change prepares; the move serves here when it answers", async () => {
    await answered("approvals.setRequired", callerAs(["admin"], "admin@scope.test").approvals.setRequired({ surface: "t-scope", required: true, reason: "production surface" }));
    const versionId = async (version: number) => (await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-scope-model" }, version } })).id;
    const v4 = await versionId(4);
    const request = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: v4, alias: "production" }, reason: "v4 won offline" });
    const decided = await answered("approvals.decide", as(bo).approvals.decide({ id: request.id, approve: true, comment: "looks right" }));
    expect(decided).toMatchObject({ status: "applied", surfaces: ["t-scope"] });
    expect(surfaceConfigs().peek("t-scope")?.primary?.version).toBe(4);
    // A rejection changes nothing and reaches no surface.
    const back = await as(ana).approvals.request({ change: { kind: "alias_move", versionId: await versionId(1), alias: "production" }, reason: "go back" });
    expect(await answered("approvals.decide (reject)", as(bo).approvals.decide({ id: back.id, approve: false, comment: "checked it" }))).toMatchObject({ status: "rejected", surfaces: [] });
    await answered("approvals.setRequired (off)", callerAs(["admin"], "admin@scope.test").approvals.setRequired({ surface: "t-scope", required: false, reason: "done" }));
    expect(surfaceConfigs().peek("t-scope-busy")?.timeoutMs).not.toBe(777); // still preparing: the levers did not wait for it
  });

  it("rollouts.retry answers while another surface's change prepares, with the canary serving here", async () => {
    await sql("UPDATE surfaces SET require_approval = false WHERE key = 't-scope'"); // whatever the case above left
    const ml = as(bo);
    const canary = (await surfaceConfigs().get("t-scope")).primary?.version === 1 ? 4 : 1;
    await answered("rollouts.start", ml.rollouts.start({ reason: "test change", surface: "t-scope", version: canary, steps: [50], minRequests: 100 }));
    await answered("rollouts.abort", ml.rollouts.abort({ surface: "t-scope", reason: "not yet" }));
    const [aborted] = await ml.rollouts.list({ surface: "t-scope", limit: 1 });
    const retried = await answered("rollouts.retry", ml.rollouts.retry({ rolloutId: aborted!.id, reason: "again" }));
    expect(retried).toMatchObject({ status: "running", surface: "t-scope" });
    expect(surfaceConfigs().peek("t-scope")?.rollout?.canary.version).toBe(canary);
    await answered("rollouts.abort", ml.rollouts.abort({ surface: "t-scope", reason: "done" }));
  });

  it("experiments.start, stop and ship answer once the surface serves the change here (they did not refresh at all)", async () => {
    await sql("UPDATE surfaces SET require_approval = false WHERE key = 't-scope'");
    const production = (await surfaceConfigs().get("t-scope")).primary!;
    const other = await getDb().modelVersion.findFirstOrThrow({ where: { model: { name: "t-scope-model" }, version: production.version === 1 ? 4 : 1 } });
    const pm = callerAs(["pm"], "pm@scope.test");
    const variants = [
      { key: "control", name: "control", weight: 0.5, isControl: true, modelAlias: "production" },
      { key: "treat", name: "treat", weight: 0.5, modelVersionId: other.id },
    ];
    await pm.experiments.create(experimentInputSchema.parse({ key: "scope-exp", name: "Scope", surface: "t-scope", owner: "pm@scope.test", hypothesis: "x", variants }));
    await answered("experiments.start", pm.experiments.start({ key: "scope-exp" }));
    expect(surfaceConfigs().peek("t-scope")?.experiments.map((e) => e.key)).toEqual(["scope-exp"]);
    await answered("experiments.stop", pm.experiments.stop({ key: "scope-exp", reason: "enough" }));
    expect(surfaceConfigs().peek("t-scope")?.experiments).toEqual([]);
    const shipped = await answered("experiments.ship", callerAs(["admin"], "admin@scope.test").experiments.ship({ key: "scope-exp", variant: "treat", reason: "treat won", override: true }));
    expect(shipped).toMatchObject({ status: "shipped", surfaces: ["t-scope"] });
    expect(surfaceConfigs().peek("t-scope")?.primary?.version).toBe(other.version);
  });
});
