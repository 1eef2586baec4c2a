import { LEVER_TRANSACTION } from "../db/leverTransaction";
import { canonicalJson } from "../domain/canonicalJson";
import { randomBytes } from "node:crypto";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client.ts";
import type { AuditAction } from "../domain/audit/actions";
import { subjects } from "../domain/audit/subject";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { setAliasIn } from "../registry/versions";
import { notifyInTransaction } from "../webhooks/notify";
import type { ExperimentInput } from "./schema";

// The experiment lifecycle: draft → running → stopped → shipped. Every change is audited; the
// allocation of a running experiment changes only through a restart, which opens a new phase so
// that analysis never mixes users assigned under two allocations.

type Tx = Prisma.TransactionClient;

/** What decides who is served what: a running experiment changes them only by a restart (a new phase), and a start request pins them. */
const ALLOCATION_FIELDS = ["kind", "variants", "coverage", "namespace", "hashAttribute", "hashVersion", "seed", "targeting"] as const;

export async function listExperiments(db: Db) {
  return db.experiment.findMany({
    orderBy: [{ status: "asc" }, { updatedAt: "desc" }],
    select: {
      id: true, key: true, name: true, status: true, kind: true, owner: true, startedAt: true, phase: true, primaryMetric: true,
      surface: { select: { key: true } },
      variants: { select: { key: true, weight: true, isControl: true }, orderBy: { position: "asc" } },
    },
  });
}

const EXPERIMENT_INCLUDE = { surface: { select: { key: true, modelId: true } }, variants: { orderBy: { position: "asc" } }, phases: { orderBy: { phase: "asc" } } } as const;

export async function getExperiment(db: Db, key: string) {
  const experiment = await db.experiment.findUnique({ where: { key }, include: EXPERIMENT_INCLUDE });
  if (!experiment) throw new NotFoundError("experiment", key);
  return experiment;
}

/** Variant models must exist: an alias of the surface's model, or a version of any model. */
async function checkVariants(db: Db | Tx, surfaceModelId: string | null, input: ExperimentInput) {
  for (const [i, v] of input.variants.entries()) {
    if (v.modelVersionId) {
      if (!(await db.modelVersion.findUnique({ where: { id: v.modelVersionId }, select: { id: true } }))) {
        throw new InvalidInputError(`variants[${i}].modelVersionId`, `no model version "${v.modelVersionId}"`);
      }
    } else if (v.modelAlias) {
      const alias = surfaceModelId ? await db.modelAlias.findUnique({ where: { modelId_name: { modelId: surfaceModelId, name: v.modelAlias } } }) : null;
      if (!alias) throw new InvalidInputError(`variants[${i}].modelAlias`, `the surface's model has no alias "${v.modelAlias}"`);
    }
  }
}

function experimentData(input: ExperimentInput) {
  return {
    name: input.name, kind: input.kind, hypothesis: input.hypothesis, owner: input.owner, hashAttribute: input.hashAttribute,
    hashVersion: input.hashVersion, coverage: input.coverage, namespace: input.namespace ?? Prisma.DbNull,
    targeting: input.targeting as Prisma.InputJsonValue, primaryMetric: input.primaryMetric, secondaryMetrics: input.secondaryMetrics,
    guardrails: input.guardrails as Prisma.InputJsonValue, minDetectableEffect: input.minDetectableEffect ?? null, analysisMode: input.analysisMode,
  };
}

function variantRows(input: ExperimentInput) {
  return input.variants.map((v, position) => ({
    key: v.key, name: v.name, position, weight: v.weight, isControl: v.isControl, modelAlias: v.modelAlias ?? null,
    modelVersionId: v.modelVersionId ?? null, constraintOverrides: v.constraintOverrides as Prisma.InputJsonValue,
  }));
}

export async function createExperiment(db: Db, input: ExperimentInput, actor: Actor) {
  const surface = await db.surface.findUnique({ where: { key: input.surface }, select: { id: true, modelId: true } });
  if (!surface) throw new InvalidInputError("surface", `no surface "${input.surface}"`);
  if (await db.experiment.findUnique({ where: { key: input.key }, select: { id: true } })) throw new ConflictError(`an experiment "${input.key}" already exists`);
  await checkVariants(db, surface.modelId, input);
  return db.$transaction(async (tx) => {
    const experiment = await tx.experiment.create({
      data: { key: input.key, surfaceId: surface.id, seed: input.seed ?? `${input.key}-${randomBytes(4).toString("hex")}`, ...experimentData(input), variants: { create: variantRows(input) } },
      include: { variants: true },
    });
    await recordAudit(tx, { action: "experiment.create", actor, subject: subjects.experiment(experiment.id, experiment.key), surfaces: [input.surface], after: input });
    return experiment;
  }, LEVER_TRANSACTION);
}

function allocationOf(e: Awaited<ReturnType<typeof getExperiment>>) {
  return {
    kind: e.kind,
    variants: e.variants.map((v) => ({ key: v.key, weight: v.weight, modelAlias: v.modelAlias, modelVersionId: v.modelVersionId, isControl: v.isControl, constraintOverrides: v.constraintOverrides })),
    coverage: e.coverage, namespace: e.namespace, hashAttribute: e.hashAttribute, hashVersion: e.hashVersion, seed: e.seed, targeting: e.targeting,
  };
}

function allocationOfInput(input: ExperimentInput, seed: string) {
  return {
    kind: input.kind,
    variants: input.variants.map((v) => ({ key: v.key, weight: v.weight, modelAlias: v.modelAlias ?? null, modelVersionId: v.modelVersionId ?? null, isControl: v.isControl, constraintOverrides: v.constraintOverrides })),
    coverage: input.coverage, namespace: input.namespace ?? null, hashAttribute: input.hashAttribute, hashVersion: input.hashVersion, seed: input.seed ?? seed, targeting: input.targeting,
  };
}

/** The stored experiment in the shape of its definition (the form's input), so an edit's entry compares like with like. */
function definitionOf(e: Awaited<ReturnType<typeof getExperiment>>): Record<string, unknown> {
  return {
    key: e.key, name: e.name, surface: e.surface.key, kind: e.kind, hypothesis: e.hypothesis, owner: e.owner, hashAttribute: e.hashAttribute,
    hashVersion: e.hashVersion, seed: e.seed, coverage: e.coverage, namespace: e.namespace, targeting: e.targeting,
    variants: allocationOf(e).variants.map((v, i) => ({ name: e.variants[i]!.name, ...v })),
    primaryMetric: e.primaryMetric, secondaryMetrics: e.secondaryMetrics, guardrails: e.guardrails, minDetectableEffect: e.minDetectableEffect, analysisMode: e.analysisMode,
  };
}

export type Allocation = Record<(typeof ALLOCATION_FIELDS)[number], unknown>;

function changedAllocation(a: Allocation, b: Allocation): string[] {
  return ALLOCATION_FIELDS.filter((f) => canonicalJson(a[f]) !== canonicalJson(b[f]));
}

/** An experiment's allocation (kind, variants, coverage, namespace, hashing, seed, targeting), as getExperiment read it: what a start request pins. */
export const experimentAllocation = (e: Awaited<ReturnType<typeof getExperiment>>): Allocation => allocationOf(e);

/**
 * The model version a variant serves now: its pinned version, or its alias's version on the surface's
 * model; null when neither resolves (an unset alias).
 * @returns { versionId, version, modelId, modelName } or null.
 */
export async function variantVersion(db: Pick<Db, "modelAlias" | "modelVersion">, e: { surface: { modelId: string | null } }, variant: { modelVersionId: string | null; modelAlias: string | null }) {
  let versionId = variant.modelVersionId;
  if (!versionId && variant.modelAlias && e.surface.modelId) {
    versionId = (await db.modelAlias.findUnique({ where: { modelId_name: { modelId: e.surface.modelId, name: variant.modelAlias } } }))?.versionId ?? null;
  }
  if (!versionId) return null;
  const found = await db.modelVersion.findUnique({ where: { id: versionId }, select: { id: true, version: true, modelId: true, model: { select: { name: true } } } });
  return found ? { versionId: found.id, version: found.version, modelId: found.modelId, modelName: found.model.name } : null;
}

/** Edits an experiment. A running one accepts only non-allocation changes (name, hypothesis, metrics…). */
export async function updateExperiment(db: Db, key: string, input: ExperimentInput, actor: Actor) {
  const first = await getExperiment(db, key);
  if (input.key !== key) throw new InvalidInputError("key", "an experiment's key cannot change");
  if (input.surface !== first.surface.key) throw new InvalidInputError("surface", "an experiment's surface cannot change; create a new experiment");
  await checkVariants(db, first.surface.modelId, input);
  return db.$transaction(async (tx) => {
    // Under the experiment's lock, as its lifecycle changes take it: an edit racing a start is seen by
    // the start (whose approval pinned the allocation), or sees the experiment running.
    await tx.$queryRaw`SELECT id FROM experiments WHERE id = ${first.id} FOR UPDATE`;
    const current = await tx.experiment.findUniqueOrThrow({ where: { id: first.id }, include: EXPERIMENT_INCLUDE });
    if (current.status === "shipped") throw new ConflictError(`experiment "${key}" was shipped and is read-only`);
    const changed = changedAllocation(allocationOf(current), allocationOfInput(input, current.seed));
    if (current.status === "running" && changed.length) {
      throw new ConflictError(`experiment "${key}" is running: changing ${changed.join(", ")} needs a restart, which starts a new analysis phase`);
    }
    if (changed.includes("variants")) {
      await tx.experimentVariant.deleteMany({ where: { experimentId: current.id } });
      await tx.experimentVariant.createMany({ data: variantRows(input).map((v) => ({ ...v, experimentId: current.id })) });
    }
    const updated = await tx.experiment.update({ where: { id: current.id }, data: { ...experimentData(input), seed: input.seed ?? current.seed } });
    await recordAudit(tx, {
      action: "experiment.update", actor, subject: subjects.experiment(current.id, current.key), surfaces: [current.surface.key],
      before: definitionOf(current), after: { ...input, seed: input.seed ?? current.seed },
    });
    return updated;
  }, LEVER_TRANSACTION);
}

async function openPhase(tx: Tx, experimentId: string, phase: number, reason: string) {
  const e = await tx.experiment.findUniqueOrThrow({ where: { id: experimentId }, include: { variants: true } });
  await tx.experimentPhase.create({
    data: { experimentId, phase, weights: Object.fromEntries(e.variants.map((v) => [v.key, v.weight])), coverage: e.coverage, reason },
  });
}

type LifecycleAction = Extract<AuditAction, "experiment.start" | "experiment.stop" | "experiment.restart" | "experiment.ship">;

async function transition(
  db: Db, key: string, actor: Actor, allowed: string[], apply: (tx: Tx, e: Awaited<ReturnType<typeof getExperiment>>) => Promise<void>,
  action: LifecycleAction, reason?: string, shipped?: { variant: string },
) {
  const current = await getExperiment(db, key);
  const refuse = (status: string) => new ConflictError(`experiment "${key}" is ${status}; ${action.split(".")[1]} needs it ${allowed.join(" or ")}`);
  if (!allowed.includes(current.status)) throw refuse(current.status);
  await db.$transaction(async (tx) => {
    // Serialise lifecycle changes of one experiment, and check again under the lock: of two
    // concurrent changes, the second sees the first's result.
    const [locked] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text AS status FROM experiments WHERE id = ${current.id} FOR UPDATE`;
    if (!locked || !allowed.includes(locked.status)) throw refuse(locked?.status ?? "gone");
    // The change applies to the experiment as it is under the lock (an edit may have landed since the read above).
    await apply(tx, await tx.experiment.findUniqueOrThrow({ where: { id: current.id }, include: EXPERIMENT_INCLUDE }));
    const after = await tx.experiment.findUniqueOrThrow({ where: { id: current.id }, select: { status: true, phase: true } });
    await recordAudit(tx, {
      action, actor, subject: subjects.experiment(current.id, current.key), surfaces: [current.surface.key],
      before: { status: current.status, phase: current.phase }, after: { ...after, ...shipped }, reason: reason ?? null,
    });
  }, LEVER_TRANSACTION);
  return getExperiment(db, key);
}

/**
 * Starts (or resumes) an experiment. `check.expectAllocation` / `check.expectVersions`: the allocation,
 * and the version each variant served, that an approved start request pinned; if either changed since
 * (compared under the experiment's lock), ConflictError naming what changed, and nothing starts.
 */
export function startExperiment(db: Db, key: string, actor: Actor, check: { expectAllocation?: Allocation; expectVersions?: Record<string, string | null> } = {}) {
  return transition(db, key, actor, ["draft", "stopped"], async (tx, e) => {
    const changed = check.expectAllocation ? changedAllocation(check.expectAllocation, allocationOf(e)) : [];
    if (changed.length) throw new ConflictError(`experiment "${key}" changed since the request was filed (${changed.join(", ")}): not started; file a new request for it as it is now`);
    for (const v of check.expectVersions ? e.variants : []) {
      const now = await variantVersion(tx, e, v);
      const was = check.expectVersions![v.key] ?? null;
      if ((now?.versionId ?? null) === was) continue;
      const shown = was ? `v${(await tx.modelVersion.findUnique({ where: { id: was }, select: { version: true } }))?.version ?? "?"}` : "unset";
      throw new ConflictError(`variant "${v.key}" of ${key} now serves ${now ? `${now.modelName} v${now.version}` : "nothing (its alias is unset)"}, not ${shown} as when the request was filed: not started; file a new request if the change is still wanted`);
    }
    const phase = e.phase + 1;
    await tx.experiment.update({ where: { id: e.id }, data: { status: "running", phase, startedAt: new Date(), stoppedAt: null } });
    await openPhase(tx, e.id, phase, e.phase === 0 ? "start" : "resume");
  }, "experiment.start");
}

export function stopExperiment(db: Db, key: string, actor: Actor, reason?: string) {
  return transition(db, key, actor, ["running"], async (tx, e) => {
    await tx.experiment.update({ where: { id: e.id }, data: { status: "stopped", stoppedAt: new Date() } });
    await tx.experimentPhase.updateMany({ where: { experimentId: e.id, phase: e.phase }, data: { endedAt: new Date() } });
  }, "experiment.stop", reason);
}

/**
 * Applies a new allocation to a running experiment and starts a new analysis phase.
 * @throws InvalidInputError on `experiment.surface` when the definition names another surface (as an
 *   edit refuses it: a restart keeps the experiment's surface), or on a variant's model; ConflictError
 *   when the experiment is not running.
 */
export async function restartExperiment(db: Db, key: string, input: ExperimentInput, actor: Actor, reason?: string) {
  const current = await getExperiment(db, key);
  if (input.surface !== current.surface.key) {
    throw new InvalidInputError("experiment.surface", `an experiment's surface cannot change (it runs on "${current.surface.key}", not "${input.surface}"); create a new experiment`);
  }
  if (current.status !== "running") throw new ConflictError(`experiment "${key}" is ${current.status}; only a running experiment restarts (edit it instead)`);
  await checkVariants(db, current.surface.modelId, input);
  return transition(db, key, actor, ["running"], async (tx, e) => {
    await tx.experimentPhase.updateMany({ where: { experimentId: e.id, phase: e.phase }, data: { endedAt: new Date() } });
    await tx.experimentVariant.deleteMany({ where: { experimentId: e.id } });
    await tx.experimentVariant.createMany({ data: variantRows(input).map((v) => ({ ...v, experimentId: e.id })) });
    await tx.experiment.update({ where: { id: e.id }, data: { ...experimentData(input), seed: input.seed ?? e.seed, phase: e.phase + 1 } });
    await openPhase(tx, e.id, e.phase + 1, reason ?? "restart");
  }, "experiment.restart", reason);
}

/**
 * Ships a variant: its model version becomes the surface model's production alias (audited), and
 * the experiment ends, in one transaction.
 * @returns the experiment as shipped, with `surfaces`: the keys of its surface and of every surface
 *   the moved production alias ranks.
 * `check.expectFromVersionId`: the production version the page showed (null: unset); if production
 * moved since, ConflictError (409) and nothing changes. Omitted: not checked. `check.expectVersionId`:
 * the version the variant served when a ship request was filed; if it serves another now, ConflictError.
 * @throws ConflictError (not running or stopped; production moved), InvalidInputError on `variant`.
 */
export async function shipExperiment(db: Db, key: string, variantKey: string, actor: Actor, reason?: string, check: { expectFromVersionId?: string | null; expectVersionId?: string } = {}) {
  const current = await getExperiment(db, key);
  // Checks before effects: a draft or an already-shipped experiment moves nothing.
  if (current.status !== "running" && current.status !== "stopped") {
    throw new ConflictError(`experiment "${key}" is ${current.status}: only a running or stopped experiment can ship`);
  }
  const variant = current.variants.find((v) => v.key === variantKey);
  if (!variant) throw new InvalidInputError("variant", `experiment "${key}" has no variant "${variantKey}"`);
  const pinned = await variantVersion(db, current, variant);
  if (!pinned) throw new InvalidInputError("variant", `variant "${variantKey}" has no model to ship`);
  const versionId = pinned.versionId;
  // Shipping moves the surface model's production alias: a version of another model cannot ride it.
  if (pinned.modelId !== current.surface.modelId) {
    throw new InvalidInputError(
      "variant",
      `variant "${variantKey}" pins ${pinned.modelName} v${pinned.version}, not a version of the surface's model: shipping it would not change what the surface serves; register that version under the surface's model, or switch the surface to ${pinned.modelName}`,
    );
  }
  // An approved ship request pinned the version its variant served when it was filed: not another.
  if (check.expectVersionId !== undefined && check.expectVersionId !== versionId) {
    const was = await db.modelVersion.findUnique({ where: { id: check.expectVersionId }, select: { version: true } });
    throw new ConflictError(`variant "${variantKey}" of ${key} now serves ${pinned.modelName} v${pinned.version}, not v${was?.version ?? "?"} as when the request was filed: not shipped; file a new request if the change is still wanted`);
  }
  const why = `shipped from experiment ${key}, variant ${variantKey}${reason ? `: ${reason}` : ""}`;
  let reached: readonly string[] = [];
  // Checked above and again under the experiment's lock; the alias move and the status change
  // commit together or not at all.
  const shipped = await transition(db, key, actor, ["running", "stopped"], async (tx, e) => {
    // Again under the experiment's lock: an edit of a stopped experiment may have changed the arm since.
    const locked = e.variants.find((v) => v.key === variantKey);
    const now = locked ? await variantVersion(tx, e, locked) : null;
    if (now?.versionId !== versionId) {
      throw new ConflictError(`variant "${variantKey}" of ${key} changed while it was being shipped (it now serves ${now ? `${now.modelName} v${now.version}` : "nothing"}): not shipped; look again and ship`);
    }
    ({ surfaces: reached } = await setAliasIn(tx, {
      versionId: versionId!, alias: "production", actor, reason: why, kind: "ship",
      expectFrom: check.expectFromVersionId === undefined ? undefined : { versionId: check.expectFromVersionId, what: `ship of ${key} refused` },
    }));
    await notifyInTransaction(tx, {
      kind: "experiment.shipped", actor: actor.name, reason: reason ?? null,
      data: { experiment: key, surface: current.surface.key, variant: variantKey, model: pinned.modelName, version: pinned.version, alias: "production" },
    });
    await tx.experiment.update({ where: { id: e.id }, data: { status: "shipped", shippedVariantKey: variantKey, stoppedAt: e.stoppedAt ?? new Date() } });
    await tx.experimentPhase.updateMany({ where: { experimentId: e.id, phase: e.phase, endedAt: null }, data: { endedAt: new Date() } });
  }, "experiment.ship", reason ?? `variant ${variantKey}`, { variant: variantKey });
  // The experiment's surface (its experiment ended) and every surface the production alias ranks.
  return { ...shipped, surfaces: [...new Set([current.surface.key, ...reached])].sort() };
}
