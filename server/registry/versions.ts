import { LEVER_TRANSACTION, type UnderLock } from "../db/leverTransaction";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { subjects } from "../domain/audit/subject";
import { Prisma } from "../db/generated/client.ts";
import type { FeatureSpec } from "../domain/features/featureSpec";
import { ConflictError, NotFoundError } from "../errors";
import { env } from "../config";
import { validateArtifact, type ValidatedArtifact } from "./validateArtifact";
import type { AliasChangeKind } from "../domain/rollouts/history";
import { recordPromotion } from "../history/record";
import { notifyInTransaction } from "../webhooks/notify";
import { surfacesReachedBy } from "./aliasReach";
import { versionWords } from "./versionWords";
import { changedSince } from "../domain/changedSince";
import { settleRolloutsOnAlias } from "../rollouts/servingAliasGuard";

export { clearAliasIn } from "./clearAlias";

// Registering a model version: every check runs before anything is written, so a refused upload
// leaves the registry as it was. Versions are immutable once stored.

/** MODEL_MAX_BYTES (server/config.ts), 50 MiB by default. */
export function maxModelBytes(): number {
  return env().MODEL_MAX_BYTES;
}

export interface NewVersion {
  modelId: string;
  bytes: Uint8Array;
  featureSpec: FeatureSpec;
  source?: string;
  /** "onnx" (a feature-vector model, the default) or "cross-encoder" (a bundle's tar; `validated` required). */
  format?: "onnx" | "cross-encoder";
  metadata?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  parentVersionId?: string | null;
  /** Who registers it: recorded as the version's creator and in the audit trail. */
  actor: Actor;
  /** Set when `bytes` already passed validateArtifact (in the upload's worker thread): not loaded again here. */
  validated?: ValidatedArtifact;
}

export async function createVersion(db: Db, input: NewVersion) {
  const model = await db.model.findUnique({ where: { id: input.modelId }, select: { id: true, name: true, surface: { select: { key: true } } } });
  if (!model) throw new NotFoundError("model", input.modelId);
  // A cross-encoder bundle is checked by validateCrossEncoderArchive (the upload's worker, the seed) before it comes here.
  if (input.format === "cross-encoder" && !input.validated) throw new Error("createVersion: a cross-encoder bundle must be validated (validateCrossEncoderArchive) first");
  const checked = input.validated ?? (await validateArtifact(input.bytes, input.featureSpec, maxModelBytes()));
  const existing = await db.modelVersion.findUnique({ where: { modelId_sha256: { modelId: model.id, sha256: checked.sha256 } }, select: { version: true } });
  if (existing) throw new ConflictError(`this artifact is already ${model.name} v${existing.version} (sha256 ${checked.sha256.slice(0, 12)}…)`);
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.$transaction(async (tx) => {
        const last = await tx.modelVersion.aggregate({ where: { modelId: model.id }, _max: { version: true } });
        const version = await tx.modelVersion.create({
          data: {
            modelId: model.id,
            version: (last._max.version ?? 0) + 1,
            source: input.source ?? "upload",
            format: input.format ?? "onnx",
            sha256: checked.sha256,
            sizeBytes: input.bytes.length,
            inputName: checked.inputName,
            outputName: checked.outputName,
            featureSpec: input.featureSpec as unknown as Prisma.InputJsonValue,
            metadata: (input.metadata ?? {}) as Prisma.InputJsonValue,
            metrics: (input.metrics ?? {}) as Prisma.InputJsonValue,
            parentVersionId: input.parentVersionId ?? null,
            createdBy: input.actor.name,
            artifact: { create: { bytes: Buffer.from(input.bytes) } },
          },
        });
        await recordAudit(tx, {
          action: "model.version.create", actor: input.actor, subject: subjects.modelVersion(version.id, model.name, version.version),
          surfaces: model.surface ? [model.surface.key] : [],
          after: { model: model.name, version: version.version, sha256: version.sha256, sizeBytes: version.sizeBytes },
        });
        return version;
      }, LEVER_TRANSACTION);
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") {
        // Two uploads of the same bytes at once: the other one stored it (409, as if it came first).
        const stored = await db.modelVersion.findUnique({ where: { modelId_sha256: { modelId: model.id, sha256: checked.sha256 } }, select: { version: true } });
        if (stored) throw new ConflictError(`this artifact is already ${model.name} v${stored.version} (sha256 ${checked.sha256.slice(0, 12)}…)`);
        // Two uploads at once picked the same number; the unique index refused this one, which retries.
        if (attempt < 2) continue;
      }
      throw error;
    }
  }
}

/**
 * Points `alias` of the version's model at the version, atomically, with an audit entry, a
 * promotion-history row and an `alias.moved` webhook (see setAliasIn).
 */
export async function setAlias(db: Db, input: AliasMove) {
  return db.$transaction((tx) => setAliasIn(tx, input), LEVER_TRANSACTION);
}

export interface AliasMove {
  versionId: string;
  alias: string;
  actor: Actor;
  reason?: string;
  /** How the promotion history names the move: a plain move (default), an on-call rollback, a ship or a canary promotion. */
  kind?: AliasChangeKind;
  /** The surface the alias belongs to (a surface's canary alias): the history row's own surface. */
  surface?: string;
  /**
   * The version the caller saw the alias on (null: unset). Checked after the model's row lock, so of
   * two moves made from the same page state only the first applies: the later one gets a
   * ConflictError (409) naming the alias, what it points at now, and `what` was refused.
   */
  expectFrom?: { versionId: string | null; what: string };
  /** The rollout making this move (its canary alias at the start, its promotion): not refused by its own guard (servingAliasGuard.ts). */
  rolloutId?: string;
  /** Run after the model's lock, before the move (a direct move's approval guard): throws to refuse. */
  underLock?: UnderLock;
}

/**
 * Moves an alias inside the caller's transaction (a ship moves production and ends its experiment
 * together; a rollback sends its webhook in the same transaction).
 * @returns the alias row, `from`/`to` ({ id, version }; from null when the alias was unset), and
 *   `surfaces`: the keys of every surface the alias reaches (and `surface`), sorted, read under the
 *   model's lock: the one list the audit entry, the history row and the webhook name; `stage2Surfaces`:
 *   those it reaches as stage 2 of their cascade; `reached`: the
 *   same surfaces with their roles (surfacesReachedBy).
 * @throws NotFoundError for an unknown version; ConflictError when `expectFrom` no longer holds, or
 *   when a rollout is judged against the alias (a rollback aborts that rollout instead: servingAliasGuard.ts).
 */
export async function setAliasIn(tx: Prisma.TransactionClient, input: AliasMove) {
  const version = await tx.modelVersion.findUnique({ where: { id: input.versionId }, select: { id: true, modelId: true, version: true, model: { select: { name: true, surfaceId: true } } } });
  if (!version) throw new NotFoundError("model version", input.versionId);
  // Movers of one model's aliases take turns, so each audit entry's "before" is the previous "after".
  await tx.$queryRaw`SELECT id FROM models WHERE id = ${version.modelId} FOR UPDATE`;
  // Where the alias reaches, read after the model's lock (a surface's config names aliases, not
  // versions: the move does not change it). The levers that point a surface at an alias (stage 2,
  // shadow, an experiment's start) take this row FOR SHARE before the surface's
  // (server/registry/modelLock.ts): each commits before this read or waits for the move.
  const reached = await surfacesReachedBy(tx, { modelId: version.modelId, modelName: version.model.name, alias: input.alias });
  await input.underLock?.(tx, reached);
  const before = await tx.modelAlias.findUnique({
    where: { modelId_name: { modelId: version.modelId, name: input.alias } },
    select: { version: { select: { id: true, version: true } } },
  });
  if (input.expectFrom && (before?.version.id ?? null) !== input.expectFrom.versionId) {
    const change = { shown: await versionWords(tx, input.expectFrom.versionId), now: await versionWords(tx, before?.version.id ?? null) };
    throw new ConflictError(changedSince({ what: `${input.expectFrom.what}: ${version.model.name} ${input.alias}`, change, since: "read" }));
  }
  // A running or paused rollout judged against this alias: refused, or aborted by a rollback.
  await settleRolloutsOnAlias(tx, { modelId: version.modelId, modelName: version.model.name, alias: input.alias, kind: input.kind ?? "alias_move", rolloutId: input.rolloutId }, input.actor);
  const alias = await tx.modelAlias.upsert({
    where: { modelId_name: { modelId: version.modelId, name: input.alias } },
    create: { modelId: version.modelId, name: input.alias, versionId: version.id, updatedBy: input.actor.name },
    update: { versionId: version.id, updatedBy: input.actor.name, updatedAt: new Date() },
  });
  const surfaces = [...new Set([...reached.map((s) => s.key), ...(input.surface ? [input.surface] : [])])].sort();
  // The audit trail also files the move under the model's own surface (an auditor filtering by
  // "search" expects every alias move of search's model, a custom alias that serves nothing included);
  // history, webhook and response name only the surfaces the alias reaches, and so does the entry's
  // `after.reached` (Recent changes leaves out a move that reached none).
  const home = version.model.surfaceId ? await tx.surface.findUnique({ where: { id: version.model.surfaceId }, select: { key: true } }) : null;
  await recordAudit(tx, {
    action: "model.alias.set", actor: input.actor, subject: subjects.model(version.modelId, version.model.name), reason: input.reason ?? null,
    surfaces: home && !surfaces.includes(home.key) ? [...surfaces, home.key].sort() : surfaces,
    before: before ? { alias: input.alias, versionId: before.version.id, version: before.version.version } : null,
    after: { alias: input.alias, versionId: version.id, version: version.version, model: version.model.name, reached: surfaces },
  });
  const stage2Surfaces = reached.filter((s) => s.roles.includes("stage2")).map((s) => s.key);
  await recordPromotion(tx, {
    kind: input.kind ?? "alias_move", actor: input.actor, reason: input.reason, model: { id: version.modelId, name: version.model.name }, alias: input.alias, surface: input.surface, surfaces, stage2Surfaces,
    from: before ? { id: before.version.id, version: before.version.version } : null, to: { id: version.id, version: version.version },
  });
  await notifyInTransaction(tx, {
    kind: "alias.moved", actor: input.actor.name, reason: input.reason ?? null,
    data: { model: version.model.name, alias: input.alias, fromVersion: before?.version.version ?? null, toVersion: version.version, surfaces },
  });
  return { ...alias, from: before?.version ?? null, to: { id: version.id, version: version.version }, surfaces, stage2Surfaces, reached };
}
