import { LEVER_TRANSACTION, type UnderLock } from "../db/leverTransaction";
import { canonicalJson } from "../domain/canonicalJson";
import { sharesWithoutNoise, storedDefinition } from "../domain/experiments/definition";
import { randomBytes } from "node:crypto";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client.ts";
import type { AuditAction } from "../domain/audit/actions";
import { subjects } from "../domain/audit/subject";
import { trafficTaken, type Reach } from "../domain/assignment/overlap";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { setAliasIn } from "../registry/versions";
import { versionWords } from "../registry/versionWords";
import { changedSince } from "../domain/changedSince";
import { shareModelRows } from "../registry/modelLock";
import { lockSurfaceRow } from "../surfaces/lock";
import { notifyInTransaction } from "../webhooks/notify";
import type { ExperimentInput } from "./schema";
import { servedVersions } from "./served";

// The experiment lifecycle: draft → running → stopped → shipped. Every change is audited; once an
// experiment has started, its allocation and its decision rule change only through a restart, which
// opens a new phase: analysis never mixes users assigned under two allocations, and a verdict is never
// turned by editing the rule it is judged by (a stopped experiment's guardrail removed, then shipped).

type Tx = Prisma.TransactionClient;

/** What decides who is served what: a started experiment changes them only by a restart (a new phase), and a start request pins them. */
const ALLOCATION_FIELDS = ["kind", "variants", "coverage", "namespace", "hashAttribute", "hashVersion", "seed", "targeting"] as const;
/** What decides the verdict and the ship checks: a started experiment changes them only by a restart (a new phase). */
const DECISION_FIELDS = ["primaryMetric", "guardrails", "analysisMode", "minDetectableEffect"] as const;

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

export type Allocation = Record<(typeof ALLOCATION_FIELDS)[number], unknown>;

/** The fields of a definition a restart can change, in the order a restart request's summary lists them (key and surface never change). */
export const RESTART_FIELDS = [...ALLOCATION_FIELDS, ...DECISION_FIELDS, "name", "hypothesis", "owner", "secondaryMetrics"] as const;
export type RestartField = (typeof RESTART_FIELDS)[number];

/** `input` in the shape of storedDefinition, `e`'s seed kept where it names none (as a restart keeps it). */
function definitionOfInput(input: ExperimentInput, e: { key: string; surface: { key: string }; seed: string }): Record<string, unknown> {
  return {
    key: e.key, name: input.name, surface: e.surface.key, kind: input.kind, hypothesis: input.hypothesis, owner: input.owner, hashAttribute: input.hashAttribute,
    hashVersion: input.hashVersion, seed: input.seed ?? e.seed, coverage: input.coverage, namespace: input.namespace ?? null, targeting: input.targeting,
    variants: allocationOfInput(input, e.seed).variants.map((v, i) => ({ name: input.variants[i]!.name, ...v })),
    primaryMetric: input.primaryMetric, secondaryMetrics: input.secondaryMetrics, guardrails: input.guardrails, minDetectableEffect: input.minDetectableEffect ?? null, analysisMode: input.analysisMode,
  };
}

/**
 * What restarting `e` with `input` changes: each field of RESTART_FIELDS whose value differs, with
 * the stored value (`before`) and the restart's (`after`), in the shape of the stored definition.
 */
export function restartDifferences(e: Awaited<ReturnType<typeof getExperiment>>, input: ExperimentInput): Array<{ field: RestartField; before: unknown; after: unknown }> {
  const before = storedDefinition(e);
  const after = definitionOfInput(input, e);
  return RESTART_FIELDS.filter((f) => differs(f, before[f], after[f])).map((field) => ({ field, before: before[field], after: after[field] }));
}

/**
 * What a restart request pins when it is filed: the experiment's phase, its status (a running one's
 * phase ends, a stopped one resumes) and its whole definition (allocation, decision rule, and the
 * name, hypothesis, owner and secondary metrics a restart also writes), as the summary's "before" showed them.
 * The edit form sends the same of the experiment as it loaded it (`expectBefore` of an edit, a restart, a restart request).
 */
export interface RestartPin { phase: number; status: string; definition: Record<string, unknown> }

export const restartPinOf = (e: Awaited<ReturnType<typeof getExperiment>>): RestartPin => ({ phase: e.phase, status: e.status, definition: storedDefinition(e) });

/**
 * What differs between `pin` and the experiment `e` now, in words ("phase 2 → 3", "running → stopped",
 * then the fields): none when nothing does. Shares compare beyond floating-point noise (`differs`).
 */
export function changedSincePin(pin: RestartPin, e: Awaited<ReturnType<typeof getExperiment>>): string[] {
  const now = restartPinOf(e);
  const fields = [...new Set([...Object.keys(pin.definition), ...Object.keys(now.definition)])].filter((f) => differs(f, pin.definition[f], now.definition[f]));
  return [...(pin.phase !== now.phase ? [`phase ${pin.phase} → ${now.phase}`] : []), ...(pin.status !== now.status ? [`${pin.status} → ${now.status}`] : []), ...fields];
}

/**
 * The 409 of a lever pressed on a page that showed the experiment otherwise than it is now (`changed`:
 * changedSincePin's words): `what` is what did not happen ("not saved over it"), `next` what to do.
 */
export const shownExperimentChanged = (key: string, changed: string[], what: string, next = "reload the form and decide") =>
  new ConflictError(changedSince({ what: `experiment "${key}"`, change: { differences: changed }, since: "shown", outcome: what, next }));

/** Whether a definition's `field` differs between `a` and `b` beyond noise: a share round-tripped through a form's percentages (0.6667 → 66.67 → 0.6667000000000001) is the same. */
const differs = (field: string, a: unknown, b: unknown) => canonicalJson(sharesWithoutNoise(field, a)) !== canonicalJson(sharesWithoutNoise(field, b));

function changedAllocation(a: Allocation, b: Allocation): string[] {
  return ALLOCATION_FIELDS.filter((f) => differs(f, a[f], b[f]));
}

/** The decision-rule fields (DECISION_FIELDS) in which `input` differs from the stored experiment. */
function changedDecision(e: Awaited<ReturnType<typeof getExperiment>>, input: ExperimentInput): string[] {
  const stored: Decision = experimentDecision(e);
  const edited: Decision = { primaryMetric: input.primaryMetric, guardrails: input.guardrails, analysisMode: input.analysisMode, minDetectableEffect: input.minDetectableEffect ?? null };
  return DECISION_FIELDS.filter((f) => differs(f, stored[f], edited[f]));
}

/**
 * An experiment's decision rule: what its verdict and ship checks are judged by (primary metric,
 * guardrails, analysis engine, minimum detectable effect). A draft's can be edited up to its start; a
 * start, and a start request, pin it as shown (`expectDecision`), as they pin its allocation.
 */
export type Decision = Record<(typeof DECISION_FIELDS)[number], unknown>;

/** The decision rule of `e` as stored (Decision): what the results page shows and a Start or a start request sends back. */
export const experimentDecision = (e: Pick<Awaited<ReturnType<typeof getExperiment>>, "primaryMetric" | "guardrails" | "analysisMode" | "minDetectableEffect">) =>
  ({ primaryMetric: e.primaryMetric, guardrails: e.guardrails, analysisMode: e.analysisMode, minDetectableEffect: e.minDetectableEffect }) satisfies Decision;

/** How a changed decision field reads in a "changed since" refusal: the primary metric and the engine with both values, the others by name. */
function decisionChangeWords(field: (typeof DECISION_FIELDS)[number], shown: unknown, now: unknown): string {
  if (field === "primaryMetric") return `primary metric ${String(shown)} → ${String(now)}`;
  if (field === "analysisMode") return `analysis engine ${String(shown)} → ${String(now)}`;
  return field === "minDetectableEffect" ? "minimum detectable effect" : field;
}

/**
 * What differs between a start's pin (the phase, allocation and decision rule a page showed, or a start
 * request pinned; each omitted: not compared) and the experiment `e` now, in words ("phase 1 → 2", then
 * the allocation's fields: "variants", "coverage", then the decision rule's: "primary metric ctr →
 * conversion", "guardrails"): none when nothing does. Shares compare beyond noise.
 */
export function changedSinceStartPin(pin: { expectPhase?: number; expectAllocation?: Allocation; expectDecision?: Decision }, e: Awaited<ReturnType<typeof getExperiment>>): string[] {
  const decision: Decision = experimentDecision(e);
  const shownDecision = pin.expectDecision;
  return [
    ...(pin.expectPhase !== undefined && pin.expectPhase !== e.phase ? [`phase ${pin.expectPhase} → ${e.phase}`] : []),
    ...(pin.expectAllocation ? changedAllocation(pin.expectAllocation, allocationOf(e)) : []),
    ...(shownDecision ? DECISION_FIELDS.filter((f) => differs(f, shownDecision[f] ?? null, decision[f])).map((f) => decisionChangeWords(f, shownDecision[f], decision[f])) : []),
  ];
}

/** An experiment's allocation (kind, variants, coverage, namespace, hashing, seed, targeting), as getExperiment read it: what a start request pins. */
export const experimentAllocation = (e: Awaited<ReturnType<typeof getExperiment>>) => allocationOf(e);

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

/**
 * The model version shipping `variant` moves production to: the one the variant SERVED in the
 * experiment's current phase, read from the request log by servedVersions (the rows the results page
 * names too; requests a fallback served are left out: they name the fallback's model), so a ship
 * never moves production to a version the experiment never measured (its alias moved after it
 * stopped); when it served none yet, the version it resolves to now (variantVersion). An
 * interleaving experiment logs one ranker's version per interleaved list, so its arms are resolved now.
 * @returns { versionId, version, modelId, modelName, source: "served" | "now" }, or null when the variant resolves to nothing.
 * @throws ConflictError when the variant served more than one version in the phase (any of its requests), naming them.
 */
export async function shipTarget(
  db: Pick<Tx, "$queryRaw" | "modelAlias" | "modelVersion">,
  e: { key: string; kind: string; phase: number; surface: { modelId: string | null } },
  variant: { key: string; modelVersionId: string | null; modelAlias: string | null },
) {
  const served = e.kind === "interleaving" ? [] : await servedVersions(db, e.key, e.phase, [variant.key]);
  if (served.length === 0) {
    const now = await variantVersion(db, e, variant);
    return now ? { ...now, source: "now" as const } : null;
  }
  if (served.length > 1) {
    const named = [...served].sort((a, b) => a.modelName.localeCompare(b.modelName) || a.version - b.version);
    throw new ConflictError(
      `variant "${variant.key}" of ${e.key} served ${named.map((v) => `${v.modelName} v${v.version}`).join(", ")} in phase ${e.phase} (its model changed during the phase): which of them its results measure is not clear, so it cannot ship; restart the experiment so that a phase serves one version, and ship from that`,
    );
  }
  const found = served[0]!;
  return { versionId: found.versionId, version: found.version, modelId: found.modelId, modelName: found.modelName, source: "served" as const };
}

/**
 * What shipping `variantKey` of experiment `key` would move production to (shipTarget), for the ship
 * dialog: { versionId, version, modelName, source, phase }.
 * @throws NotFoundError (experiment), InvalidInputError on `variant`, ConflictError (more than one version served).
 */
export async function variantShipTarget(db: Db, key: string, variantKey: string) {
  const e = await getExperiment(db, key);
  const variant = e.variants.find((v) => v.key === variantKey);
  if (!variant) throw new InvalidInputError("variant", `experiment "${key}" has no variant "${variantKey}"`);
  const target = await shipTarget(db, e, variant);
  if (!target) throw new InvalidInputError("variant", `variant "${variantKey}" has no model to ship`);
  return { versionId: target.versionId, version: target.version, modelName: target.modelName, source: target.source, phase: e.phase };
}

/**
 * Edits an experiment. A draft takes any change; once started (phase ≥ 1, running or stopped) only
 * name, hypothesis, owner and secondary metrics: its allocation (ALLOCATION_FIELDS) and decision rule
 * (DECISION_FIELDS) change by restartExperiment, in a new analysis phase.
 * `check.expectBefore`: the experiment as the form loaded it (restartPinOf's shape: phase, status,
 * stored definition); if any of it changed since (another person's edit, a restart, a start, a stop),
 * compared under the experiment's lock, ConflictError naming what changed, and nothing is saved or
 * audited. Omitted: not checked (a script's edit).
 * @throws ConflictError naming the locked fields that changed, or when shipped, or what changed since
 *   `expectBefore`; InvalidInputError on `key`, `surface` or a variant's model.
 */
export async function updateExperiment(db: Db, key: string, input: ExperimentInput, actor: Actor, check: { expectBefore?: RestartPin } = {}) {
  const first = await getExperiment(db, key);
  if (input.key !== key) throw new InvalidInputError("key", "an experiment's key cannot change");
  if (input.surface !== first.surface.key) throw new InvalidInputError("surface", "an experiment's surface cannot change; create a new experiment");
  await checkVariants(db, first.surface.modelId, input);
  return db.$transaction(async (tx) => {
    // Under the experiment's lock, as its lifecycle changes take it: an edit racing a start is seen by
    // the start (whose approval pinned the allocation), or sees the experiment running.
    await tx.$queryRaw`SELECT id FROM experiments WHERE id = ${first.id} FOR UPDATE`;
    const current = await tx.experiment.findUniqueOrThrow({ where: { id: first.id }, include: EXPERIMENT_INCLUDE });
    // The form's fields started from what it loaded: saved over a change made since, they would undo it unseen.
    const stale = check.expectBefore ? changedSincePin(check.expectBefore, current) : [];
    if (stale.length) throw shownExperimentChanged(key, stale, "not saved over it");
    if (current.status === "shipped") throw new ConflictError(`experiment "${key}" was shipped and is read-only`);
    const changed = changedAllocation(allocationOf(current), allocationOfInput(input, current.seed));
    const locked = current.phase >= 1 ? [...changed, ...changedDecision(current, input)] : [];
    if (locked.length) {
      throw new ConflictError(
        `experiment "${key}" is ${current.status}: changing ${locked.join(", ")} needs a restart with the changes, which starts a new analysis phase (phase ${current.phase + 1}); ` +
          "once started, an edit changes only name, hypothesis, owner and secondary metrics, so that who is served what and how the results are judged stay those of the phase",
      );
    }
    if (changed.includes("variants")) {
      await tx.experimentVariant.deleteMany({ where: { experimentId: current.id } });
      await tx.experimentVariant.createMany({ data: variantRows(input).map((v) => ({ ...v, experimentId: current.id })) });
    }
    const updated = await tx.experiment.update({ where: { id: current.id }, data: { ...experimentData(input), seed: input.seed ?? current.seed } });
    await recordAudit(tx, {
      action: "experiment.update", actor, subject: subjects.experiment(current.id, current.key), surfaces: [current.surface.key],
      before: storedDefinition(current), after: { ...input, seed: input.seed ?? current.seed },
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

/**
 * Runs `apply` on experiment `key` under its lock (FOR UPDATE) when its status is one of `allowed`, and
 * audits `action` with `reason`, or with the reason `apply` returns (known only under the lock: a ship's
 * override names the checks it overrode there).
 */
/** The words of a lifecycle lever refused by the experiment's status: `experiment "x" is shipped; start needs it draft or stopped`. */
export const lifecycleRefusal = (key: string, status: string, lever: string, allowed: readonly string[]) => `experiment "${key}" is ${status}; ${lever} needs it ${allowed.join(" or ")}`;

/** The statuses each lever needs (transition's `allowed`): what an approval of its request checks before it applies too. */
export const LEVER_STATUSES = { start: ["draft", "stopped"], restart: ["running", "stopped"], ship: ["running", "stopped"] } as const;

/** The words of a ship refused by the experiment's status (a draft, or shipped already). */
export const shipStatusRefusal = (key: string, status: string) => `experiment "${key}" is ${status}: only a running or stopped experiment can ship`;

async function transition(
  db: Db, key: string, actor: Actor, allowed: string[], apply: (tx: Tx, e: Awaited<ReturnType<typeof getExperiment>>) => Promise<void | { reason: string }>,
  action: LifecycleAction, reason?: string, shipped?: { variant: string },
) {
  const current = await getExperiment(db, key);
  const refuse = (status: string) => new ConflictError(lifecycleRefusal(key, status, action.split(".")[1]!, allowed));
  if (!allowed.includes(current.status)) throw refuse(current.status);
  await db.$transaction(async (tx) => {
    // Serialise lifecycle changes of one experiment, and check again under the lock: of two
    // concurrent changes, the second sees the first's result.
    const [locked] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status::text AS status FROM experiments WHERE id = ${current.id} FOR UPDATE`;
    if (!locked || !allowed.includes(locked.status)) throw refuse(locked?.status ?? "gone");
    // The change applies to the experiment as it is under the lock (an edit may have landed since the read above).
    const applied = await apply(tx, await tx.experiment.findUniqueOrThrow({ where: { id: current.id }, include: EXPERIMENT_INCLUDE }));
    const after = await tx.experiment.findUniqueOrThrow({ where: { id: current.id }, select: { status: true, phase: true } });
    await recordAudit(tx, {
      action, actor, subject: subjects.experiment(current.id, current.key), surfaces: [current.surface.key],
      before: { status: current.status, phase: current.phase }, after: { ...after, ...shipped }, reason: (applied ? applied.reason : undefined) ?? reason ?? null,
    });
  }, LEVER_TRANSACTION);
  return getExperiment(db, key);
}

/** Which requests an experiment (stored, or a definition) can enrol: what trafficTaken compares. */
export const experimentReach = (e: { hashAttribute: string; coverage: number; namespace?: unknown; targeting: unknown }): Reach => ({
  hashAttribute: e.hashAttribute, coverage: e.coverage, namespace: (e.namespace as Reach["namespace"]) ?? null, targetingRules: Array.isArray(e.targeting) ? e.targeting.length : 0,
});

/** The running experiments on `surfaceId` other than `experimentId` (started before `before`, if given), in serving order (server/surfaces/configCache.ts). */
function runningBefore(db: Pick<Db, "experiment">, surfaceId: string, experimentId: string, before?: Date | null) {
  return db.experiment.findMany({
    where: { surfaceId, status: "running", id: { not: experimentId }, ...(before ? { startedAt: { lt: before } } : {}) },
    select: { key: true, hashAttribute: true, coverage: true, namespace: true, targeting: true, startedAt: true },
    orderBy: { startedAt: "asc" },
  });
}

/**
 * Refuses to start (or restart) experiment `e` with `reach` on its surface when a running experiment
 * served before it would take every unit it could get (trafficTaken "all"): the first experiment that
 * enrols a request serves it (server/rerank/assignment.ts), so `e` would enrol nobody.
 * @param before for a running experiment keeping its place in the serving order: only experiments started before it.
 * @throws ConflictError naming the experiment that takes the traffic; InvalidInputError on `coverage` of 0.
 */
export async function checkTrafficLeft(db: Pick<Db, "experiment">, e: { id: string; key: string; surfaceId: string; surface: { key: string } }, reach: Reach, before?: Date | null): Promise<void> {
  if (!(reach.coverage > 0)) throw new InvalidInputError("coverage", `experiment "${e.key}" has coverage 0: it would enrol nobody; edit it to a coverage above 0`);
  for (const other of await runningBefore(db, e.surfaceId, e.id, before)) {
    if (trafficTaken(experimentReach(other), reach) !== "all") continue;
    throw new ConflictError(
      `experiment "${other.key}" is running on ${e.surface.key} with all of its traffic (coverage 100 %, no targeting${other.namespace ? ", a namespace range holding this one's" : ", no namespace"}) and enrols first every unit "${e.key}" could get: ` +
        `"${e.key}" would get no traffic. Stop "${other.key}", or give the two disjoint ranges of one namespace (or "${other.key}" a coverage below 100 % or targeting)`,
    );
  }
}

/**
 * What a running experiment shares with those served before it on its surface, in words, one per
 * earlier experiment that enrols some of its units first (none when it is not running).
 * @returns warnings such as 'experiment "a" (running since …) is served first on search: units it enrols first are not in this experiment'.
 */
export async function experimentOverlaps(db: Db, key: string): Promise<string[]> {
  const e = await getExperiment(db, key);
  if (e.status !== "running") return [];
  const earlier = await runningBefore(db, e.surfaceId, e.id, e.startedAt);
  return earlier
    .filter((other) => trafficTaken(experimentReach(other), experimentReach(e)) !== "none")
    .map((other) => `experiment "${other.key}" (running since ${other.startedAt?.toISOString() ?? "?"}) is served first on ${e.surface.key} and shares units with this one: units it enrols first are not in this experiment`);
}

/**
 * Starts (or resumes, in a new phase) an experiment. `check.expectAllocation` / `check.expectDecision` /
 * `check.expectVersions`: the allocation, the decision rule (experimentDecision: primary metric,
 * guardrails, engine, minimum detectable effect), and the version each variant served, that an approved
 * start request pinned or the page showed; if any changed since (compared under the experiment's lock),
 * ConflictError naming what changed, and nothing starts.
 * `check.expectPhase`: the phase the page showed (0: a draft). `check.since`: who pinned them, an
 * approved request ("filed", the default) or the page whose Start or Resume was pressed ("shown"), which
 * the refusal's words follow. Each omitted: not checked.
 * @throws ConflictError also when a running experiment on the surface would take all its traffic (checkTrafficLeft).
 */
export function startExperiment(
  db: Db, key: string, actor: Actor,
  check: { expectAllocation?: Allocation; expectDecision?: Decision; expectPhase?: number; expectVersions?: Record<string, string | null>; since?: "filed" | "shown"; reason?: string; underLock?: UnderLock } = {},
) {
  return transition(db, key, actor, [...LEVER_STATUSES.start], async (tx, e) => {
    // The surface's model before the surface (server/registry/modelLock.ts): a move of a variant's alias reads its reach before or after this start.
    await shareModelRows(tx, { ids: [e.surface.modelId] });
    // Starts on one surface take turns, so two at once cannot each miss the other.
    await lockSurfaceRow(tx, { id: e.surfaceId });
    await check.underLock?.(tx);
    await checkTrafficLeft(tx, e, experimentReach(e));
    const changed = changedSinceStartPin(check, e);
    if (changed.length && check.since === "shown") throw shownExperimentChanged(key, changed, "not started", "look at it again and decide");
    if (changed.length) throw new ConflictError(changedSince({ what: `experiment "${key}"`, change: { differences: changed }, since: "filed", outcome: "not started", next: "file a new request for it as it is now" }));
    const moved = check.expectVersions ? await variantVersionsMoved(tx, e, e.variants, check.expectVersions, "not started") : null;
    if (moved) throw moved;
    const phase = e.phase + 1;
    await tx.experiment.update({ where: { id: e.id }, data: { status: "running", phase, startedAt: new Date(), stoppedAt: null } });
    await openPhase(tx, e.id, phase, e.phase === 0 ? "start" : "resume");
  }, "experiment.start", check.reason);
}

export function stopExperiment(db: Db, key: string, actor: Actor, reason?: string) {
  return transition(db, key, actor, ["running"], async (tx, e) => {
    await tx.experiment.update({ where: { id: e.id }, data: { status: "stopped", stoppedAt: new Date() } });
    await tx.experimentPhase.updateMany({ where: { experimentId: e.id, phase: e.phase }, data: { endedAt: new Date() } });
  }, "experiment.stop", reason);
}

/**
 * The checks a restart of `key` with `input` passes before anything changes (restartExperiment runs
 * them; a restart request is checked by them when it is filed): the definition keeps the experiment's
 * key and surface, the experiment is running or stopped, every variant's model exists, and no running
 * experiment served first would take all its traffic.
 * @returns the experiment as read.
 * @throws InvalidInputError on `experiment.key` or `experiment.surface`, or a variant's model
 *   (`variants[i].modelAlias`…), or `coverage`; ConflictError when it is a draft or shipped, or
 *   another running experiment would take every unit it could get.
 */
export async function checkRestart(db: Db, key: string, input: ExperimentInput) {
  const current = await getExperiment(db, key);
  if (input.key !== key) throw new InvalidInputError("experiment.key", `an experiment's key cannot change (this restarts "${key}", not "${input.key}")`);
  if (input.surface !== current.surface.key) {
    throw new InvalidInputError("experiment.surface", `an experiment's surface cannot change (it runs on "${current.surface.key}", not "${input.surface}"); create a new experiment`);
  }
  if (current.status !== "running" && current.status !== "stopped") {
    throw new ConflictError(`experiment "${key}" is ${current.status}; only a running or stopped experiment restarts (${current.status === "draft" ? "edit and start it" : "it is read-only"})`);
  }
  await checkVariants(db, current.surface.modelId, input);
  // A running experiment keeps its place in the serving order (by start); a stopped one joins last.
  await checkTrafficLeft(db, current, experimentReach(input), current.status === "running" ? current.startedAt : null);
  return current;
}

/**
 * Applies a new definition (allocation, decision rule, anything an edit takes) to a running or stopped
 * experiment and starts a new analysis phase, running.
 * `check.expect`: what an approved restart request pinned (restartPinOf); if the experiment's phase,
 * status or definition changed since (compared under the experiment's lock), ConflictError naming
 * what changed, and nothing restarts. `check.expectBefore`: the same of the experiment as the edit form
 * loaded it (a direct restart), compared in the same place, refused in the form's words. Omitted: not
 * checked. `check.expectVersions`: the version each variant of `input`
 * served when the request was filed (by key; null: unset); a variant that would serve another is a ConflictError.
 * @throws InvalidInputError on `experiment.surface` when the definition names another surface (as an
 *   edit refuses it: a restart keeps the experiment's surface), or on a variant's model; ConflictError
 *   when the experiment is a draft (start it) or shipped, or a running experiment would take all its traffic.
 */
export async function restartExperiment(
  db: Db, key: string, input: ExperimentInput, actor: Actor, reason?: string,
  check: { expect?: RestartPin; expectBefore?: RestartPin; expectVersions?: Record<string, string | null>; underLock?: UnderLock } = {},
) {
  await checkRestart(db, key, input);
  return transition(db, key, actor, [...LEVER_STATUSES.restart], async (tx, e) => {
    // As a start: the surface's model, then the surface (a restart's variants may name other aliases).
    await shareModelRows(tx, { ids: [e.surface.modelId] });
    await lockSurfaceRow(tx, { id: e.surfaceId });
    await check.underLock?.(tx);
    if (check.expect) {
      const changed = changedSincePin(check.expect, e);
      if (changed.length) throw new ConflictError(changedSince({ what: `experiment "${key}"`, change: { differences: changed }, since: "filed", outcome: "not restarted", next: "file a new request for it as it is now" }));
    }
    // The form's definition started from what it loaded: applied over a change made since, it would undo it unseen.
    const stale = check.expectBefore ? changedSincePin(check.expectBefore, e) : [];
    if (stale.length) throw shownExperimentChanged(key, stale, "not restarted over it");
    const moved = check.expectVersions ? await variantVersionsMoved(tx, e, input.variants, check.expectVersions, "not restarted") : null;
    if (moved) throw moved;
    // A running experiment keeps its place in the serving order (by start); a stopped one joins last.
    await checkTrafficLeft(tx, e, experimentReach(input), e.status === "running" ? e.startedAt : null);
    await tx.experimentPhase.updateMany({ where: { experimentId: e.id, phase: e.phase, endedAt: null }, data: { endedAt: new Date() } });
    await tx.experimentVariant.deleteMany({ where: { experimentId: e.id } });
    await tx.experimentVariant.createMany({ data: variantRows(input).map((v) => ({ ...v, experimentId: e.id })) });
    const resumed = e.status === "stopped" ? { status: "running" as const, startedAt: new Date(), stoppedAt: null } : {};
    await tx.experiment.update({ where: { id: e.id }, data: { ...experimentData(input), seed: input.seed ?? e.seed, phase: e.phase + 1, ...resumed } });
    await openPhase(tx, e.id, e.phase + 1, reason ?? "restart");
  }, "experiment.restart", reason);
}

/**
 * Who pinned what a ship compares, which its refusals' words follow: an approved request ("filed"), the
 * ship dialog shipping ("shown"), or the ship dialog filing a request ("filing": nothing is filed).
 */
export type ShipPinnedBy = "filed" | "shown" | "filing";

/**
 * A ship's checks of its results (the checks that block shipping, and those the dialog or the request
 * named: approvals' shipChecked), run by shipExperiment in its transaction under the experiment's lock
 * on `e` as locked, once its phase and variant are compared there. Throws to refuse (nothing changes);
 * returns the reason the ship records (an override's names the checks it overrode).
 */
export type ShipGate = (tx: Tx, e: Awaited<ReturnType<typeof getExperiment>>) => Promise<string | undefined>;
const notShipped = (since: ShipPinnedBy, over = "it") => (since === "filing" ? "no request filed" : `not shipped over ${over}`);

/** The 409 of a ship whose results were read on phase `shown` of experiment `key`, now in phase `now`. */
export function shipPhaseChanged(key: string, shown: number, now: number, since: ShipPinnedBy): ConflictError {
  const change = { shown: `phase ${shown}`, now: `phase ${now}` };
  return new ConflictError(since === "filed"
    ? changedSince({ what: `experiment "${key}"`, change, since: "filed", outcome: "not shipped", next: `file a new request on phase ${now}'s results` })
    : changedSince({ what: `experiment "${key}"`, change, since: "shown", outcome: notShipped(since), next: "look at its results again and decide" }));
}

/** The 409 of a ship blocked now by checks its request's summary or its dialog did not name (`expected`: their keys; undefined: not checked), or null. */
export function unseenShipBlocks(key: string, blocks: ReadonlyArray<{ key: string; text: string }>, expected: readonly string[] | undefined, since: ShipPinnedBy): ConflictError | null {
  const unseen = expected === undefined ? [] : blocks.filter((b) => !expected.includes(b.key));
  if (!unseen.length) return null;
  const change = { differences: [`now also: ${unseen.map((b) => b.text).join("; ")}`] };
  return new ConflictError(since === "filed"
    ? changedSince({ what: `the ship checks of ${key}`, change, since: "filed", plural: true, outcome: "not shipped", next: "file a new request if the override is still wanted" })
    : changedSince({ what: `the ship checks of ${key}`, change, since: "shown", plural: true, outcome: notShipped(since, "them") }));
}

/** The 409 of a ship whose variant serves `now`, not the version `shown` (an id) its request pinned or its dialog named. */
export async function shipVersionChanged(
  db: Pick<Db, "modelVersion">, ship: { key: string; variant: string; shown: string; now: { versionId: string }; since: ShipPinnedBy },
): Promise<ConflictError> {
  const { key, variant, since } = ship;
  const change = await versionsChange(db, ship.shown, ship.now.versionId);
  return new ConflictError(since === "filed"
    ? changedSince({ what: `variant "${variant}" of ${key}`, change, since: "filed", outcome: "not shipped" })
    : changedSince({ what: `variant "${variant}" of ${key}`, change, since: "shown", outcome: notShipped(since) }));
}

/** A variant's version pinned (`shown`, an id) and now (null: unset), in words with the model's name: "search-ranker v4". */
/**
 * The 409 of the first of `variants` (by key, with its modelVersionId or modelAlias) that serves another
 * version than `expected` pinned when a request was filed (by key; null or absent: unset), naming the
 * variant and both versions with `outcome` ("not started"); null when each serves its pinned version.
 * What an approved start or restart checks under the experiment's lock, and the Approvals list before.
 */
export async function variantVersionsMoved(
  db: Pick<Db, "modelAlias" | "modelVersion">, e: { key: string; surface: { modelId: string | null } },
  variants: ReadonlyArray<{ key: string; modelVersionId?: string | null; modelAlias?: string | null }>, expected: Record<string, string | null>, outcome: string,
): Promise<ConflictError | null> {
  for (const v of variants) {
    const now = (await variantVersion(db, e, { modelVersionId: v.modelVersionId ?? null, modelAlias: v.modelAlias ?? null }))?.versionId ?? null;
    const was = expected[v.key] ?? null;
    if (now !== was) return new ConflictError(changedSince({ what: `variant "${v.key}" of ${e.key}`, change: await versionsChange(db, was, now), since: "filed", outcome }));
  }
  return null;
}

const versionsChange = async (db: Pick<Db, "modelVersion">, shown: string | null, now: string | null) =>
  ({ shown: await versionWords(db, shown, { model: true }), now: await versionWords(db, now, { model: true }) });

/**
 * Ships a variant: the model version it served in the current phase (shipTarget; the one it resolves
 * to now when it served none) becomes the surface model's production alias (audited), and the
 * experiment ends, in one transaction.
 * @returns the experiment as shipped, with `surfaces`: the keys of its surface and of every surface
 *   the moved production alias ranks.
 * `check.expectFromVersionId`: the production version the page showed (null: unset); if production
 * moved since, ConflictError (409) and nothing changes. Omitted: not checked. `check.expectVersionId`:
 * the version the variant served when a ship request was filed, or that the ship dialog named; if it
 * serves another now, ConflictError. `check.expectPhase`: the analysis phase whose results the ship was
 * filed on or the dialog showed; compared under the experiment's lock, so a restart up to the moment
 * it ships refuses it (shipPhaseChanged). `check.since`: who pinned them, an approved request ("filed",
 * the default) or the ship dialog ("shown"), which the refusal's words follow. Each omitted: not checked.
 * `check.gate`: the ship's checks of its results (ShipGate), run under the experiment's lock after the
 * phase and the variant are compared there; the reason it returns is the one recorded (instead of `reason`).
 * @throws ConflictError (not running or stopped; production moved; the variant served several versions;
 *   a pin broken), InvalidInputError on `variant`; whatever `check.gate` throws.
 */
export async function shipExperiment(
  db: Db, key: string, variantKey: string, actor: Actor, reason?: string,
  check: { expectFromVersionId?: string | null; expectVersionId?: string; expectPhase?: number; since?: Exclude<ShipPinnedBy, "filing">; underLock?: UnderLock; gate?: ShipGate } = {},
) {
  const current = await getExperiment(db, key);
  // Checks before effects: a draft or an already-shipped experiment moves nothing.
  if (current.status !== "running" && current.status !== "stopped") {
    throw new ConflictError(shipStatusRefusal(key, current.status));
  }
  // The phase whose results were read: a restart since (an approved experiment_restart, a resume) opened another, with
  // other data and perhaps another decision rule and arms. Compared first, for the words that say so (a restart
  // that also moved the arm would otherwise be refused as a version change), and again under the lock below.
  if (check.expectPhase !== undefined && current.phase !== check.expectPhase) throw shipPhaseChanged(key, check.expectPhase, current.phase, check.since ?? "filed");
  const variant = current.variants.find((v) => v.key === variantKey);
  if (!variant) throw new InvalidInputError("variant", `experiment "${key}" has no variant "${variantKey}"`);
  const pinned = await shipTarget(db, current, variant);
  if (!pinned) throw new InvalidInputError("variant", `variant "${variantKey}" has no model to ship`);
  const versionId = pinned.versionId;
  // Shipping moves the surface model's production alias: a version of another model cannot ride it.
  if (pinned.modelId !== current.surface.modelId) {
    throw new InvalidInputError(
      "variant",
      `variant "${variantKey}" pins ${pinned.modelName} v${pinned.version}, not a version of the surface's model: shipping it would not change what the surface serves; register that version under the surface's model, or switch the surface to ${pinned.modelName}`,
    );
  }
  // An approved ship request pinned the version its variant served when it was filed, the dialog the one it named: not another.
  if (check.expectVersionId !== undefined && check.expectVersionId !== versionId) throw await shipVersionChanged(db, { key, variant: variantKey, shown: check.expectVersionId, now: pinned, since: check.since ?? "filed" });
  let reached: readonly string[] = [];
  // Checked above and again under the experiment's lock; the alias move and the status change
  // commit together or not at all.
  const shipped = await transition(db, key, actor, ["running", "stopped"], async (tx, e) => {
    // The phase whose results were read, under the lock: a restart since (which takes this lock) opened another, with other data and perhaps another decision rule.
    if (check.expectPhase !== undefined && e.phase !== check.expectPhase) throw shipPhaseChanged(key, check.expectPhase, e.phase, check.since ?? "filed");
    // Again under the experiment's lock: a restart may have changed the arm, or traffic its version, since.
    const locked = e.variants.find((v) => v.key === variantKey);
    const now = locked ? await shipTarget(tx, e, locked) : null;
    if (now?.versionId !== versionId) {
      throw new ConflictError(`variant "${variantKey}" of ${key} changed while it was being shipped (it now serves ${now ? `${now.modelName} v${now.version}` : "nothing"}): not shipped; look again and ship`);
    }
    // The results' checks of this phase, under the lock too: what blocks the ship is read where the phase and the arm are.
    const recorded = check.gate ? await check.gate(tx, e) : reason;
    ({ surfaces: reached } = await setAliasIn(tx, {
      versionId: versionId!, alias: "production", actor, reason: `shipped from experiment ${key}, variant ${variantKey}${recorded ? `: ${recorded}` : ""}`, kind: "ship", underLock: check.underLock,
      expectFrom: check.expectFromVersionId === undefined ? undefined : { versionId: check.expectFromVersionId, what: `ship of ${key} refused` },
    }));
    await notifyInTransaction(tx, {
      kind: "experiment.shipped", actor: actor.name, reason: recorded ?? null,
      data: { experiment: key, surface: current.surface.key, variant: variantKey, model: pinned.modelName, version: pinned.version, alias: "production" },
    });
    const at = new Date();
    await tx.experiment.update({ where: { id: e.id }, data: { status: "shipped", shippedVariantKey: variantKey, shippedAt: at, stoppedAt: e.stoppedAt ?? at } });
    await tx.experimentPhase.updateMany({ where: { experimentId: e.id, phase: e.phase, endedAt: null }, data: { endedAt: at } });
    return { reason: recorded ?? `variant ${variantKey}` };
  }, "experiment.ship", reason ?? `variant ${variantKey}`, { variant: variantKey });
  // The experiment's surface (its experiment ended) and every surface the production alias ranks.
  return { ...shipped, surfaces: [...new Set([current.surface.key, ...reached])].sort() };
}
