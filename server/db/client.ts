import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";
import { env } from "../config";
import { inUtc } from "./pgClient";

export type Db = InstanceType<typeof PrismaClient>;

// One client per process (and per DATABASE_URL), kept on globalThis so Next's dev reloads do not
// open a new pool on every edit.
const holder = globalThis as unknown as { __rerankDb?: { url: string; client: Db } };

export function databaseUrl(): string {
  const url = env().DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set (npm start sets it when it starts embedded PostgreSQL)");
  return url;
}

export function getDb(): Db {
  const url = databaseUrl();
  if (holder.__rerankDb?.url !== url) {
    const adapter = new PrismaPg(inUtc({ connectionString: url, max: env().DATABASE_POOL_SIZE }));
    holder.__rerankDb = { url, client: new PrismaClient({ adapter }) };
  }
  return holder.__rerankDb.client;
}

export async function disconnectDb(): Promise<void> {
  const current = holder.__rerankDb;
  holder.__rerankDb = undefined;
  await current?.client.$disconnect();
}
