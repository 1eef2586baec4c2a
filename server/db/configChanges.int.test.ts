import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, verifyApiKey } from "../auth/apiKeys";
import { createUser } from "../auth/users";
import { setEnv } from "../config";
import { seedDemo } from "./seed";
import { SurfaceConfigCache } from "../surfaces/configCache";
import { gatedPrepare } from "../testing/configCache";
import { databaseUrl, getDb } from "./client";
import { configListenerConnections, configListenerPid, configListenerSilences, configListenerUp, onConfigChange, stopConfigListener } from "./configChanges";
import { connectClient } from "./pgClient";

// Config propagation by LISTEN/NOTIFY on real PostgreSQL. Changes are made the way another replica
// or an operator's psql would make them: plain SQL on a connection of its own, with no call into
// this process's caches. Caches that never poll can only learn of them by the NOTIFY.

const NEVER = 3_600_000;
let other: pg.Client;
const killSwitchOf = (cache: SurfaceConfigCache) => cache.peek("search")?.killSwitch;
// As an operator would type it: updated_at left alone (a trigger sets it, so the caches' fingerprint moves).
const setKillSwitch = (on: boolean) => other.query("UPDATE surfaces SET kill_switch = $1 WHERE key = 'search'", [on]);

beforeAll(async () => {
  await seedDemo(getDb());
  // While the listener is up nothing but a NOTIFY refreshes a cache.
  setEnv("CONFIG_BACKSTOP_MS", String(NEVER));
  other = await connectClient({ connectionString: databaseUrl() });
  // The listener starts with its first subscriber: up before any test (each may run alone, -t).
  onConfigChange(() => {});
  for (let i = 0; i < 200 && !configListenerUp(); i++) await new Promise((r) => setTimeout(r, 50));
});

afterAll(async () => {
  await setKillSwitch(false);
  await other.end();
  setEnv("CONFIG_BACKSTOP_MS", undefined);
  await stopConfigListener();
});

describe("config changes by NOTIFY", () => {
  const notified = new SurfaceConfigCache(getDb, async () => {}, { pollMs: NEVER });

  afterAll(() => notified.stop());

  it("a kill switch committed elsewhere reaches a cache that never polls", async () => {
    expect((await notified.get("search")).killSwitch).toBe(false);
    await expect.poll(configListenerUp).toBe(true);
    await setKillSwitch(true);
    await expect.poll(() => killSwitchOf(notified), { interval: 10 }).toBe(true);
  });

  it("sends nothing for a change rolled back", async () => {
    const heard: string[] = [];
    const unsubscribe = onConfigChange((topic) => heard.push(topic));
    await other.query("BEGIN");
    await other.query("UPDATE surfaces SET kill_switch = false, updated_at = now() WHERE key = 'search'");
    await other.query("ROLLBACK");
    // Two committed statements after it (a statement-level trigger fires even for no rows); once
    // the last is heard every earlier notification has arrived, in order.
    await other.query("UPDATE model_aliases SET updated_at = now() WHERE false");
    await other.query("UPDATE users SET name = name WHERE false");
    await expect.poll(() => heard.at(-1)).toBe("api_keys");
    unsubscribe();
    expect(heard).toEqual(["surfaces", "api_keys"]);
    expect(killSwitchOf(notified)).toBe(true);
  });

  it("when the listener is killed, a change is still caught and the listener reconnects", async () => {
    const polling = new SurfaceConfigCache(getDb, async () => {}, { pollMs: 50 });
    try {
      expect((await polling.get("search")).killSwitch).toBe(true);
      const connections = configListenerConnections();
      await other.query("SELECT pg_terminate_backend($1)", [configListenerPid()]);
      await setKillSwitch(false);
      // Caught by the poll while the listener is down, or by the resync when it is back.
      await expect.poll(() => killSwitchOf(polling), { interval: 10 }).toBe(false);
      await expect.poll(configListenerConnections, { timeout: 10_000 }).toBeGreaterThan(connections);
      expect(configListenerUp()).toBe(true);
      // The new connection listens: the never-polling cache hears the next change.
      await setKillSwitch(true);
      await expect.poll(() => killSwitchOf(notified), { interval: 10 }).toBe(true);
    } finally {
      polling.stop();
    }
  });

  it("without the listener, the fingerprint poll alone catches a change", async () => {
    const pollOnly = new SurfaceConfigCache(getDb, async () => {}, { pollMs: 50, listen: false });
    try {
      expect((await pollOnly.get("search")).killSwitch).toBe(true);
      await setKillSwitch(false);
      await expect.poll(() => killSwitchOf(pollOnly), { interval: 10 }).toBe(false);
    } finally {
      pollOnly.stop();
    }
  });
});

describe("a change is served once the models it brings in are open (prepare), within a bound", () => {

  it("a later change of the same surface (a kill switch) serves while an earlier one still waits; the earlier one is then dropped", async () => {
    await expect.poll(configListenerUp).toBe(true);
    const surface = await getDb().surface.findUniqueOrThrow({ where: { key: "search" } });
    const before = surface.killSwitch;
    const held = surface.timeoutMs + 7;
    const gated = gatedPrepare((config) => config.key === "search" && config.timeoutMs === held && config.killSwitch === before);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, prepareWithinMs: NEVER });
    try {
      expect((await cache.get("search")).timeoutMs).toBe(surface.timeoutMs);
      await other.query("UPDATE surfaces SET timeout_ms = $1 WHERE key = 'search'", [held]); // waits on the gate
      await new Promise((r) => setTimeout(r, 200));
      expect(cache.peek("search")?.timeoutMs).toBe(surface.timeoutMs);
      await setKillSwitch(!before);
      await expect.poll(() => killSwitchOf(cache), { interval: 10, timeout: 5_000 }).toBe(!before);
      expect(cache.peek("search")?.timeoutMs).toBe(held); // the later read has both changes
      await cache.refresh({ surfaces: ["search"] }); // the kill switch's appliedHere: nothing left to wait for (the earlier change's gate is still shut)
      gated.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(killSwitchOf(cache)).toBe(!before); // the earlier read, prepared at last, does not put its older config back
    } finally {
      gated.release();
      cache.stop();
      await other.query("UPDATE surfaces SET timeout_ms = $1, kill_switch = $2 WHERE key = 'search'", [surface.timeoutMs, before]);
    }
  });

  it("a change waits for its preparation: the old config serves meanwhile, the new one as soon as it is done", async () => {
    await expect.poll(configListenerUp).toBe(true);
    const before = (await getDb().surface.findUniqueOrThrow({ where: { key: "search" } })).killSwitch;
    const gated = gatedPrepare((config) => config.key === "search" && config.killSwitch !== before);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, prepareWithinMs: NEVER });
    try {
      expect((await cache.get("search")).killSwitch).toBe(before);
      await setKillSwitch(!before);
      await new Promise((r) => setTimeout(r, 300)); // the NOTIFY arrives within ms; the reload waits on the gate
      expect(killSwitchOf(cache)).toBe(before);
      gated.release();
      await expect.poll(() => killSwitchOf(cache), { interval: 10 }).toBe(!before);
    } finally {
      cache.stop();
      await setKillSwitch(before);
    }
  });

  it("a preparation that never ends holds a change for prepareWithinMs (MODEL_WARM_WAIT_MS), then the change serves", async () => {
    await expect.poll(configListenerUp).toBe(true);
    const before = (await getDb().surface.findUniqueOrThrow({ where: { key: "search" } })).killSwitch;
    const never = gatedPrepare((config) => config.key === "search" && config.killSwitch !== before);
    const cache = new SurfaceConfigCache(getDb, never.prepare, { pollMs: NEVER, prepareWithinMs: 400 });
    try {
      expect((await cache.get("search")).killSwitch).toBe(before);
      const started = Date.now();
      await setKillSwitch(!before);
      await expect.poll(() => killSwitchOf(cache), { interval: 10, timeout: 5_000 }).toBe(!before);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    } finally {
      cache.stop();
      await setKillSwitch(before);
    }
  });

  it("a kill switch committed while a surface's first load still prepares: refresh() applies it (break test: it was lost until the backstop)", async () => {
    await setKillSwitch(false);
    const gated = gatedPrepare((config) => config.key === "search" && !config.killSwitch);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, prepareWithinMs: NEVER });
    try {
      const cold = cache.get("search"); // the first request after a start, or openServedModels
      await expect.poll(configListenerUp).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // read; waiting on its models
      await setKillSwitch(true);
      await cache.refresh(); // what appliedHere does after the on-call's kill switch
      expect((await cache.get("search")).killSwitch).toBe(true); // what a request gets now (it waits for the newest load)
      gated.release();
      expect((await cold).killSwitch).toBe(true); // the first load's older config is dropped
      await new Promise((r) => setTimeout(r, 100));
      expect(cache.peek("search")?.killSwitch).toBe(true);
    } finally {
      gated.release();
      cache.stop();
      await setKillSwitch(false);
    }
  });

  it("a surface deleted while its first load prepares is forgotten: get() answers NotFound (break test)", async () => {
    await other.query(`INSERT INTO surfaces (id, key, name, timeout_ms, default_top_k, max_candidates, kill_switch, constraints, updated_at, created_at)
      SELECT gen_random_uuid()::text, 'doomed', 'doomed', timeout_ms, default_top_k, max_candidates, false, constraints, now(), now() FROM surfaces WHERE key = 'search'`);
    const gated = gatedPrepare((config) => config.key === "doomed");
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, prepareWithinMs: NEVER });
    try {
      const cold = cache.get("doomed");
      await expect.poll(configListenerUp).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      await other.query("DELETE FROM surfaces WHERE key = 'doomed'");
      await cache.refresh();
      gated.release();
      await expect(cold).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(cache.peek("doomed")).toBeUndefined();
      await expect(cache.get("doomed")).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      gated.release();
      cache.stop();
      await other.query("DELETE FROM surfaces WHERE key = 'doomed'");
    }
  });

  it("refresh({ surfaces }) (an on-call lever's appliedHere) waits for its own surface, not for another's change still opening its models", async () => {
    const before = (await getDb().surface.findUniqueOrThrow({ where: { key: "search" } })).killSwitch;
    let homeLoads = 0;
    const gated = gatedPrepare((config) => config.key === "home-feed" && ++homeLoads > 1);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, prepareWithinMs: NEVER });
    try {
      await cache.get("home-feed");
      await cache.get("search");
      await expect.poll(configListenerUp).toBe(true);
      await other.query("UPDATE surfaces SET updated_at = now() WHERE key = 'home-feed'"); // a canary start, say: opening a heavy model
      await expect.poll(() => homeLoads).toBe(2);
      await setKillSwitch(!before);
      await cache.refresh({ surfaces: ["search"] }); // returns: home-feed's gate never opens in this test
      expect(killSwitchOf(cache)).toBe(!before);
    } finally {
      gated.release();
      cache.stop();
      await setKillSwitch(before);
    }
  });

  it("one surface's change waiting for its models never holds up another surface's kill switch committed with it", async () => {
    await expect.poll(configListenerUp).toBe(true);
    const before = (await getDb().surface.findUniqueOrThrow({ where: { key: "search" } })).killSwitch;
    let homeLoads = 0;
    const gated = gatedPrepare((config) => config.key === "home-feed" && ++homeLoads > 1);
    const cache = new SurfaceConfigCache(getDb, gated.prepare, { pollMs: NEVER, prepareWithinMs: NEVER });
    try {
      await cache.get("home-feed");
      expect((await cache.get("search")).killSwitch).toBe(before);
      // One transaction changes both: one refresh finds both fingerprints moved.
      await other.query("BEGIN");
      await other.query("UPDATE surfaces SET updated_at = now() WHERE key = 'home-feed'");
      await other.query("UPDATE surfaces SET kill_switch = $1 WHERE key = 'search'", [!before]);
      await other.query("COMMIT");
      await expect.poll(() => killSwitchOf(cache), { interval: 10, timeout: 5_000 }).toBe(!before);
      await expect.poll(() => homeLoads).toBe(2); // home-feed's reload was read, and waits on its gate
    } finally {
      gated.release();
      cache.stop();
      await setKillSwitch(before);
    }
  });
});

describe("a listener that stays connected but hears nothing", () => {
  it("counts itself down by its missing heartbeat: a change arrives within 3 s through the fast poll or the reconnection", async () => {
    // Break test of issue 15: with the backend stopped (as behind a silent NAT drop or a pooler) the
    // connection stayed "up", the fast poll was skipped, and a change waited CONFIG_BACKSTOP_MS.
    const polling = new SurfaceConfigCache(getDb, async () => {}, { pollMs: 50 });
    await expect.poll(configListenerUp).toBe(true);
    const before = (await polling.get("search")).killSwitch!;
    await new Promise((r) => setTimeout(r, 200)); // past the cache's first poll: from now on it polls only while the listener is down
    const pid = configListenerPid()!;
    const silences = configListenerSilences();
    process.kill(pid, "SIGSTOP");
    try {
      const started = Date.now();
      await setKillSwitch(!before);
      await expect.poll(() => killSwitchOf(polling), { interval: 20, timeout: 3_000 }).toBe(!before);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(configListenerSilences()).toBe(silences + 1);
    } finally {
      process.kill(pid, "SIGCONT");
      polling.stop();
    }
    // It reconnected and listens again: the never-polling cache hears the next change.
    await expect.poll(configListenerUp, { timeout: 10_000 }).toBe(true);
    const notified = new SurfaceConfigCache(getDb, async () => {}, { pollMs: NEVER });
    try {
      expect((await notified.get("search")).killSwitch).toBe(!before);
      await setKillSwitch(before);
      await expect.poll(() => killSwitchOf(notified), { interval: 10 }).toBe(before);
    } finally {
      notified.stop();
    }
  });
});

describe("API keys by NOTIFY", () => {
  it("a key revoked, or its creator disabled, by plain SQL elsewhere is refused here without a poll", async () => {
    const { user } = await createUser(getDb(), { email: "notify@corp.test", name: "Notify", roles: ["admin"], password: "notify long password" });
    const { key, apiKey } = await createApiKey(getDb(), { name: "notified", kind: "serving" }, user.id);
    const second = await createApiKey(getDb(), { name: "notified too", kind: "serving" }, user.id);
    await expect.poll(configListenerUp).toBe(true);
    expect(await verifyApiKey(getDb(), key)).toMatchObject({ kind: "api_key", name: "notified" });
    expect(await verifyApiKey(getDb(), second.key)).toMatchObject({ name: "notified too" });
    // Cached now: using a key (last-used written) announces nothing and keeps the verdict.
    await other.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1", [apiKey.id]);
    expect(await verifyApiKey(getDb(), key)).toMatchObject({ name: "notified" });
    await other.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [apiKey.id]);
    await expect.poll(() => verifyApiKey(getDb(), key), { interval: 10 }).toBeNull();
    expect(await verifyApiKey(getDb(), second.key)).toMatchObject({ name: "notified too" });
    await other.query("UPDATE users SET disabled = true WHERE id = $1", [user.id]);
    await expect.poll(() => verifyApiKey(getDb(), second.key), { interval: 10 }).toBeNull();
  });
});
