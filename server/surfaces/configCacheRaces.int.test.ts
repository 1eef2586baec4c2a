// The surface config cache's state machine under races, on real PostgreSQL: reads held or failed
// through a wrapped client, preparations (opening a config's models) held by a gate. Each case was
// found by the break test of the warm-before-serve change (session 20) and failed before its fix.
import { afterAll, describe, expect, it } from "vitest";
import { getDb } from "../db/client";
import type { Db } from "../db/client";
import { gatedPrepare } from "../testing/configCache";
import { SurfaceConfigCache } from "./configCache";

const NEVER = 3_600_000;
const sql = (q: string, ...args: unknown[]) => getDb().$executeRawUnsafe(q, ...args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** getDb() with hooks: fail the next N surface reads; hold rollout.findFirst's answer until released. */
function controlledDb() {
  const ctl = { failSurfaceReads: 0, hold: null as Promise<void> | null, release: () => {} };
  const wrap = <T extends object>(target: T, hooks: Record<string, (orig: (...a: unknown[]) => unknown, a: unknown[]) => unknown>) =>
    new Proxy(target, {
      get(t, p) {
        const v = Reflect.get(t, p) as unknown;
        if (typeof p === "string" && hooks[p] && typeof v === "function") return (...a: unknown[]) => hooks[p]!((...x: unknown[]) => (v as (...y: unknown[]) => unknown).apply(t, x), a);
        return typeof v === "function" ? (v as (...y: unknown[]) => unknown).bind(t) : v;
      },
    });
  const db = () => {
    const real = getDb();
    return wrap(real as object, {}) && new Proxy(real as object, {
      get(t, p) {
        if (p === "surface") return wrap(real.surface, { findUnique: async (orig, a) => { if (ctl.failSurfaceReads > 0) { ctl.failSurfaceReads--; throw new Error("connection reset (injected)"); } return orig(...a); } });
        if (p === "rollout") return wrap(real.rollout, { findFirst: async (orig, a) => { const r = await orig(...a); if (ctl.hold) await ctl.hold; return r; } });
        const v = Reflect.get(t, p) as unknown;
        return typeof v === "function" ? (v as (...y: unknown[]) => unknown).bind(t) : v;
      },
    }) as Db;
  };
  const holdReads = () => { ctl.hold = new Promise<void>((r) => (ctl.release = () => { ctl.hold = null; r(); })); };
  return { db, ctl, holdReads };
}


afterAll(async () => {
  await sql("UPDATE surfaces SET kill_switch = false WHERE key = 'search'");
});

describe("surface config cache: orderings found by the break test of warm-before-serve", () => {
  it("an abort committed while the canary start's read is still running: the lever's refresh reads again and serves no canary (the fingerprint came back to the same value)", async () => {
    const surface = await getDb().surface.findUniqueOrThrow({ where: { key: "search" }, include: { model: { include: { versions: true } } } });
    const version = surface.model!.versions[0]!;
    const { db, holdReads, ctl } = controlledDb();
    // Opening the canary's model takes the whole budget (a heavy model).
    const gated = gatedPrepare((c) => c.rollout !== null);
    const cache = new SurfaceConfigCache(db, gated.prepare, { pollMs: NEVER, listen: false, prepareWithinMs: 1500 });
    try {
      expect((await cache.get("search")).rollout).toBeNull();
      await sql(`INSERT INTO rollouts (id, surface_id, model_id, to_version_id, status, current_percent, created_by) VALUES ('r-aba', $1, $2, $3, 'running', 5, 'test')`, surface.id, surface.modelId, version.id);
      holdReads(); // the canary-start read is slow: it has read the rollout, not yet returned
      const startRefresh = cache.refresh(); // the canary start's appliedHere (or the NOTIFY refresh)
      await sleep(200);
      await sql(`UPDATE rollouts SET status = 'aborted' WHERE id = 'r-aba'`); // on-call aborts
      const t0 = Date.now();
      const lever = cache.refresh({ surfaces: ["search"] }); // abort's appliedHere
      await sleep(100);
      ctl.release();
      await lever;
      expect(Date.now() - t0).toBeLessThan(1_400); // never the canary's preparation (1,500 ms here)
      const afterLever = cache.peek("search")?.rollout?.id ?? null;
      await startRefresh;
      await cache.refresh();
      expect(afterLever).toBeNull();
    } finally {
      gated.release();
      ctl.release();
      cache.stop();
      await sql(`DELETE FROM rollouts WHERE id = 'r-aba'`);
    }
  });

  it("a read that fails while a first load prepares does not hide that load: the next refresh reads again and serves the kill switch", async () => {
    await sql("UPDATE surfaces SET kill_switch = false WHERE key = 'search'");
    const { db, ctl } = controlledDb();
    const gated = gatedPrepare((c) => c.key === "search" && !c.killSwitch);
    const cache = new SurfaceConfigCache(db, gated.prepare, { pollMs: NEVER, listen: false, prepareWithinMs: NEVER });
    try {
      const cold = cache.get("search");
      await sleep(200); // read; preparing
      await sql("UPDATE surfaces SET kill_switch = true WHERE key = 'search'");
      ctl.failSurfaceReads = 1; // one transient DB error on the reload
      await cache.refresh(); // its read fails
      await cache.refresh(); // the next appliedHere / NOTIFY / retry reads again
      expect((await cache.get("search")).killSwitch).toBe(true); // what a request gets (nothing served here yet: it waits for the newest load)
      gated.release();
      expect((await cold).killSwitch).toBe(true);
      await sleep(50);
      expect(cache.peek("search")?.killSwitch).toBe(true);
    } finally {
      gated.release();
      cache.stop();
      await sql("UPDATE surfaces SET kill_switch = false WHERE key = 'search'");
    }
  });

  it("a surface deleted and created again while a reload prepares: get() reads it anew at once", async () => {
    const insert = () => sql(`INSERT INTO surfaces (id, key, name, timeout_ms, default_top_k, max_candidates, kill_switch, constraints, updated_at, created_at)
      SELECT gen_random_uuid()::text, 'phoenix', 'phoenix', timeout_ms, default_top_k, max_candidates, false, constraints, now(), now() FROM surfaces WHERE key = 'search'`);
    await insert();
    const gated = gatedPrepare((c) => c.key === "phoenix" && c.timeoutMs === 777);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, listen: false, prepareWithinMs: 2000 });
    try {
      await cache.get("phoenix");
      await sql("UPDATE surfaces SET timeout_ms = 777 WHERE key = 'phoenix'");
      await cache.refresh({ surfaces: [] }); // read, preparing (a model opening)
      await sql("DELETE FROM surfaces WHERE key = 'phoenix'");
      await cache.refresh({ surfaces: [] }); // deletion seen
      await insert(); // re-created
      const got = await cache.get("phoenix").then((c) => `ok timeout=${c.timeoutMs}`, (e: { code?: string }) => e.code);
      expect(got).toMatch(/^ok/);
    } finally {
      gated.release();
      cache.stop();
      await sql("DELETE FROM surfaces WHERE key = 'phoenix'");
    }
  });

  it("a notified change whose read fails is read again within the watch interval, not at the backstop", async () => {
    const { db, ctl } = controlledDb();
    const cache = new SurfaceConfigCache(db, async () => {}, { pollMs: NEVER }); // listening
    try {
      expect((await cache.get("search")).killSwitch).toBe(false);
      await sleep(300);
      ctl.failSurfaceReads = 1;
      await sql("UPDATE surfaces SET kill_switch = true WHERE key = 'search'");
      await sleep(2000);
      expect(cache.peek("search")?.killSwitch).toBe(true);
    } finally {
      cache.stop();
      await sql("UPDATE surfaces SET kill_switch = false WHERE key = 'search'");
    }
  });

  it("refresh() does not wait for another surface's first load still preparing", async () => {
    const gated = gatedPrepare((c) => c.key === "home-feed");
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, listen: false, prepareWithinMs: 1500 });
    try {
      await cache.get("search");
      void cache.get("home-feed").catch(() => {});
      await sleep(200);
      await sql("UPDATE surfaces SET kill_switch = true WHERE key = 'search'");
      const t0 = Date.now();
      await cache.refresh();
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      gated.release();
      cache.stop();
      await sql("UPDATE surfaces SET kill_switch = false WHERE key = 'search'");
    }
  });
});

describe("surface config cache: clear()", () => {
  it("a load started before clear() does not serve after it: get() answers what the database holds", async () => {
    const gated = gatedPrepare((c) => c.key === "search" && c.timeoutMs === 555);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, listen: false, prepareWithinMs: NEVER });
    const before = (await getDb().surface.findUniqueOrThrow({ where: { key: "search" } })).timeoutMs;
    try {
      await cache.get("search");
      await sql("UPDATE surfaces SET timeout_ms = 555 WHERE key = 'search'");
      await cache.refresh({ surfaces: [] });
      cache.clear();
      await sql(`UPDATE surfaces SET timeout_ms = ${before} WHERE key = 'search'`);
      const pending = cache.get("search");
      await sleep(100);
      gated.release();
      const c = await pending;
      expect(c.timeoutMs).toBe(before);
    } finally {
      gated.release();
      cache.stop();
      await sql(`UPDATE surfaces SET timeout_ms = ${before} WHERE key = 'search'`);
    }
  });
});
