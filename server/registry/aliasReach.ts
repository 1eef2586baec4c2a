import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { aliasRolesOf, type AliasRole } from "../domain/rollouts/aliasReach";

// Which surfaces a model alias reaches: the one answer to "who is affected if this alias moves",
// read by the alias move itself (its audit entry, promotion-history row and webhook name one list,
// read inside the move's transaction), by approvals (a guarded surface among them needs a second
// person), and by the confirm dialogs of the Models, On-call and Serving history pages.

export interface SurfaceReached {
  id: string;
  key: string;
  requireApproval: boolean;
  /** How the surface uses the alias (server/domain/rollouts/aliasReach.ts), at least one. */
  roles: AliasRole[];
}

type Reader = Db | Prisma.TransactionClient;

/**
 * Every surface that `alias` of the model reaches, sorted by key, each with its roles: its own
 * model's serving, canary (`canary@<surface>`), fallback or shadow alias, a running experiment's
 * variant, or stage 2 of its cascade (which may name any model). Pass the transaction that moves
 * the alias so that the list is what the move changed.
 * @param target.modelId, target.modelName: the registry model (stage 2 names its model by name); target.alias: the alias name.
 */
export async function surfacesReachedBy(db: Reader, target: { modelId: string; modelName: string; alias: string }): Promise<SurfaceReached[]> {
  const { modelId, modelName, alias } = target;
  const canaryOf = alias.startsWith("canary@") ? alias.slice("canary@".length) : null;
  const rows = await db.surface.findMany({
    where: {
      OR: [
        {
          modelId,
          OR: [
            { modelAlias: alias }, { fallbackAlias: alias }, { shadowAlias: alias },
            ...(canaryOf ? [{ key: canaryOf }] : []),
            { experiments: { some: { status: "running", variants: { some: { modelAlias: alias } } } } },
          ],
        },
        { AND: [{ stage2: { path: ["model"], equals: modelName } }, { stage2: { path: ["alias"], equals: alias } }] },
      ],
    },
    select: {
      id: true, key: true, requireApproval: true, modelId: true, modelAlias: true, fallbackAlias: true, shadowAlias: true, stage2: true,
      experiments: { where: { status: "running", variants: { some: { modelAlias: alias } } }, select: { id: true }, take: 1 },
    },
    orderBy: { key: "asc" },
  });
  return rows
    .map((s) => ({ id: s.id, key: s.key, requireApproval: s.requireApproval, roles: aliasRolesOf({ ...s, experimentVariant: s.experiments.length > 0 }, target) }))
    .filter((s) => s.roles.length > 0);
}
