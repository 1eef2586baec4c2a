import type { Prisma } from "../db/generated/client";

/**
 * Locks one surface's row (SELECT … FOR UPDATE) until `tx` ends: the levers that change a surface's
 * settings (kill switch, shadow, stage 2, approvals, a canary's start) take turns, and each reads
 * what the one before it wrote — a repeated press then sees its change already made and writes nothing.
 * A surface that does not exist locks nothing (the caller's own read says NotFound).
 */
export async function lockSurfaceRow(tx: Prisma.TransactionClient, surface: { key: string } | { id: string }): Promise<void> {
  if ("key" in surface) await tx.$queryRaw`SELECT id FROM surfaces WHERE key = ${surface.key} FOR UPDATE`;
  else await tx.$queryRaw`SELECT id FROM surfaces WHERE id = ${surface.id} FOR UPDATE`;
}
