import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import { canaryAliasOf } from "../domain/rollouts/canary";
import type { AliasChangeKind } from "../domain/rollouts/history";
import { ConflictError } from "../errors";
import { recordPromotion } from "../history/record";
import { clearAliasIn } from "../registry/clearAlias";
import { notifyInTransaction } from "../webhooks/notify";

// A rollout judges its canary against the serving alias it started from (Argo Rollouts' stable).
// A move of that alias made outside the rollout while it is running or paused would change the
// baseline under it, so, as Argo Rollouts does with an out-of-band change to the stable, the move
// is refused (409 naming the rollout), and so is a move of its canary alias. The one exception is
// the one-button on-call rollback, which must always work: it moves the alias and aborts the
// rollout ("serving alias moved by rollback"), with audit, history and webhook. The rollout's own
// moves (its canary alias at the start, its promotion) pass.

/** Why a rollout ended when an on-call rollback moved its serving alias. */
export const ROLLBACK_ABORT_REASON = "serving alias moved by rollback";

const ACTIVE = ["running", "paused"] as const;

/** The running and paused rollouts (oldest first, other than `rolloutId`) whose baseline or canary alias is `alias` of the model. */
async function rolloutsJudgedOn(db: Prisma.TransactionClient | Db, move: { modelId: string; alias: string; rolloutId?: string }) {
  const canaryOf = move.alias.startsWith("canary@") ? move.alias.slice("canary@".length) : null;
  const rows = await db.rollout.findMany({
    where: {
      modelId: move.modelId, status: { in: [...ACTIVE] }, ...(move.rolloutId ? { id: { not: move.rolloutId } } : {}),
      surface: canaryOf ? { key: canaryOf } : { modelId: move.modelId, modelAlias: move.alias },
    },
    orderBy: { startedAt: "asc" },
    select: { id: true, status: true, currentPercent: true, toVersionId: true, surface: { select: { key: true } }, model: { select: { versions: { select: { id: true, version: true } } } } },
  });
  return rows.map((r) => ({ ...r, version: r.model.versions.find((v) => v.id === r.toVersionId)?.version ?? 0 }));
}

/** The refusal of a move (not a rollback) of an alias rollout `r` is judged on. */
function aliasMoveRefusal(move: { modelName: string; alias: string }, r: { id: string; status: string; currentPercent: number; version: number; surface: { key: string } }): string {
  const role = move.alias.startsWith("canary@") ? "the canary" : "the serving alias (the baseline)";
  return `${move.modelName} ${move.alias} is ${role} of rollout ${r.id} on "${r.surface.key}" (${r.status}, v${r.version} at ${r.currentPercent} %): `
    + `moving it now would change what that canary is judged against. Promote or abort the rollout first (an on-call rollback always works, and aborts it)`;
}

/**
 * Why a move (not a rollback) of `alias` of the model would be refused now (settleRolloutsOnAlias), or
 * null: the Approvals list's word on a pending alias move or ship while a canary is judged on it.
 */
export async function aliasMoveBlocked(db: Db, move: { modelId: string; modelName: string; alias: string }): Promise<string | null> {
  const [r] = await rolloutsJudgedOn(db, move);
  return r ? aliasMoveRefusal(move, r) : null;
}

/**
 * Called by setAliasIn under the model's lock, before the alias moves. Rollouts whose baseline (the
 * surface's serving alias) or canary alias is `move.alias` of the model, other than `move.rolloutId`:
 * a rollback aborts each (returned); any other move is refused.
 * Callers that roll back lock those rollouts' rows first (lockRolloutsOfModel), in the order the
 * judge takes them (rollout, then model), so the two never deadlock.
 * @throws ConflictError naming the rollout, its surface, state and version, for a move that is not a rollback.
 */
export async function settleRolloutsOnAlias(
  tx: Prisma.TransactionClient, move: { modelId: string; modelName: string; alias: string; kind: AliasChangeKind; rolloutId?: string }, actor: Actor,
): Promise<string[]> {
  const canaryOf = move.alias.startsWith("canary@") ? move.alias.slice("canary@".length) : null;
  const rollouts = await rolloutsJudgedOn(tx, move);
  if (rollouts.length === 0) return [];
  if (move.kind !== "rollback" || canaryOf) throw new ConflictError(aliasMoveRefusal(move, rollouts[0]!));
  for (const r of rollouts) {
    const changed = await tx.rollout.updateMany({ where: { id: r.id, status: { in: [...ACTIVE] } }, data: { status: "aborted", currentPercent: 0, endedAt: new Date() } });
    if (changed.count === 0) continue;
    const version = r.version;
    const model = { id: move.modelId, name: move.modelName };
    await clearAliasIn(tx, { modelId: move.modelId, alias: canaryAliasOf(r.surface.key), surface: r.surface.key, actor, reason: `canary rollout on ${r.surface.key} aborted: ${ROLLBACK_ABORT_REASON}` });
    await recordAudit(tx, {
      action: "rollout.aborted", actor, subject: subjects.rollout(r.id, move.modelName, version, r.surface.key), surfaces: [r.surface.key],
      before: { percent: r.currentPercent }, after: { surface: r.surface.key, model: move.modelName, version, percent: 0, status: "aborted" }, reason: ROLLBACK_ABORT_REASON,
    });
    await recordPromotion(tx, { kind: "canary_aborted", actor, reason: ROLLBACK_ABORT_REASON, surface: r.surface.key, model, rolloutId: r.id, percent: 0, to: { id: r.toVersionId, version } });
    await notifyInTransaction(tx, {
      kind: "canary.rolled_back", actor: actor.name, reason: ROLLBACK_ABORT_REASON,
      data: { rolloutId: r.id, surface: r.surface.key, model: move.modelName, version, percent: r.currentPercent, mode: "rollback" },
    });
  }
  return rollouts.map((r) => r.id);
}

/** A running or paused rollout judged against a serving alias: what a rollback of that alias aborts (its dialog, response and toast name them). */
export interface RolloutOnAlias {
  id: string;
  surface: string;
  status: string;
  version: number;
  percent: number;
}

/**
 * The running and paused rollouts whose baseline is `alias` of the model (their surface's serving
 * alias), oldest first: exactly those settleRolloutsOnAlias aborts when a rollback moves it. Read
 * under the rollouts' and the model's locks (as rollbackSurface does), it is the list the move aborts.
 */
export async function rolloutsOnServingAlias(db: Prisma.TransactionClient | Db, target: { modelId: string; alias: string }): Promise<RolloutOnAlias[]> {
  const rows = await db.rollout.findMany({
    where: { modelId: target.modelId, status: { in: [...ACTIVE] }, surface: { modelId: target.modelId, modelAlias: target.alias } },
    orderBy: { startedAt: "asc" },
    select: { id: true, status: true, currentPercent: true, toVersionId: true, surface: { select: { key: true } }, model: { select: { versions: { select: { id: true, version: true } } } } },
  });
  return rows.map((r) => ({ id: r.id, surface: r.surface.key, status: r.status, percent: r.currentPercent, version: r.model.versions.find((v) => v.id === r.toVersionId)?.version ?? 0 }));
}

/** Locks the running and paused rollouts of a model (rollout rows before the model's row, as the judge does): see settleRolloutsOnAlias. */
export async function lockRolloutsOfModel(tx: Prisma.TransactionClient, modelId: string): Promise<void> {
  await tx.$queryRaw`SELECT id FROM rollouts WHERE model_id = ${modelId} AND status IN ('running', 'paused') ORDER BY id FOR UPDATE`;
}
