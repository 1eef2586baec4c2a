import { afterEach, describe, expect, it } from "vitest";
import { env, setEnv } from "../config";
import type { Db } from "../db/client";
import { refuseBadAdminSettings, takeAdminSettings } from "./adminSettings";

// Break test: ADMIN_PASSWORD=short refused `npm start` on a database that already had its admin,
// where the value is ignored (the configuration was parsed with it before the database was seen).

const dbWith = (passwordAccounts: number) => ({ account: { count: async () => passwordAccounts } }) as unknown as Db;

afterEach(() => {
  setEnv("ADMIN_EMAIL", undefined);
  setEnv("ADMIN_PASSWORD", undefined);
});

describe("takeAdminSettings", () => {
  it("takes a bad ADMIN_PASSWORD out of the environment, so the configuration (and a child's) parses without it", () => {
    setEnv("ADMIN_PASSWORD", "short");
    expect(() => env()).toThrow(/ADMIN_PASSWORD must be 8 to 128 characters, got a value of 5 characters/);
    const taken = takeAdminSettings();
    expect(taken).toEqual({ adminEmail: undefined, adminPassword: undefined, set: { adminEmail: false, adminPassword: true }, problem: "ADMIN_PASSWORD must be 8 to 128 characters, got a value of 5 characters" });
    expect(env().ADMIN_PASSWORD).toBeUndefined();
  });
  it("returns good values, and says which were set", () => {
    setEnv("ADMIN_EMAIL", "Ops@Example.com");
    setEnv("ADMIN_PASSWORD", "correct-horse-battery");
    expect(takeAdminSettings()).toEqual({ adminEmail: "Ops@Example.com", adminPassword: "correct-horse-battery", set: { adminEmail: true, adminPassword: true }, problem: null });
    expect(env().ADMIN_EMAIL).toBeUndefined();
    expect(takeAdminSettings()).toEqual({ adminEmail: undefined, adminPassword: undefined, set: { adminEmail: false, adminPassword: false }, problem: null });
  });
});

describe("refuseBadAdminSettings", () => {
  it("refuses a bad value only on a database where it would make the first admin", async () => {
    setEnv("ADMIN_PASSWORD", "short");
    setEnv("ADMIN_EMAIL", "not-an-email");
    const taken = takeAdminSettings();
    await expect(refuseBadAdminSettings(taken, dbWith(0))).rejects.toThrow(
      'Configuration: ADMIN_EMAIL must be an email address, got "not-an-email"; ADMIN_PASSWORD must be 8 to 128 characters, got a value of 5 characters (this database has nobody who signs in yet: it would be its first admin\'s)',
    );
    await expect(refuseBadAdminSettings(taken, dbWith(1))).resolves.toBeUndefined();
    await expect(refuseBadAdminSettings({ set: { adminEmail: false, adminPassword: false }, problem: null }, dbWith(0))).resolves.toBeUndefined();
  });
});
