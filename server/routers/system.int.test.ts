import { readdirSync } from "node:fs";
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import getPort from "get-port";
import { describe, expect, it } from "vitest";
import { getDb, type Db } from "../db/client";
import { PrismaClient } from "../db/generated/client.ts";
import { seedDemo } from "../db/seed";
import { getHealth } from "../system/health";
import { appRouter } from "./_app";
import { callerAs, testPerson } from "../testing/callers";
import { contextFor } from "../trpc";

const latestMigration = readdirSync(path.join(process.cwd(), "prisma", "migrations"), { withFileTypes: true })
  .filter((e) => e.isDirectory()).map((e) => e.name).sort().at(-1);

function httpCall(url: string) {
  const req = new Request(url);
  return fetchRequestHandler({ endpoint: "/api/trpc", req, router: appRouter, createContext: () => contextFor(testPerson(["viewer"])) });
}

describe("system.health", () => {
  it("reports the version, a reachable database and the applied migration level", async () => {
    const health = await callerAs(["admin"]).system.health();
    expect(health.status).toBe("ok");
    expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(health.database.reachable).toBe(true);
    expect(health.migrationLevel).toBe(latestMigration);
    expect(Array.isArray(health.models)).toBe(true);
  });

  it("lists the loaded models to a signed-in caller only (an anonymous caller read every model's name, version and hash)", async () => {
    const { createCaller } = await import("./_app");
    const anonymous = await createCaller(contextFor(null)).system.health();
    expect(anonymous.status).toBe("ok");
    expect(anonymous).not.toHaveProperty("models");
    expect(await callerAs(["viewer"]).system.health()).toHaveProperty("models");
  });

  it("degrades instead of throwing when the database is unreachable", async () => {
    const closedPort = await getPort();
    const broken = new PrismaClient({
      adapter: new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:${closedPort}/nothing`, connectionTimeoutMillis: 1000 }),
    }) as Db;
    const started = Date.now();
    const health = await getHealth(broken, { withModels: false });
    expect(health.status).toBe("degraded");
    expect(health.database.reachable).toBe(false);
    // Plain words for a public endpoint, never the driver's text (it said "Invalid `prisma.$queryRaw()` invocation:").
    expect(health.database.error).toBe("reading the migration level failed: the database is unavailable, try again shortly");
    expect(Date.now() - started).toBeLessThan(5000);
    await broken.$disconnect();
  });
});

describe("tRPC input errors", () => {
  it("name the unknown field (400 over HTTP)", async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { key: "search", colour: "red" } }));
    const response = await httpCall(`http://test/api/trpc/surfaces.get?input=${input}`);
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error.json.message).toBe('input: unknown field "colour"');
    expect(body.error.json.data.code).toBe("BAD_REQUEST");
  });

  it("name the field that fails validation", async () => {
    const caller = callerAs(["admin"]);
    const error = await caller.surfaces.get({ key: "" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe("BAD_REQUEST");
    expect((error as TRPCError).message).toMatch(/^key: /);
  });

  it("map a missing surface to 404 with its key", async () => {
    const input = encodeURIComponent(JSON.stringify({ json: { key: "no-such-surface" } }));
    const response = await httpCall(`http://test/api/trpc/surfaces.get?input=${input}`);
    expect(response.status).toBe(404);
    expect((await response.json()).error.json.message).toBe('surface "no-such-surface" does not exist');
  });
});

describe("demo seed", () => {
  it("writes the demo data once and leaves it alone on a second run", async () => {
    const db = getDb();
    await seedDemo(db); // the file's database is a clone of the seeded template: nothing to write
    const counts = async () => ({ items: await db.catalogItem.count(), features: await db.itemFeature.count(), surfaces: await db.surface.count(), users: await db.user.count() });
    const after = await counts();
    expect(after.items).toBeGreaterThanOrEqual(2000);
    expect(after.features).toBe(after.items);
    expect(after.surfaces).toBeGreaterThanOrEqual(2);
    const second = await seedDemo(db);
    expect(second.seeded).toBe(false);
    expect(await counts()).toEqual(after);
    const surface = await callerAs(["admin"]).surfaces.get({ key: "search" });
    expect(surface.constraints).toMatchObject({ blockedFlags: expect.arrayContaining(["recalled"]) });
    const models = await callerAs(["admin"]).models.list();
    expect(models.find((m) => m.name === "search-ranker")?.aliases).toEqual(
      expect.arrayContaining([{ name: "production", version: 2 }, { name: "fallback", version: 1 }]),
    );
  });
});
