import { getDb } from "../db/client";
import type { Prisma } from "../db/generated/client";

/**
 * Holds row locks in a transaction of its own (integration tests of levers that queue for a lock):
 * `lock` runs first and takes them; `isLocked` resolves once it has; the transaction then waits for
 * `release()`, runs `during` (a write made while others queued) and commits; `done` resolves after.
 */
export function holdRowLocks(lock: (tx: Prisma.TransactionClient) => Promise<unknown>, during: (tx: Prisma.TransactionClient) => Promise<unknown> = async () => {}) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => { locked = resolve; });
  const done = getDb().$transaction(async (tx) => {
    await lock(tx);
    locked();
    await released;
    await during(tx);
  }, { timeout: 30_000 });
  return { isLocked, release, done };
}
