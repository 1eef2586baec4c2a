import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import { NotFoundError } from "../errors";
import { recordPromotion } from "../history/record";
import { surfacesReachedBy } from "./aliasReach";

// Clearing a model alias (a surface's canary alias when its rollout ends). Its own module so that
// the rollout guard of alias moves (server/rollouts/servingAliasGuard.ts), which setAliasIn calls,
// can end a rollout without importing the alias mover back.

/**
 * Removes `alias` from a model (a surface's canary alias when its rollout ends), audited and
 * recorded in the promotion history; nothing happens if the alias is not set. `surface`: the one
 * surface the alias belongs to, named by the audit entry and the history row.
 */
export async function clearAliasIn(tx: Prisma.TransactionClient, input: { modelId: string; alias: string; actor: Actor; reason: string; surface?: string }) {
  const model = await tx.model.findUnique({ where: { id: input.modelId }, select: { id: true, name: true } });
  if (!model) throw new NotFoundError("model", input.modelId);
  await tx.$queryRaw`SELECT id FROM models WHERE id = ${model.id} FOR UPDATE`;
  const before = await tx.modelAlias.findUnique({ where: { modelId_name: { modelId: model.id, name: input.alias } }, select: { id: true, version: { select: { id: true, version: true } } } });
  if (!before) return;
  const reached = await surfacesReachedBy(tx, { modelId: model.id, modelName: model.name, alias: input.alias });
  const surfaces = [...new Set([...reached.map((s) => s.key), ...(input.surface ? [input.surface] : [])])].sort();
  await tx.modelAlias.delete({ where: { id: before.id } });
  await recordAudit(tx, {
    action: "model.alias.clear", actor: input.actor, subject: subjects.model(model.id, model.name), reason: input.reason, surfaces,
    before: { alias: input.alias, versionId: before.version.id, version: before.version.version }, after: { alias: input.alias, model: model.name, reached: surfaces },
  });
  const stage2Surfaces = reached.filter((s) => s.roles.includes("stage2")).map((s) => s.key);
  await recordPromotion(tx, { kind: "alias_move", actor: input.actor, reason: input.reason, model, alias: input.alias, surface: input.surface, surfaces, stage2Surfaces, from: before.version, to: null });
}
