import type { Prisma } from "../db/generated/client";

// The model row lock that orders alias moves against the levers that point a surface at an alias.
// A move (server/registry/versions.ts setAliasIn) takes its model's row FOR UPDATE and then reads
// which surfaces the alias reaches; a lever that makes a surface name an alias of a model (stage 2,
// shadow, a started experiment's variants) takes that model's row FOR SHARE first, so it either
// commits before the move reads its reach (and the move names the surface) or waits for the move to
// commit (and points at the alias as the move left it). The house order is model, then surface
// (server/surfaces/lock.ts), as a canary's start and a rollback take them.

/**
 * Locks the rows of the given models FOR SHARE until `tx` ends, in id order (two levers locking the
 * same models cannot deadlock each other). Unknown ids or names lock nothing (the caller's own
 * checks name them). Call before the surface's lock.
 * @param models.ids model ids; models.names model names (stage 2 names its model by name). Empty or absent: nothing.
 */
export async function shareModelRows(tx: Prisma.TransactionClient, models: { ids?: ReadonlyArray<string | null | undefined>; names?: ReadonlyArray<string | null | undefined> }): Promise<void> {
  const ids = [...new Set((models.ids ?? []).filter((id): id is string => !!id))];
  const names = [...new Set((models.names ?? []).filter((name): name is string => !!name))];
  if (!ids.length && !names.length) return;
  await tx.$queryRaw`SELECT id FROM models WHERE id = ANY(${ids}::text[]) OR name = ANY(${names}::text[]) ORDER BY id FOR SHARE`;
}
