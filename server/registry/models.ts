import { LEVER_TRANSACTION } from "../db/leverTransaction";
import type { CrossEncoderSummary } from "./validateCrossEncoder";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { subjects } from "../domain/audit/subject";
import { ConflictError, NotFoundError } from "../errors";
import { surfacesReachedBy } from "./aliasReach";

// Registered models and their versions: what the Models pages and the version card read.

export async function createModel(db: Db, input: { name: string; owner: string; description: string; surface?: string }, actor: Actor) {
  if (await db.model.findUnique({ where: { name: input.name }, select: { id: true } })) throw new ConflictError(`a model named "${input.name}" already exists`);
  const surface = input.surface ? await db.surface.findUnique({ where: { key: input.surface }, select: { id: true } }) : null;
  if (input.surface && !surface) throw new NotFoundError("surface", input.surface);
  return db.$transaction(async (tx) => {
    const model = await tx.model.create({ data: { name: input.name, owner: input.owner, description: input.description, surfaceId: surface?.id ?? null } });
    await recordAudit(tx, {
      action: "model.create", actor, subject: subjects.model(model.id, model.name), surfaces: input.surface ? [input.surface] : [],
      after: { name: model.name, owner: model.owner, surface: input.surface ?? null },
    });
    return model;
  }, LEVER_TRANSACTION);
}

export async function getModelByName(db: Db, name: string) {
  const model = await db.model.findUnique({
    where: { name },
    include: {
      surface: { select: { key: true } },
      aliases: { select: { name: true, updatedAt: true, updatedBy: true, version: { select: { id: true, version: true } } }, orderBy: { name: "asc" } },
      versions: {
        orderBy: { version: "desc" },
        select: {
          id: true, version: true, source: true, format: true, sha256: true, sizeBytes: true, metrics: true, metadata: true, createdAt: true, createdBy: true,
          parent: { select: { version: true } },
        },
      },
    },
  });
  if (!model) throw new NotFoundError("model", name);
  // Surfaces whose serving alias is one of this model's: what an alias move changes for users.
  const servedSurfaces = await db.surface.findMany({ where: { modelId: model.id }, select: { key: true, modelAlias: true, requireApproval: true }, orderBy: { key: "asc" } });
  const aliasesOf = (versionId: string) => model.aliases.filter((a) => a.version.id === versionId).map((a) => a.name);
  return {
    id: model.id, name: model.name, owner: model.owner, description: model.description, surface: model.surface?.key ?? null,
    servedSurfaces: servedSurfaces.map((s) => ({ key: s.key, alias: s.modelAlias, requireApproval: s.requireApproval })),
    aliases: model.aliases.map((a) => ({ name: a.name, version: a.version.version, versionId: a.version.id, updatedAt: a.updatedAt, updatedBy: a.updatedBy })),
    versions: model.versions.map((v) => ({
      id: v.id, version: v.version, source: v.source, format: v.format, sha256: v.sha256, sizeBytes: v.sizeBytes, createdAt: v.createdAt, createdBy: v.createdBy,
      metrics: v.metrics as Record<string, number>, notes: ((v.metadata as Record<string, unknown>).notes as string | undefined) ?? null,
      parentVersion: v.parent?.version ?? null, aliases: aliasesOf(v.id),
    })),
  };
}

export async function getVersionCard(db: Db, name: string, version: number) {
  const model = await db.model.findUnique({ where: { name }, select: { id: true, name: true, owner: true } });
  if (!model) throw new NotFoundError("model", name);
  const row = await db.modelVersion.findUnique({
    where: { modelId_version: { modelId: model.id, version } },
    select: {
      id: true, version: true, source: true, format: true, sha256: true, sizeBytes: true, inputName: true, outputName: true, featureSpec: true,
      metadata: true, metrics: true, createdAt: true, createdBy: true, parentVersionId: true,
      aliases: { select: { name: true } },
      variants: { select: { key: true, experiment: { select: { key: true, name: true, status: true } } } },
    },
  });
  if (!row) throw new NotFoundError("model version", `${name} v${version}`);
  // Lineage: follow parents to the root (bounded, in case of a cycle written by hand).
  const lineage: Array<{ id: string; version: number; modelName: string }> = [];
  let parentId = row.parentVersionId;
  while (parentId && lineage.length < 50) {
    const parent = await db.modelVersion.findUnique({ where: { id: parentId }, select: { id: true, version: true, parentVersionId: true, model: { select: { name: true } } } });
    if (!parent) break;
    lineage.push({ id: parent.id, version: parent.version, modelName: parent.model.name });
    parentId = parent.parentVersionId;
  }
  const aliasNames = row.aliases.map((a) => a.name);
  const surfaces = await db.surface.findMany({ where: { modelId: model.id }, select: { key: true, modelAlias: true, fallbackAlias: true, shadowAlias: true } });
  const live = surfaces.flatMap((s) =>
    [["serving", s.modelAlias], ["fallback", s.fallbackAlias], ["shadow", s.shadowAlias]]
      .filter(([, alias]) => alias && aliasNames.includes(alias))
      .map(([role, alias]) => ({ surface: s.key, role: role!, alias: alias! })),
  );
  return {
    model: { name: model.name, owner: model.owner },
    ...row,
    featureSpec: row.featureSpec as Array<{ name: string; source: string; default: number; freshnessSeconds?: number | null; description?: string; distribution?: { mean: number; std: number; min: number; max: number } }>,
    metadata: row.metadata as Record<string, unknown>,
    /** A cross-encoder's config, inputs and tokenizer size (validateCrossEncoder.ts); null for a feature-vector model. */
    crossEncoder: row.format === "cross-encoder" ? (((row.metadata as Record<string, unknown>).crossEncoder ?? null) as CrossEncoderSummary | null) : null,
    metrics: row.metrics as Record<string, number>,
    aliases: aliasNames,
    lineage,
    live,
    experiments: row.variants.map((v) => ({ experiment: v.experiment.key, name: v.experiment.name, status: v.experiment.status, variant: v.key })),
  };
}

export async function getArtifact(db: Db, versionId: string) {
  const row = await db.modelVersion.findUnique({ where: { id: versionId }, select: { version: true, format: true, model: { select: { name: true } }, artifact: { select: { bytes: true } } } });
  if (!row?.artifact) throw new NotFoundError("model artifact", versionId);
  // A cross-encoder's artifact is its bundle's tar: uploadable again as it is.
  return { fileName: `${row.model.name}-v${row.version}.${row.format === "cross-encoder" ? "tar" : "onnx"}`, bytes: new Uint8Array(row.artifact.bytes) };
}

/**
 * Every surface `alias` of model `name` reaches, sorted by key: { key, roles, requireApproval }
 * (server/registry/aliasReach.ts). What the Models page's move dialog lists before the press.
 * @throws NotFoundError for an unknown model.
 */
export async function aliasReach(db: Db, name: string, alias: string) {
  const model = await db.model.findUnique({ where: { name }, select: { id: true, name: true } });
  if (!model) throw new NotFoundError("model", name);
  const reached = await surfacesReachedBy(db, { modelId: model.id, modelName: model.name, alias });
  return reached.map((s) => ({ key: s.key, roles: s.roles, requireApproval: s.requireApproval }));
}
