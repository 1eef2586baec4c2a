import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, disconnectDb, type Db } from "./client";
import { setEnv } from "../config";
import { rerank } from "../rerank/pipeline";
import { closeTelemetry } from "../telemetry/streams";
import { PrismaClient } from "./generated/client.ts";
import { adminUrlOf, dropDatabase } from "./embedded";
import { inUtc } from "./pgClient";
import { prepareDatabase } from "./prepare";
import { SeedError, seedDemo } from "./seed";
import { MigrationError } from "./migrate";
import { DEMO_MODELS, demoFeatureSpec } from "../demo/models";
import { createVersion, setAlias } from "../registry/versions";
import { systemActor } from "../audit/actor";
import { scratchDatabase, waitUntilIdle, withClient } from "../testing/postgres";

// Start break test: a SIGKILL during demo seeding left search-ranker with v1 only (its model row was
// the "already seeded" marker, its versions and aliases written after it); the next start served
// "no_model" on search, and every start after it died with "ConflictError: this artifact is already
// search-ranker v1" and a stack trace. Here seeding is stopped after each of its writes in turn (a
// kill between two commits), then run again: the demo must end as a clean seed makes it.

let base: { url: string; drop(): Promise<void> };
const made: string[] = [];
const clients: Db[] = [];

beforeAll(async () => {
  base = await scratchDatabase(databaseUrl(), "seedbase");
  await prepareDatabase(base.url); // migrated, not seeded
  await waitUntilIdle(base.url);
}, 120_000);

afterAll(async () => {
  for (const client of clients) await client.$disconnect().catch(() => {});
  for (const name of made) await dropDatabase(adminUrlOf(base.url), name).catch(() => {});
  await base?.drop();
});

/** A fresh copy of the migrated, unseeded database, and a Prisma client on it. */
async function freshDb(label: string): Promise<{ db: Db; url: string; close(): Promise<void> }> {
  const name = `${new URL(base.url).pathname.slice(1)}_${label}`;
  await withClient(adminUrlOf(base.url), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}"`);
    await c.query(`CREATE DATABASE "${name}" TEMPLATE "${new URL(base.url).pathname.slice(1)}"`);
  });
  made.push(name);
  const url = Object.assign(new URL(base.url), { pathname: `/${name}` }).toString();
  const db = new PrismaClient({ adapter: new PrismaPg(inUtc({ connectionString: url, max: 4 })) });
  clients.push(db);
  return {
    db, url,
    close: async () => {
      await db.$disconnect();
      await dropDatabase(adminUrlOf(base.url), name);
    },
  };
}

const WRITES = /^(create|createMany|createManyAndReturn|update|updateMany|upsert|delete|deleteMany)$/;

/**
 * `db` whose writes stop after `allowed` of them (each write of the seed's own, and each
 * transaction, commits on its own: stopping before the next is a kill between two commits).
 * `count()` says how many were made.
 */
function stoppingAfter(db: Db, allowed: number): { db: Db; count(): number } {
  let writes = 0;
  const guard = () => {
    if (writes >= allowed) throw new Error(`injected stop after ${allowed} writes`);
    writes++;
  };
  const wrapped = new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === "$transaction") return (...args: unknown[]) => (guard(), (target.$transaction as (...a: unknown[]) => unknown)(...args));
      if (typeof prop === "string" && !prop.startsWith("$") && value && typeof value === "object") {
        return new Proxy(value, {
          get(delegate, method) {
            const fn = Reflect.get(delegate, method, delegate) as unknown;
            if (typeof fn !== "function") return fn;
            if (typeof method === "string" && WRITES.test(method)) return (...args: unknown[]) => (guard(), fn.apply(delegate, args));
            return fn.bind(delegate);
          },
        });
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db: wrapped, count: () => writes };
}

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** What the demo is made of: models with their versions (number, artifact) and aliases, surfaces and what they serve, catalog size. */
async function demoState(db: Db) {
  const models = await db.model.findMany({
    orderBy: { name: "asc" },
    select: { name: true, surface: { select: { key: true } }, versions: { orderBy: { version: "asc" }, select: { version: true, sha256: true, parent: { select: { version: true } } } }, aliases: { orderBy: { name: "asc" }, select: { name: true, version: { select: { version: true, sha256: true } } } } },
  });
  const surfaces = await db.surface.findMany({
    orderBy: { key: "asc" },
    select: { key: true, model: { select: { name: true } }, modelAlias: true, fallbackAlias: true, shadowAlias: true, shadowSampleRate: true, stage2: true },
  });
  return { models, surfaces, items: await db.catalogItem.count(), features: await db.itemFeature.count() };
}

let clean: Awaited<ReturnType<typeof demoState>>;
let cleanWrites = 0;

describe("demo seeding interrupted", () => {
  it("a clean seed: search-ranker v1 fallback, v2 production, v3 shadow", async () => {
    const fresh = await freshDb("clean");
    const counted = stoppingAfter(fresh.db, Number.POSITIVE_INFINITY);
    expect((await seedDemo(counted.db)).seeded).toBe(true);
    cleanWrites = counted.count();
    clean = await demoState(fresh.db);
    const ranker = clean.models.find((m) => m.name === "search-ranker")!;
    expect(ranker.aliases.map((a) => [a.name, a.version.version, a.version.sha256])).toEqual([
      ["fallback", 1, sha(DEMO_MODELS.popularity.file)],
      ["production", 2, sha(DEMO_MODELS.linear.file)],
      ["shadow", 3, sha(DEMO_MODELS.candidate.file)],
    ]);
    expect(await seedDemo(fresh.db)).toEqual({ seeded: false });
    expect(cleanWrites).toBeGreaterThan(8);
    await fresh.close();
  }, 120_000);

  it("break test: stopped after each write in turn, the next run completes the demo as a clean seed makes it", async () => {
    expect(cleanWrites).toBeGreaterThan(0);
    for (let k = 0; k < cleanWrites; k++) {
      const fresh = await freshDb(`k${k}`);
      const error = await seedDemo(stoppingAfter(fresh.db, k).db).then(() => null, (e: Error) => e);
      expect(await seedDemo(fresh.db).then((r) => r.seeded, (e: Error) => e.message), `stopped after ${k} writes`).toBe(true);
      expect(await demoState(fresh.db), `stopped after ${k} writes`).toEqual(clean);
      expect(await seedDemo(fresh.db)).toEqual({ seeded: false });
      expect(error, `stopped after ${k} writes`).toBeInstanceOf(SeedError);
      expect(error!.message).toMatch(/^Seeding .+ failed: injected stop after \d+ writes; the next start completes it$/);
      await fresh.close();
    }
  }, 600_000);
});

describe("a database an earlier seed left half-seeded", () => {
  it("break test: search-ranker with v1 and the candidate under shadow is completed, without a ConflictError", async () => {
    const fresh = await freshDb("legacy");
    const { db } = fresh;
    // Start #1, killed after the catalog and search-ranker v1; start #2's old shadow step then stored the candidate as v2.
    await expect(seedDemo(stoppingAfter(db, 1).db)).rejects.toThrow(SeedError);
    const search = await db.surface.findUniqueOrThrow({ where: { key: "search" } });
    const model = await db.model.create({ data: { name: "search-ranker", owner: "ml@rerank.local", description: "Demo", surfaceId: search.id } });
    const seed = systemActor("seed");
    const v1 = await createVersion(db, { modelId: model.id, bytes: readFileSync(DEMO_MODELS.popularity.file), featureSpec: demoFeatureSpec(), source: "demo", actor: seed });
    const v2 = await createVersion(db, { modelId: model.id, bytes: readFileSync(DEMO_MODELS.candidate.file), featureSpec: demoFeatureSpec(), source: "demo", actor: seed });
    await db.surface.update({ where: { key: "search" }, data: { shadowAlias: "shadow", shadowSampleRate: 0.25 } });
    await setAlias(db, { versionId: v2.id, alias: "shadow", actor: seed, reason: "demo seed" });
    expect([v1.version, v2.version]).toEqual([1, 2]);

    const lines: string[] = [];
    expect((await seedDemo(db, (line) => lines.push(line))).seeded).toBe(true);
    expect(lines).toContain("completed the half-seeded demo model search-ranker: v1 (fallback), v3 (production)");
    const state = await demoState(db);
    const ranker = state.models.find((m) => m.name === "search-ranker")!;
    expect(ranker.aliases.map((a) => [a.name, a.version.sha256])).toEqual([
      ["fallback", sha(DEMO_MODELS.popularity.file)],
      ["production", sha(DEMO_MODELS.linear.file)],
      ["shadow", sha(DEMO_MODELS.candidate.file)],
    ]);
    // Everything else as a clean seed makes it.
    expect(state.surfaces).toEqual(clean.surfaces);
    expect(state.models.filter((m) => m.name !== "search-ranker")).toEqual(clean.models.filter((m) => m.name !== "search-ranker"));
    expect([state.items, state.features]).toEqual([clean.items, clean.features]);
    expect(await seedDemo(db)).toEqual({ seeded: false });
    // Search serves with the model again (it fell back with no_model).
    const own = databaseUrl();
    await disconnectDb();
    setEnv("DATABASE_URL", fresh.url);
    try {
      const items = await db.catalogItem.findMany({ where: { safetyFlags: { isEmpty: true } }, take: 20, orderBy: { id: "asc" }, select: { id: true } });
      const response = await rerank({ surface: "search", topK: 5, candidates: items.map((item, i) => ({ id: item.id, retrievalScore: 1 - i / 20 })) });
      expect([response.modelVersion, response.fallback]).toEqual([expect.objectContaining({ name: "search-ranker", version: 3, alias: "production" }), { used: false, reason: null, servedBy: "model" }]);
    } finally {
      await closeTelemetry(); // its rows to this database before it is dropped (this file serves nothing else)
      await disconnectDb();
      setEnv("DATABASE_URL", own);
    }
    await fresh.close();
  }, 120_000);

  it("an alias the seed set and someone cleared later is not set again", async () => {
    const fresh = await freshDb("cleared");
    await seedDemo(fresh.db);
    const ranker = await fresh.db.model.findUniqueOrThrow({ where: { name: "search-ranker" } });
    await fresh.db.surface.update({ where: { key: "search" }, data: { shadowAlias: null, shadowSampleRate: 0 } });
    await fresh.db.modelAlias.delete({ where: { modelId_name: { modelId: ranker.id, name: "shadow" } } });
    expect(await seedDemo(fresh.db)).toEqual({ seeded: false });
    expect(await fresh.db.modelAlias.count({ where: { modelId: ranker.id, name: "shadow" } })).toBe(0);
    await fresh.close();
  }, 120_000);

  it("a failing step is one line naming it, and is a MigrationError (printed as one line by npm start and db:migrate)", async () => {
    const fresh = await freshDb("fails");
    await fresh.db.$executeRawUnsafe(`CREATE FUNCTION refuse_models() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'models are refused here'; END $$`);
    await fresh.db.$executeRawUnsafe(`CREATE TRIGGER refuse_models BEFORE INSERT ON models FOR EACH ROW EXECUTE FUNCTION refuse_models()`);
    const error = await seedDemo(fresh.db).then(() => null, (e: Error) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error!.message).toMatch(/^Seeding the demo model search-ranker failed: .*models are refused here.*; the next start completes it$/);
    expect(error!.message).not.toContain("\n");
    await fresh.close();
  }, 120_000);
});
