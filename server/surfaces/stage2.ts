import { LEVER_TRANSACTION, type UnderLock } from "../db/leverTransaction";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import { canonicalJson } from "../domain/canonicalJson";
import { changedSince } from "../domain/changedSince";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { recordPromotion } from "../history/record";
import { stage2ConfigSchema, type Stage2Config } from "./stage2.schema";
import { shareModelRows } from "../registry/modelLock";
import { lockSurfaceRow } from "./lock";

// Stage 2 of a surface's cascade, set or removed (audited). The model and its alias must exist when
// written; an alias cleared later leaves stage 2 unresolved, and stage 1's order serves, marked.

export interface Stage2Input {
  surface: string;
  /** null removes stage 2. */
  stage2: Stage2Config | null;
  reason?: string;
  /**
   * The stage 2 the person saw when they chose the change (null: none): when it differs from the
   * stored one under the surface's lock, nothing is written (ConflictError, 409). Absent: not pinned (scripts).
   */
  expectBefore?: Stage2Config | null;
}

type Reader = Db | Prisma.TransactionClient;

/**
 * Checks a stage 2 for `surface` against the registry, changing nothing (a change request is
 * checked when filed, and again when applied).
 * @throws InvalidInputError on `stage2.model` / `stage2.alias` when the model or its alias does not
 *   exist, or when stage 2 would be the surface's own serving version.
 */
export async function checkStage2(db: Reader, surface: { key: string; modelId: string | null; modelAlias: string }, next: Stage2Config | null): Promise<void> {
  if (!next) return;
  const model = await db.model.findUnique({ where: { name: next.model }, select: { id: true, name: true, aliases: { select: { name: true } } } });
  if (!model) throw new InvalidInputError("stage2.model", `no model is registered as "${next.model}"`);
  if (!model.aliases.some((a) => a.name === next.alias)) {
    const known = model.aliases.map((a) => a.name).sort().join(", ") || "none";
    throw new InvalidInputError("stage2.alias", `${model.name} has no alias "${next.alias}" (it has: ${known})`);
  }
  if (model.id === surface.modelId && next.alias === surface.modelAlias) {
    throw new InvalidInputError("stage2.alias", `${model.name} ${next.alias} already serves "${surface.key}" as stage 1: stage 2 rescores with another model`);
  }
}

/**
 * Sets (or removes) the surface's stage 2, audited. Approvals are checked by the caller
 * (server/approvals/service.ts setStage2, or an approved `surface_stage2` request).
 * @returns the surface key and its stage 2 as stored.
 * @throws NotFoundError for an unknown surface; InvalidInputError as checkStage2.
 */
export async function configureStage2(db: Db, input: Stage2Input, actor: Actor, check: { expectBefore?: Stage2Config | null; underLock?: UnderLock } = {}): Promise<{ key: string; stage2: Stage2Config | null }> {
  return db.$transaction(async (tx) => {
    // The models of the stage 2 it replaces and the one it sets, before the surface (server/registry/modelLock.ts):
    // a move of either alias then reads its reach before or after this change, never across it.
    const shown = await tx.surface.findUnique({ where: { key: input.surface }, select: { stage2: true } });
    await shareModelRows(tx, { names: [stage2ConfigSchema.safeParse(shown?.stage2).data?.model, input.stage2?.model] });
    // Changes of one surface's stage 2 take turns: a change approved against the stage 2 it showed is compared under the lock.
    await lockSurfaceRow(tx, { key: input.surface });
    await check.underLock?.(tx);
    const surface = await tx.surface.findUnique({ where: { key: input.surface }, select: { id: true, key: true, stage2: true, modelId: true, modelAlias: true } });
    if (!surface) throw new NotFoundError("surface", input.surface);
    const next = input.stage2;
    await checkStage2(tx, surface, next);
    const before = stage2ConfigSchema.safeParse(surface.stage2).data ?? null;
    const changed = check.expectBefore !== undefined ? stage2ChangedSince(surface.key, check.expectBefore, before)
      : input.expectBefore !== undefined ? stage2ChangedSince(surface.key, input.expectBefore, before, "shown") : null;
    if (changed) throw new ConflictError(changed);
    // Already so (a repeated press, an approval of what was since done by hand): nothing written, nothing audited.
    if (canonicalJson(before) === canonicalJson(next)) return { key: surface.key, stage2: before };
    await tx.surface.update({ where: { id: surface.id }, data: { stage2: next ?? Prisma.DbNull, configVersion: { increment: 1 } } });
    await recordAudit(tx, {
      action: "surface.stage2", actor, subject: subjects.surface(surface.id, surface.key), surfaces: [surface.key], before, after: next, reason: input.reason ?? null,
    });
    await recordStage2Change(tx, { surface: surface.key, before, next, actor, reason: input.reason ?? null });
    return { key: surface.key, stage2: next };
  }, LEVER_TRANSACTION);
}

/** A stage 2 in words: "demo-cross-encoder production over the top 20 within 150 ms", or "none". */
export const stage2Words = (c: Stage2Config | null) => (c ? `${c.model} ${c.alias} over the top ${c.rerankCount} within ${c.budgetMs} ms` : "none");

/**
 * Why a change against stage 2 `pinned` must not apply over `now`, or null when they are the same
 * (compared as canonical JSON: jsonb gives keys back in another order). `since`: who pinned it, a
 * request's summary ("filed"), the dialog saving ("shown"), or the dialog filing a request ("filing":
 * nothing is filed).
 */
export function stage2ChangedSince(surface: string, pinned: Stage2Config | null, now: Stage2Config | null, since: "filed" | "shown" | "filing" = "filed"): string | null {
  if (canonicalJson(now) === canonicalJson(pinned)) return null;
  const change = { shown: stage2Words(pinned), now: stage2Words(now) };
  return since === "filing"
    ? changedSince({ what: `stage 2 of ${surface}`, change, since: "shown", outcome: "no request filed" })
    : changedSince({ what: `stage 2 of ${surface}`, change, since });
}

/** The newest change of a surface's stage 2, from the audit trail: what it was before and after, who, when and why. */
export interface Stage2Change {
  before: Stage2Config | null;
  after: Stage2Config | null;
  actor: string;
  at: Date;
  reason: string | null;
  /** Whether the stored stage 2 is still what that change left (then restoring `before` undoes exactly it). */
  current: boolean;
}

/**
 * The newest audited change of `surface`'s stage 2 (set, edited, removed; directly or by an approved
 * request), or null when none is recorded (a stage 2 from the seed). Restoring its `before` with
 * `expectBefore: after` undoes it, refused with a 409 if stage 2 moved on meanwhile.
 * @throws NotFoundError for an unknown surface.
 */
export async function lastStage2Change(db: Reader, surfaceKey: string): Promise<Stage2Change | null> {
  const surface = await db.surface.findUnique({ where: { key: surfaceKey }, select: { id: true, stage2: true } });
  if (!surface) throw new NotFoundError("surface", surfaceKey);
  const entry = await db.auditLog.findFirst({
    where: { action: "surface.stage2", entityType: "surface", entityId: surface.id },
    orderBy: { id: "desc" }, select: { before: true, after: true, actor: true, ts: true, reason: true },
  });
  if (!entry) return null;
  const read = (stored: unknown) => stage2ConfigSchema.safeParse(stored).data ?? null;
  const after = read(entry.after);
  const now = read(surface.stage2);
  return { before: read(entry.before), after, actor: entry.actor, at: entry.ts, reason: entry.reason, current: canonicalJson(after) === canonicalJson(now) };
}

/**
 * The promotion-history row of a stage-2 change of `surface` (kind "stage2", stage 2 of the surface):
 * the model and alias that rescore its top from now on and the version that alias points at (the
 * history of that alias then says which version rescored when); a removal names the model and
 * alias removed, with no version. Written in the transaction of the change (configureStage2, the seed).
 */
export async function recordStage2Change(tx: Prisma.TransactionClient, change: { surface: string; before: Stage2Config | null; next: Stage2Config | null; actor: Actor; reason: string | null }): Promise<void> {
  const shown = change.next ?? change.before;
  if (!shown) return;
  const model = await tx.model.findUnique({ where: { name: shown.model }, select: { id: true, name: true, aliases: { where: { name: shown.alias }, select: { version: { select: { id: true, version: true } } } } } });
  const pointed = change.next ? (model?.aliases[0]?.version ?? null) : null;
  const beforeWords = change.before ? `${change.before.model} ${change.before.alias}` : "none";
  await recordPromotion(tx, {
    kind: "stage2", actor: change.actor, reason: change.reason ?? `stage 2: ${beforeWords} → ${change.next ? `${change.next.model} ${change.next.alias}` : "none"}`,
    model: model ? { id: model.id, name: model.name } : null, alias: shown.alias, surface: change.surface, stage2Surfaces: [change.surface], to: pointed,
  });
}
