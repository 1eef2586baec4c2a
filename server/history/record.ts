import type { Prisma } from "../db/generated/client";
import type { Actor } from "../audit/actor";

// The one writer of the promotion history. Call it beside recordAudit(), inside the transaction
// that makes the change, so the history and the change commit together. The table refuses UPDATE
// and DELETE (a trigger): a row, once committed, stays as written.

type Writer = Pick<Prisma.TransactionClient, "promotionHistory">;
type Kind = Prisma.PromotionHistoryCreateInput["kind"];

export interface PromotionEntry {
  kind: Kind;
  actor: Actor;
  reason?: string | null;
  model?: { id: string; name: string } | null;
  alias?: string;
  /** The surface the row belongs to: a canary or kill-switch row's surface, or the surface whose canary alias moved. */
  surface?: string;
  /**
   * Every surface the change reaches (an alias move: surfacesReachedBy, read in the move's
   * transaction); `surface` is always among them. Stored sorted, without repeats.
   */
  surfaces?: string[];
  /** Those of `surfaces` the change reached as stage 2 of their cascade (an alias move; a stage-2 row names its surface). */
  stage2Surfaces?: string[];
  from?: { id: string; version: number } | null;
  to?: { id: string; version: number } | null;
  /** The canary's share after the change, 0–100. */
  percent?: number;
  killSwitch?: boolean;
  rolloutId?: string;
}

export async function recordPromotion(tx: Writer, entry: PromotionEntry): Promise<void> {
  await tx.promotionHistory.create({
    data: {
      kind: entry.kind, actor: entry.actor.name, actorKind: entry.actor.kind, reason: entry.reason ?? null,
      modelId: entry.model?.id ?? null, modelName: entry.model?.name ?? null, alias: entry.alias ?? null, surfaceKey: entry.surface ?? null,
      surfaces: [...new Set([...(entry.surfaces ?? []), ...(entry.stage2Surfaces ?? []), ...(entry.surface ? [entry.surface] : [])])].sort(),
      stage2Surfaces: [...new Set(entry.stage2Surfaces ?? [])].sort(),
      fromVersionId: entry.from?.id ?? null, fromVersion: entry.from?.version ?? null, toVersionId: entry.to?.id ?? null, toVersion: entry.to?.version ?? null,
      percent: entry.percent ?? null, killSwitch: entry.killSwitch ?? null, rolloutId: entry.rolloutId ?? null,
    },
  });
}
