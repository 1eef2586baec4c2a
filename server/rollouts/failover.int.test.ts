import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setEnv } from "../config";
import { databaseUrl, getDb } from "../db/client";
import { connectClient } from "../db/pgClient";
import { seedDemo } from "../db/seed";
import { demoFeatureSpec, demoModelBytes } from "../demo/models";
import { rerank } from "../rerank/pipeline";
import { telemetry } from "../telemetry/streams";
import { callerAs } from "../testing/callers";
import { createTestSurface } from "../testing/models";
import { START_DEADLINE_MS, waitForStart } from "../testing/startup";
import { waitFor } from "../testing/tcpProxy";

// Issue #14 acceptance: two processes run job workers on one database; the process judging a
// rollout's step is killed mid-run (its judge is held on the rollout's row lock, then SIGKILLed),
// and the rollout goes on in the other process, through promotion, with exactly one verdict per step.

const TICK_MS = "300";
/** How long recovery may take: the sweep's one-minute period, plus a judge on a loaded machine. */
const RECOVERY_MS = 150_000;
const workers = new Map<string, ChildProcess>();
let candidates: Array<{ id: string; retrievalScore: number }>;

async function startWorker(name: string): Promise<ChildProcess> {
  const url = new URL(databaseUrl());
  url.searchParams.set("application_name", name);
  const child = spawn(process.execPath, ["--import", "tsx", "server/testing/jobWorkerProcess.ts"], {
    env: { ...process.env, DATABASE_URL: url.toString(), ROLLOUT_TICK_MS: TICK_MS, JOBS_POLL_INTERVAL_MS: "200", JOBS_CONCURRENCY: "2" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  workers.set(name, child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitForStart(child, `job worker ${name}`, async () => output.includes("[worker] ready"), () => output);
  return child;
}

async function send(n: number, prefix: string) {
  for (let i = 0; i < n; i++) await rerank({ surface: "t-failover", topK: 5, userKey: `${prefix}-${i}`, candidates });
  await telemetry().requests.flush();
}

beforeAll(async () => {
  setEnv("ROLLOUT_TICK_MS", TICK_MS);
  const db = getDb();
  await seedDemo(db);
  const items = await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, select: { id: true }, take: 30, orderBy: { id: "asc" } });
  candidates = items.map((c, i) => ({ id: c.id, retrievalScore: 1 - i / items.length }));
  await createTestSurface(db, { key: "t-failover", bytes: demoModelBytes("linear"), featureSpec: demoFeatureSpec(), shadowBytes: demoModelBytes("candidate") });
  await Promise.all([startWorker("rollout-worker-a"), startWorker("rollout-worker-b")]);
}, START_DEADLINE_MS + 60_000);

afterAll(async () => {
  for (const child of workers.values()) child.kill("SIGKILL");
  setEnv("ROLLOUT_TICK_MS", undefined);
});

describe("canary analysis as durable jobs across processes", () => {
  it("continues in the other process after the one judging a step is killed mid-run, with one verdict per step", async () => {
    const db = getDb();
    const rollout = await callerAs(["ml_engineer"], "ml@rerank.local").rollouts.start({ surface: "t-failover", version: 3, steps: [20, 50], minRequests: 100, maxLatencyIncrease: 2, maxTailShareIncrease: 0.2, reason: "failover test" });
    // Hold the rollout's row: the next judge (in whichever process takes the job) blocks on it, mid-run.
    const holder = await connectClient({ connectionString: databaseUrl() });
    await holder.query("BEGIN");
    await holder.query("SELECT id FROM rollouts WHERE id = $1 FOR UPDATE", [rollout.id]);
    await send(600, "before");
    let blocked: { pid: number; application_name: string } | undefined;
    // Polled on another connection: inside the holder's transaction pg_stat_activity is the snapshot of
    // its first read (PostgreSQL keeps backend status for the rest of a transaction), so a judge that
    // blocked after that first read would never show there.
    await waitFor(async () => {
      const rows = await db.$queryRaw<Array<{ pid: number; application_name: string }>>`
        SELECT pid, application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name LIKE 'rollout-worker-%' AND query ILIKE '%rollouts%' ORDER BY query_start`;
      blocked = rows[0];
      return blocked !== undefined;
    }, "a worker's judge to be held on the rollout's row", 60_000);
    const victim = blocked!.application_name;
    const survivor = victim === "rollout-worker-a" ? "rollout-worker-b" : "rollout-worker-a";
    workers.get(victim)!.kill("SIGKILL");
    await new Promise((resolve) => workers.get(victim)!.once("exit", resolve));
    await holder.query("ROLLBACK");
    await holder.end();

    // The survivor judges step 1 (20 %) and widens to 50 %. Usually within a tick; but when the victim
    // was killed holding the chain's only waiting tick (it took the successor, judge lock taken
    // elsewhere, and died before queueing the next), that job stays locked by the dead worker and the
    // crontab's rollout.sweep (every minute) queues a new one: up to a minute and a judge later.
    await waitFor(async () => (await db.rollout.findUniqueOrThrow({ where: { id: rollout.id } })).step === 1, `${survivor} to judge step 1`, RECOVERY_MS);
    await send(600, "after");
    await waitFor(async () => (await db.rollout.findUniqueOrThrow({ where: { id: rollout.id } })).status === "promoted", `${survivor} to promote`, RECOVERY_MS);

    const steps = await db.rolloutStep.findMany({ where: { rolloutId: rollout.id }, orderBy: { step: "asc" } });
    expect(steps.map((s) => [s.step, s.percent, s.decision, s.judgedBy])).toEqual([[0, 20, "advance", "rollout-analysis"], [1, 50, "promote", "rollout-analysis"]]);
    // The database refuses a second verdict for a judged step.
    await expect(db.rolloutStep.create({ data: { rolloutId: rollout.id, step: 0, percent: 20, decision: "advance", startedAt: new Date(), judgedBy: "test" } })).rejects.toThrow(/Unique constraint/);
    const production = await db.modelAlias.findFirstOrThrow({ where: { name: "production", model: { name: "t-failover-model" } }, include: { version: true } });
    expect(production.version.version).toBe(3);
    expect(await db.modelAlias.count({ where: { name: "canary@t-failover", model: { name: "t-failover-model" } } })).toBe(0);
    expect(await db.auditLog.count({ where: { action: { in: ["rollout.advance", "rollout.promoted"] }, entityId: rollout.id } })).toBe(2);
  }, 2 * RECOVERY_MS + 180_000);
});
