import type { z } from "zod";
import type { Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { principalCan, requirePerson, toRoles } from "../auth/principal";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { rolesAllow, type Permission } from "../domain/access/permissions";
import { subjects } from "../domain/audit/subject";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from "../errors";
import { shipBlocks } from "../domain/experiments/shipGate";
import { mapError } from "../errorMapping";
import { experimentResults, experimentResultsIn } from "../experiments/results";
import { canonicalJson } from "../domain/canonicalJson";
import { percentOfShare } from "../domain/percent";
import { experimentInputSchema, type ExperimentInput } from "../experiments/schema";
import {
  changedSincePin, changedSinceStartPin, checkRestart, checkTrafficLeft, experimentAllocation, experimentDecision, experimentReach, getExperiment, restartDifferences, restartExperiment, restartPinOf, shipExperiment,
  shipPhaseChanged, shipTarget, shipVersionChanged, shownExperimentChanged, startExperiment, unseenShipBlocks, variantVersion, variantVersionsMoved, LEVER_STATUSES, lifecycleRefusal, shipStatusRefusal, type Allocation, type Decision, type RestartField, type RestartPin, type ShipGate,
} from "../experiments/service";
import { RANKING_ROLES, describeReach } from "../domain/rollouts/aliasReach";
import { surfacesReachedBy, type SurfaceReached } from "../registry/aliasReach";
import { setAlias } from "../registry/versions";
import { versionWords } from "../registry/versionWords";
import { changedSince } from "../domain/changedSince";
import { checkStage2, configureStage2, stage2ChangedSince, stage2Words, type Stage2Input } from "../surfaces/stage2";
import { LEVER_TRANSACTION, type UnderLock } from "../db/leverTransaction";
import { canaryStartBlocked, checkRolloutStart, policyOf, promoteRolloutNow, retryInputOf, startRollout, type StartRolloutInput } from "../rollouts/service";
import { policyDifferences, settablePolicy } from "../domain/rollouts/policy";
import { aliasMoveBlocked } from "../rollouts/servingAliasGuard";
import { ACTIVE_ROLLOUT_STATUSES } from "../domain/rollouts/canary";
import type { Context } from "../trpc";
import { reasonSchema } from "../validation";
import { stage2ConfigSchema, type Stage2Config } from "../surfaces/stage2.schema";
import type { ChangePayload, decideChangeSchema, listChangesSchema, setApprovalSchema } from "./schema";
import { lockSurfaceRow } from "../surfaces/lock";

// Approvals (per surface, optional): on a surface that requires them, moving an alias that ranks
// its traffic (serving, canary, stage 2, fallback, an experiment variant's), setting its stage 2,
// starting a canary and shipping, starting or restarting (with changes) an experiment become change requests that another
// person with the same permission approves or rejects, with a comment; the requester cannot approve their own.
// A change is guarded when ANY surface it reaches requires approval: an alias shared with, or used
// as stage 2 by, a guarded surface changes that surface's ranking too.
// Rollback, the kill switch and canary abort never wait for anyone. What GrowthBook's approval
// flows and MLflow's transition requests do.

type Ctx = Pick<Context, "db" | "principal" | "actor">;

/** The permission a person needs to request, and another to approve, each kind of change. */
export const CHANGE_PERMISSION: Record<ChangePayload["kind"], Permission> = {
  alias_move: "models.write",
  canary_start: "canary.start",
  canary_promote: "canary.promote",
  experiment_ship: "experiments.ship",
  experiment_start: "experiments.write",
  experiment_restart: "experiments.write",
  surface_stage2: "models.write",
};

/**
 * What a request pins when it is filed, besides the alias pins (`expectFromVersionId`; a canary start's
 * `rollout.expectFromVersionId`, its baseline) the change itself carries: what its summary showed, so an
 * approval never applies something else. Computed by the server, never taken from the requester.
 */
interface Pins {
  /** experiment_ship: the version the variant served (what the summary names). */
  shipVersionId?: string;
  /** experiment_ship: the analysis phase whose results the ship was filed on (a restart since starts another: the ship is refused). */
  shipPhase?: number;
  /** experiment_ship with override: the keys of the ship checks it overrides (ShipBlock.key); another blocking it when approved refuses it. */
  blockers?: string[];
  /** experiment_start: the experiment's allocation (kind, variants, weights, coverage, targeting…). */
  allocation?: Allocation;
  /** experiment_start: the experiment's decision rule (primary metric, guardrails, engine, minimum detectable effect), as the summary names it. */
  decision?: Decision;
  /** experiment_start: its phase (0: a draft); a start or stop since makes the approval resume another phase: refused. */
  phase?: number;
  /** experiment_start: the version each variant served; experiment_restart: the version each variant of the changed definition serves (by variant key; null: its alias was unset). */
  versions?: Record<string, string | null>;
  /** experiment_restart: the experiment as the summary's "before" showed it: its phase, status and whole definition (restartPinOf). */
  restartFrom?: RestartPin;
  /** surface_stage2: the surface's stage 2 as the summary's "before" showed it (null: none). */
  stage2?: Stage2Config | null;
}
/** A change request's stored payload: the change as requested, with its pins. */
type StoredChange = ChangePayload & { pinned?: Pins };

interface Affected {
  surfaces: Array<{ id: string; key: string; requireApproval: boolean }>;
  /** What will change, in words: "search-ranker production: v2 → v3 (serves search)". */
  summary: string;
  /**
   * An alias move's or a ship's alias, or a canary start's serving alias (its baseline), as the summary shows it
   * (versionId null: unset): pinned on the request when it is filed. `alias`: the alias in words ("search-ranker production").
   */
  from?: { versionId: string | null; alias: string };
  /** A canary promotion's rollout: pinned on the request when it is filed. */
  rolloutId?: string;
  /** Pinned on the request when it is filed (Pins). */
  pins?: Pins;
}

/** The surfaces `alias` of a model reaches in a role that ranks their traffic (a shadow's scores are never shown). */
async function rankedBy(db: Db, target: { modelId: string; modelName: string; alias: string }): Promise<SurfaceReached[]> {
  return (await surfacesReachedBy(db, target))
    .map((s) => ({ ...s, roles: s.roles.filter((r) => RANKING_ROLES.includes(r)) }))
    .filter((s) => s.roles.length > 0);
}

/** The change's own surfaces first, then those its alias move reaches, once each. */
function union(first: Affected["surfaces"], reached: SurfaceReached[]): Affected["surfaces"] {
  return [...first, ...reached.filter((r) => !first.some((f) => f.id === r.id))].map((s) => ({ id: s.id, key: s.key, requireApproval: s.requireApproval }));
}


/**
 * The surfaces a change affects and its description, read before anything is changed. An alias
 * move reaches every surface ranked by the alias (surfacesReachedBy: serving, canary, stage 2 of
 * any surface's cascade, fallback, a running experiment's variant); a canary start and a ship end by
 * moving the surface's serving (production) alias, so they reach that alias's surfaces too.
 * @param options.filing a request is being filed: only then are its summary and pins read in full
 *   (an override's blockers need the experiment's whole analysis, which a direct ship runs anyway).
 */
async function affected(db: Db, change: ChangePayload, options: { filing?: boolean } = {}): Promise<Affected> {
  if (change.kind === "alias_move") {
    const version = await db.modelVersion.findUnique({ where: { id: change.versionId }, select: { modelId: true, version: true, model: { select: { name: true } } } });
    if (!version) throw new NotFoundError("model version", change.versionId);
    const current = await db.modelAlias.findUnique({ where: { modelId_name: { modelId: version.modelId, name: change.alias } }, select: { versionId: true } });
    const surfaces = await rankedBy(db, { modelId: version.modelId, modelName: version.model.name, alias: change.alias });
    const from = await versionWords(db, current?.versionId ?? null);
    const serves = surfaces.length ? ` (serves ${describeReach(surfaces)})` : "";
    return { surfaces: union([], surfaces), summary: `${version.model.name} ${change.alias}: ${from} → v${version.version}${serves}`, from: { versionId: current?.versionId ?? null, alias: `${version.model.name} ${change.alias}` } };
  }
  if (change.kind === "surface_stage2") {
    const surface = await db.surface.findUnique({ where: { key: change.surface }, select: { id: true, key: true, requireApproval: true, stage2: true, modelId: true, modelAlias: true } });
    if (!surface) throw new NotFoundError("surface", change.surface);
    // Refused with the field's error now rather than failing when approved.
    await checkStage2(db, surface, change.stage2);
    const before = stage2ConfigSchema.safeParse(surface.stage2).data ?? null;
    // Filed from a dialog that showed another stage 2 than the stored one: the request would undo a change its filer never saw.
    // (When approved, the summary's pin, `pinned.stage2`, is what is compared: pinBroken, then configureStage2 under the surface's lock.)
    const stale = change.expectBefore === undefined || !options.filing ? null : stage2ChangedSince(surface.key, change.expectBefore, before, "filing");
    if (stale) throw new ConflictError(stale);
    return { surfaces: [{ id: surface.id, key: surface.key, requireApproval: surface.requireApproval }], summary: `stage 2 of ${surface.key}: ${stage2Words(before)} → ${stage2Words(change.stage2)}`, pins: { stage2: before } };
  }
  if (change.kind === "canary_start") {
    // Refused with the field's error now (an unknown version, one already serving, bad steps) rather than failing when approved;
    // a filer's `expectFromVersionId` that no longer serves: 409 now.
    const { surface, model, serving } = await checkRolloutStart(db, change.rollout);
    const steps = (change.rollout.steps ?? [1, 5, 25, 50]).join(" → ");
    const promotes = await rankedBy(db, { modelId: model.id, modelName: model.name, alias: surface.modelAlias });
    const others = promotes.filter((s) => s.key !== surface.key);
    const also = others.length ? `, which also serves ${describeReach(others)}` : "";
    // The baseline the canary is judged against and promoted over: pinned when filed (requestChange).
    return {
      surfaces: union([surface], promotes), from: { versionId: serving, alias: `${model.name} ${surface.modelAlias}` },
      summary: `canary of ${model.name} v${change.rollout.version} on ${surface.key} (${steps} %, then promote: ${model.name} ${surface.modelAlias} ${await versionWords(db, serving)} → v${change.rollout.version}${also})${canaryPolicyWords(change.rollout)}`,
    };
  }
  if (change.kind === "canary_promote") {
    const rollout = await db.rollout.findFirst({
      where: { surface: { key: change.surface }, status: { in: ["running", "paused"] }, ...(change.rolloutId ? { id: change.rolloutId } : {}) },
      select: { id: true, currentPercent: true, fromVersionId: true, toVersionId: true, surface: { select: { id: true, key: true, requireApproval: true, modelAlias: true } }, model: { select: { id: true, name: true, versions: { select: { id: true, version: true } } } } },
    });
    if (!rollout) throw new InvalidInputError("change.surface", `no rollout is running on "${change.surface}"${change.rolloutId ? ` as ${change.rolloutId}` : ""}`);
    const versionOf = (id: string | null) => rollout.model.versions.find((v) => v.id === id)?.version;
    const promotes = await rankedBy(db, { modelId: rollout.model.id, modelName: rollout.model.name, alias: rollout.surface.modelAlias });
    const others = promotes.filter((s) => s.key !== rollout.surface.key);
    const also = others.length ? `; it also serves ${describeReach(others)}` : "";
    return {
      surfaces: union([rollout.surface], promotes), rolloutId: rollout.id,
      summary: `promote the canary of ${rollout.model.name} v${versionOf(rollout.toVersionId)} on ${rollout.surface.key} (at ${rollout.currentPercent} %): ${rollout.model.name} ${rollout.surface.modelAlias} ${await versionWords(db, rollout.fromVersionId)} → v${versionOf(rollout.toVersionId)}${also}`,
    };
  }
  const experiment = await db.experiment.findUnique({ where: { key: change.key }, select: { surface: { select: { id: true, key: true, requireApproval: true, modelId: true, model: { select: { id: true, name: true } } } } } });
  if (!experiment) throw new NotFoundError("experiment", change.key);
  const { surface } = experiment;
  if (change.kind === "experiment_restart") {
    // Read for its surface only once filed (the approval's own checks run under the experiment's lock).
    if (!options.filing) return { surfaces: [surface], summary: `restart experiment ${change.key} with changes` };
    // Refused now with the error a direct restart gives (a variant's unknown model: 400 naming the field), not once approved.
    const current = await checkRestart(db, change.key, change.experiment);
    // Filed from a form that loaded the experiment otherwise than it is now: approved, it would undo a change its filer never saw.
    const stale = change.expectBefore ? changedSincePin(change.expectBefore, current) : [];
    if (stale.length) throw shownExperimentChanged(change.key, stale, "no request filed");
    const versions: Record<string, string | null> = {};
    const after = await Promise.all(change.experiment.variants.map(async (v) => {
      const variant = { ...v, modelAlias: v.modelAlias ?? null, modelVersionId: v.modelVersionId ?? null };
      const version = await variantVersion(db, current, variant);
      versions[v.key] = version?.versionId ?? null;
      return armWords(variant, version);
    }));
    const before = await Promise.all(current.variants.map(async (v) => armWords(v, await variantVersion(db, current, v))));
    const changes = restartDifferences(current, change.experiment).map(({ field, before: was, after: now }) =>
      (field === "variants" ? variantsChange(before, after, was, now) : `${RESTART_FIELD_LABEL[field]}: ${restartWords(field, was)} → ${restartWords(field, now)}`).replace(/[\r\n\u2028\u2029]+/g, " "));
    const phase = current.status === "running"
      ? `phase ${current.phase} ends and phase ${current.phase + 1} starts, running`
      : `stopped in phase ${current.phase}, it resumes in phase ${current.phase + 1}`;
    return {
      surfaces: [surface], pins: { restartFrom: restartPinOf(current), versions },
      // One line per change (";\n": what shows it on one line reads "; "); a value's own line breaks were made spaces above.
      summary: `restart experiment ${change.key} with changes on ${surface.key}: ${phase} (a new analysis phase: its results start from zero, phase ${current.phase}'s stay in history);\n${changes.length ? changes.join(";\n") : "no setting changes"}`,
    };
  }
  const stored = await getExperiment(db, change.key);
  if (change.kind === "experiment_start") {
    // Filed from a page that showed another phase or allocation than now: the approver would read, and approve, what its filer never saw.
    const stale = options.filing ? changedSinceStartPin(change, stored) : [];
    if (stale.length) throw shownExperimentChanged(change.key, stale, "no request filed", "look at it again and decide");
    // A start that a running experiment would leave without traffic is refused now, not once approved.
    if (options.filing) await checkTrafficLeft(db, stored, experimentReach(stored));
    // What the approver approves: each variant's share and the version it serves now.
    const versions: Record<string, string | null> = {};
    const arms = await Promise.all(stored.variants.map(async (v) => {
      const version = await variantVersion(db, stored, v);
      versions[v.key] = version?.versionId ?? null;
      const model = version ? `${v.modelAlias ? `${v.modelAlias}, ` : ""}${version.modelName} v${version.version}` : `${v.modelAlias ?? "no model"}, unset`;
      return `${v.key} ${percent(v.weight)} (${model})`;
    }));
    const coverage = stored.coverage < 1 ? ` of ${percent(stored.coverage)} of its traffic` : "";
    // And what its results are judged by: a draft's rule can be edited until it starts (pinned, as its allocation).
    const decision = experimentDecision(stored);
    const judged = (["primaryMetric", "analysisMode", "guardrails", "minDetectableEffect"] as const).map((f) => `${RESTART_FIELD_LABEL[f]}: ${restartWords(f, decision[f])}`).join("; ");
    return {
      surfaces: [surface], pins: { allocation: experimentAllocation(stored), decision, phase: stored.phase, versions },
      summary: `start experiment ${change.key}: its variants serve part of ${surface.key}'s traffic: ${arms.join(", ")}${coverage}; judged by ${judged}`,
    };
  }
  const variant = stored.variants.find((v) => v.key === change.variant);
  if (!variant) throw new InvalidInputError("variant", `experiment "${change.key}" has no variant "${change.variant}"`);
  // The version the variant served in the phase (shipExperiment ships that one, and checks it against this pin).
  const shipped = await shipTarget(db, stored, variant);
  if (!shipped) throw new InvalidInputError("variant", `variant "${change.variant}" has no model to ship`);
  // Filed from a dialog that showed another phase or version than now: the approver would read, and approve, what its filer never saw.
  if (options.filing && change.expectPhase !== undefined && change.expectPhase !== stored.phase) throw shipPhaseChanged(change.key, change.expectPhase, stored.phase, "filing");
  if (options.filing && change.expectVersionId !== undefined && change.expectVersionId !== shipped.versionId) {
    throw await shipVersionChanged(db, { key: change.key, variant: change.variant, shown: change.expectVersionId, now: shipped, since: "filing" });
  }
  // A ship moves the surface model's production alias (shipExperiment): every surface it ranks changes.
  const moved = surface.model ? await rankedBy(db, { modelId: surface.model.id, modelName: surface.model.name, alias: "production" }) : [];
  const others = moved.filter((s) => s.key !== surface.key);
  const also = others.length ? ` (${surface.model?.name} production also serves ${describeReach(others)})` : "";
  const production = surface.model ? await db.modelAlias.findUnique({ where: { modelId_name: { modelId: surface.model.id, name: "production" } }, select: { versionId: true, version: { select: { version: true } } } }) : null;
  const now = production ? `, now v${production.version.version}` : "";
  // An override ships past the checks that block it: the approver reads which (the analysis runs for the summary only).
  const blocks = (change.override || change.expectBlockers) && options.filing ? shipBlocks(await experimentResults(db, change.key), change.variant) : [];
  const unseen = unseenShipBlocks(change.key, blocks, change.expectBlockers, "filing");
  if (unseen) throw unseen;
  const override = !change.override ? "" : blocks.length ? `; overriding the checks that block it: ${blocks.map((b) => b.text).join("; ")}` : "; with an override of the ship checks (none blocks it now)";
  return {
    surfaces: union([surface], moved), from: { versionId: production?.versionId ?? null, alias: `${surface.model?.name ?? surface.key} production` },
    pins: { shipVersionId: shipped.versionId, shipPhase: stored.phase, ...(change.override ? { blockers: blocks.map((b) => b.key) } : {}) },
    summary: `ship variant ${change.variant} (${shipped.modelName} v${shipped.version}) of experiment ${change.key} to production on ${surface.key}${now}${also}${override}`,
  };
}

/** A share in a summary: to 0.0001 % (a weight of 1/3 reads 33.3333 %); variantsChange writes finer changes out whole. */
const percent = (share: number) => `${+(share * 100).toFixed(4)} %`;

/** How a restart request's summary names each field it changes. */
const RESTART_FIELD_LABEL: Record<RestartField, string> = {
  kind: "kind", variants: "variants", coverage: "coverage", namespace: "namespace", hashAttribute: "randomisation unit", hashVersion: "hash version", seed: "seed",
  targeting: "targeting", primaryMetric: "primary metric", guardrails: "guardrails", analysisMode: "analysis engine", minDetectableEffect: "minimum detectable effect",
  name: "name", hypothesis: "hypothesis", owner: "owner", secondaryMetrics: "secondary metrics",
};

/** A variant of a restart's summary: "treat 50 % (search-ranker v4)", "control 50 % (control, production, search-ranker v1)", with its constraint overrides if any. */
function armWords(
  v: { key: string; weight: number; isControl: boolean; modelAlias: string | null; constraintOverrides: unknown },
  version: { modelName: string; version: number } | null,
): string {
  const model = version ? `${v.modelAlias ? `${v.modelAlias}, ` : ""}${version.modelName} v${version.version}` : `${v.modelAlias ?? "no model"}, unset`;
  const overrides = v.constraintOverrides && typeof v.constraintOverrides === "object" && Object.keys(v.constraintOverrides).length ? `; constraints ${canonicalJson(v.constraintOverrides)}` : "";
  return `${v.key} ${percent(v.weight)} (${v.isControl ? "control, " : ""}${model}${overrides})`;
}

/**
 * "variants: control 50 % (…), treat 50 % (…) → control 10 % (…), treat 90 % (…)"; where only a
 * variant's name changed, the names; where only a weight changed by less than the summary's 0.0001 %,
 * the weights to 12 significant digits (restartDifferences already ignores floating-point noise).
 */
function variantsChange(before: string[], after: string[], was: unknown, now: unknown): string {
  if (before.join(", ") !== after.join(", ")) return `variants: ${before.join(", ")} → ${after.join(", ")}`;
  const names = (variants: unknown) => (variants as Array<{ key: string; name: string }>).map((v) => `${v.key} "${v.name}"`).join(", ");
  if (names(was) !== names(now)) return `variant names: ${names(was)} → ${names(now)}`;
  const weights = (variants: unknown) => (variants as Array<{ key: string; weight: number }>).map((v) => `${v.key} ${percentOfShare(v.weight)} %`).join(", ");
  return `variant weights: ${weights(was)} → ${weights(now)}`;
}

/** A field's value in a restart request's summary, as the experiment form shows it (percentages, "none"). */
function restartWords(field: RestartField, value: unknown): string {
  const clip = (text: string) => JSON.stringify(text.length > 80 ? `${text.slice(0, 79)}…` : text);
  switch (field) {
    case "coverage": return percent(value as number);
    case "minDetectableEffect": return value === null || value === undefined ? "none" : percent(value as number);
    case "namespace": {
      const n = value as { id: string; start: number; end: number } | null;
      return n ? `${n.id} ${percent(n.start)}–${percent(n.end)}` : "none";
    }
    case "targeting": {
      const rules = value as Array<{ attribute: string; op: string; value?: unknown }>;
      return rules.length ? rules.map((r) => `${r.attribute} ${r.op}${r.value === undefined ? "" : ` ${JSON.stringify(r.value)}`}`).join(", ") : "everyone";
    }
    case "guardrails": {
      const guards = value as Array<{ metric: string; direction: string; threshold: number }>;
      return guards.length ? guards.map((g) => `${g.metric} must not ${g.direction === "increase" ? "rise" : "fall"} by more than ${percent(g.threshold)}`).join(", ") : "none";
    }
    case "secondaryMetrics": return (value as string[]).length ? (value as string[]).join(", ") : "none";
    case "hashAttribute": return value === "sessionKey" ? "session" : "user";
    case "kind": return value === "interleaving" ? "interleaving" : "A/B";
    case "name": case "owner": case "hypothesis": case "seed": return clip(String(value));
    default: return String(value);
  }
}

/**
 * A canary start's judge policy in a summary's words: every field that differs from the defaults
 * ("; judge policy: fallback tolerance +5 points (default +1 points), …"), or that it uses the defaults.
 */
function canaryPolicyWords(rollout: Extract<ChangePayload, { kind: "canary_start" }>["rollout"]): string {
  const differences = policyDifferences(policyOf(rollout));
  return differences.length ? `; judge policy: ${differences.join(", ")}` : "; judge policy: the defaults";
}

/**
 * A canary start's request with its whole judge policy written out (every settable field, defaults
 * included), so the start an approval applies judges with exactly what the summary showed, whatever
 * the defaults are by then. Other changes are returned as they are.
 */
function pinCanaryPolicy<T extends ChangePayload>(change: T): T {
  if (change.kind !== "canary_start") return change;
  // maxP99Increase (the older name) is written out as maxLatencyIncrease.
  const rollout = { ...change.rollout, ...settablePolicy(policyOf(change.rollout)) };
  delete rollout.maxP99Increase;
  return { ...change, rollout };
}

/** Applies an approved change with its pins as `actor`; `reached`: the surfaces it reaches (affected, read before it). */
async function apply(db: Db, change: StoredChange, actor: Actor, reason: string, reached: string[]) {
  if (change.kind === "alias_move") return setAlias(db, { versionId: change.versionId, alias: change.alias, actor, reason, expectFrom: expectFromOf(change, `move of ${change.alias} refused`) });
  if (change.kind === "surface_stage2") return configureStage2(db, { surface: change.surface, stage2: change.stage2, reason }, actor, { expectBefore: change.pinned && "stage2" in change.pinned ? (change.pinned.stage2 ?? null) : undefined });
  // The approval covers every surface the change reached when approved: its promotion needs no other.
  if (change.kind === "canary_start") return startRollout(db, { ...change.rollout, reason }, actor, { approvedFor: reached });
  if (change.kind === "canary_promote") return promoteRolloutNow(db, { surface: change.surface, reason, rolloutId: change.rolloutId }, actor, { approved: true });
  if (change.kind === "experiment_start") return startExperiment(db, change.key, actor, { expectPhase: change.pinned?.phase, expectAllocation: change.pinned?.allocation, expectDecision: change.pinned?.decision, expectVersions: change.pinned?.versions });
  // The definition as filed, checked again as experiments.restart checks its input (a rule tightened since is a 400 naming the field).
  if (change.kind === "experiment_restart") return restartExperiment(db, change.key, parseStored(experimentInputSchema, change.experiment, "experiment"), actor, reason, { expect: change.pinned?.restartFrom, expectVersions: change.pinned?.versions });
  return shipChecked(db, { ...change, expectVersionId: change.pinned?.shipVersionId, expectBlockers: change.pinned?.blockers, expectPhase: change.pinned?.shipPhase }, actor, reason, "filed");
}

/**
 * Refuses (409, naming the surface) a direct change where a surface it affects requires approval,
 * so that nobody bypasses the request by calling the mutation. Checked before any effect, and again
 * by the returned UnderLock inside the change's own transaction after its locks (and the waits for
 * them): approval switched on meanwhile refuses it, as does a surface an alias move reaches now
 * that it did not reach when first read (a stage 2 pointed at the alias meanwhile). A plain read,
 * no row lock: a switch that commits after it is a later change (locking the surfaces' rows here
 * would deadlock two canary starts on cascades that rescore with each other's alias).
 */
async function assertNoApprovalRequired(db: Db, change: ChangePayload, request = "request it"): Promise<UnderLock> {
  const { surfaces } = await affected(db, change);
  const refuse = (key: string) => new ConflictError(`surface "${key}" requires approval for this change: ${request}, and another person with the permission approves it`);
  const guarded = surfaces.find((s) => s.requireApproval);
  if (guarded) throw refuse(guarded.key);
  const ids = surfaces.map((s) => s.id);
  return async (tx, reached = []) => {
    const ranked = reached.find((s) => s.requireApproval && s.roles.some((r) => (RANKING_ROLES as readonly string[]).includes(r)));
    if (ranked) throw refuse(ranked.key);
    if (!ids.length) return;
    const rows = await tx.surface.findMany({ where: { id: { in: ids }, requireApproval: true }, select: { key: true }, orderBy: { key: "asc" }, take: 1 });
    if (rows[0]) throw refuse(rows[0].key);
  };
}

/** A stored change's part parsed again with its schema; a value it no longer passes is a 400 naming the field (`at`.path). */
function parseStored<T extends z.ZodType>(schema: T, value: unknown, at: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InvalidInputError([at, ...issue.path.map(String)].join("."), issue.message);
}

/** setAlias's expectFrom from a change's `expectFromVersionId` (undefined: not checked). */
function expectFromOf(change: { expectFromVersionId?: string | null }, what: string) {
  return change.expectFromVersionId === undefined ? undefined : { versionId: change.expectFromVersionId, what };
}

/**
 * Moves a model alias now (models.setAlias), unless a surface it ranks requires approval.
 * `expectFromVersionId`: the version the page showed the alias on (null: unset); if it moved since,
 * ConflictError (409) and nothing changes.
 * @returns the alias row, from/to versions and the surfaces reached (setAliasIn).
 */
export async function moveAlias(ctx: Ctx, input: { versionId: string; alias: string; reason?: string; expectFromVersionId?: string | null }) {
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "alias_move", versionId: input.versionId, alias: input.alias });
  return setAlias(ctx.db, { versionId: input.versionId, alias: input.alias, reason: input.reason, actor: ctx.actor, expectFrom: expectFromOf(input, `move of ${input.alias} refused`), underLock });
}

/**
 * Sets or removes stage 2 of a surface's cascade now (surfaces.configureStage2), unless the surface
 * requires approval: then it is a `surface_stage2` change request (ConflictError, 409, until approved).
 */
export async function setStage2(ctx: Ctx, input: Stage2Input) {
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "surface_stage2", surface: input.surface, stage2: input.stage2 });
  return configureStage2(ctx.db, input, ctx.actor, { underLock });
}

/** Starts a canary now (rollouts.start), unless its surface requires approval; `expectFromVersionId`: the baseline the dialog showed (startRollout). */
export async function startCanary(ctx: Ctx, input: StartRolloutInput) {
  const rollout = { ...input, reason: undefined };
  delete rollout.reason;
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "canary_start", rollout });
  return startRollout(ctx.db, input, ctx.actor, { underLock });
}

/**
 * Starts a new canary like an ended one (rollouts.retry): the same checks as a start, on its policy
 * brought within today's bounds; `policyAdjusted` names each field so changed (empty: the same policy).
 * `expectFromVersionId`: the serving version the retry dialog showed as the baseline (null: unset); moved since: 409, nothing starts.
 */
export async function retryCanary(ctx: Ctx, input: { rolloutId: string; reason: string; expectFromVersionId?: string | null }) {
  const { start: old, policyAdjusted } = await retryInputOf(ctx.db, input.rolloutId);
  // The baseline the retry dialog showed (absent: not checked), as a start's.
  const retried = input.expectFromVersionId === undefined ? old : { ...old, expectFromVersionId: input.expectFromVersionId };
  const start = { ...retried, reason: input.reason };
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "canary_start", rollout: retried });
  return { ...(await startRollout(ctx.db, start, ctx.actor, { policyAdjusted, underLock })), surface: start.surface, policyAdjusted };
}

/**
 * Starts (or resumes, in a new phase) an experiment now (experiments.start), unless its surface requires approval; `reason` goes to the audit trail.
 * `shown`: the phase, allocation and decision rule the page showed; if any changed since, ConflictError (409) and nothing starts (each omitted: not checked).
 */
export async function startVariants(ctx: Ctx, key: string, reason?: string, shown: { expectPhase?: number; expectAllocation?: Allocation; expectDecision?: Decision } = {}) {
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "experiment_start", key });
  return startExperiment(ctx.db, key, ctx.actor, { reason, underLock, ...shown, since: "shown" });
}

/**
 * Restarts a running or stopped experiment with changes (a new phase, running), unless its surface
 * requires approval: it changes who is served what and how the results are judged, so there it is an
 * `experiment_restart` change request (ConflictError, 409, saying so, until approved).
 * `expectBefore`: the experiment as the form loaded it (restartPinOf's shape); if it changed since, ConflictError (409) and nothing restarts (omitted: not checked).
 */
export async function restartVariants(ctx: Ctx, input: { key: string; experiment: ExperimentInput; reason?: string; expectBefore?: RestartPin }) {
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "experiment_restart", key: input.key, experiment: input.experiment }, 'request the restart (an experiment_restart change request: "Request restart" in the experiment\'s restart dialog)');
  return restartExperiment(ctx.db, input.key, input.experiment, ctx.actor, input.reason, { underLock, expectBefore: input.expectBefore });
}

/**
 * Ships an experiment's variant now (experiments.ship), unless its surface requires approval or its
 * results block shipping (a failed sample-ratio check, a violated guardrail) and nobody overrode
 * them with a reason. An override is recorded in the ship's audit entry with what it overrode.
 * What the ship dialog showed: `expectFromVersionId` (production's version), `expectVersionId` (the
 * version it named), `expectPhase` (the phase whose results it read), `expectBlockers` (the keys of
 * the checks it showed blocking); if any changed since, ConflictError (409) and nothing changes. Each omitted: not checked.
 */
export async function shipVariant(ctx: Ctx, input: { key: string; variant: string; reason?: string; override?: boolean; expectFromVersionId?: string | null; expectVersionId?: string; expectPhase?: number; expectBlockers?: string[] }) {
  const underLock = await assertNoApprovalRequired(ctx.db, { kind: "experiment_ship", key: input.key, variant: input.variant, override: input.override });
  return shipChecked(ctx.db, { ...input, underLock }, ctx.actor, input.reason, "shown");
}

/**
 * A ship (direct, `since` "shown"; or an approved request, "filed") past the ship checks, with its pins
 * (shipVariant), by shipExperiment. The checks of its results are read in the ship's transaction under
 * the experiment's lock (its gate), where its phase and variant are compared: one read of the results,
 * and what blocks it is what blocks the phase it ships from.
 */
async function shipChecked(
  db: Db, change: { key: string; variant: string; override?: boolean; expectFromVersionId?: string | null; expectVersionId?: string; expectBlockers?: string[]; expectPhase?: number; underLock?: UnderLock },
  actor: Actor, reason: string | undefined, since: "filed" | "shown",
) {
  const gate: ShipGate = async (tx, e) => {
    const blocks = shipBlocks(await experimentResultsIn(tx, e), change.variant);
    // An approved override covers the checks its summary named, a direct one those its dialog showed: no other.
    const unseen = unseenShipBlocks(change.key, blocks, change.expectBlockers, since);
    if (unseen) throw unseen;
    const blockers = blocks.map((b) => b.text);
    if (blockers.length > 0 && !change.override) {
      throw new ConflictError(`ship is blocked: ${blockers.join("; ")}. Ship anyway only by overriding the checks, with a reason`);
    }
    if (blockers.length > 0 && !reasonSchema.safeParse(reason ?? "").success) throw new InvalidInputError("reason", "overriding the ship checks needs a reason (at least 3 characters)");
    return blockers.length > 0 ? `override of ${blockers.join("; ")}: ${reason}` : reason;
  };
  return shipExperiment(db, change.key, change.variant, actor, reason, { expectFromVersionId: change.expectFromVersionId, expectVersionId: change.expectVersionId, expectPhase: change.expectPhase, since, underLock: change.underLock, gate });
}

const requester = (ctx: Ctx) => requirePerson(ctx.principal, "request or decide a change");

/** Files a change request on the first affected surface that requires approval. */
export async function requestChange(ctx: Ctx, input: { change: ChangePayload; reason: string }) {
  const person = requester(ctx);
  const permission = CHANGE_PERMISSION[input.change.kind];
  if (!principalCan(person, permission)) throw new ForbiddenError(`you need the permission ${permission} to request this change`);
  const { surfaces, summary, from, rolloutId, pins } = await affected(ctx.db, input.change, { filing: true });
  const surface = surfaces.find((s) => s.requireApproval);
  if (!surface) throw new InvalidInputError("change", `no surface it affects requires approval (${surfaces.map((s) => s.key).join(", ") || "none"}): apply it directly`);
  // What the approver approves is the summary's "v2 → v1": the version shown now is pinned, so a
  // request approved after the alias moved (an on-call rollback meanwhile) is refused, not applied over it.
  const change = input.change;
  // Filed from a page that showed another version on the alias than it points at now: the request
  // would be refused when approved (pinBroken) whatever the approver decided; refused now instead.
  if ((change.kind === "alias_move" || change.kind === "experiment_ship") && change.expectFromVersionId !== undefined && from && change.expectFromVersionId !== from.versionId) {
    const moved = { shown: await versionWords(ctx.db, change.expectFromVersionId), now: await versionWords(ctx.db, from.versionId) };
    throw new ConflictError(changedSince({ what: from.alias, change: moved, since: "shown", outcome: "no request filed" }));
  }
  const pinnedChange = (change.kind === "alias_move" || change.kind === "experiment_ship") && change.expectFromVersionId === undefined && from
    ? { ...change, expectFromVersionId: from.versionId }
    : change.kind === "canary_start" && change.rollout.expectFromVersionId === undefined && from
      ? { ...change, rollout: { ...change.rollout, expectFromVersionId: from.versionId } }
      : change.kind === "canary_promote" && rolloutId ? { ...change, rolloutId } : change;
  const payload: StoredChange = pins ? { ...pinCanaryPolicy(pinnedChange), pinned: pins } : pinCanaryPolicy(pinnedChange);
  return ctx.db.$transaction(async (tx) => {
    if (isExperimentLever(change)) await refuseDuplicateExperimentRequest(tx, change);
    const request = await tx.changeRequest.create({
      data: { kind: input.change.kind, surfaceId: surface.id, payload: payload as unknown as Prisma.InputJsonValue, summary, reason: input.reason, requestedById: person.id },
    });
    await recordAudit(tx, { action: "change_request.create", actor: ctx.actor, subject: subjects.surface(surface.id, surface.key), surfaces: filedUnder(surface.key, surfaces.map((s) => s.key)), after: { id: request.id, summary }, reason: input.reason });
    return request;
  }, LEVER_TRANSACTION);
}

/** The change kinds that act on one experiment's lifecycle: start (or resume), restart with changes, ship. */
const EXPERIMENT_LEVERS = ["experiment_start", "experiment_restart", "experiment_ship"] as const;
type ExperimentLever = Extract<ChangePayload, { kind: (typeof EXPERIMENT_LEVERS)[number] }>;
const isExperimentLever = (change: ChangePayload): change is ExperimentLever => (EXPERIMENT_LEVERS as readonly string[]).includes(change.kind);

/**
 * Whether a pending request's stored change (`pending`, of the same kind and experiment) does what
 * `change` would: any start (it has nothing of its own: the pins a stale page sent are refused when
 * filed); a ship of the same variant (with an override or not); a restart with the same definition.
 * Competing changes (a ship of the other variant, a restart with other changes) are each filed: the
 * approver picks, and approving one breaks the others' pins (phase, status), which are then refused.
 */
function sameExperimentChange(change: ExperimentLever, pending: unknown): boolean {
  const stored = (pending ?? {}) as { variant?: unknown; experiment?: unknown };
  if (change.kind === "experiment_ship") return stored.variant === change.variant;
  if (change.kind === "experiment_restart") return canonicalJson(stored.experiment) === canonicalJson(change.experiment);
  return true;
}

/** What a pending experiment request does, in words: "start it", "restart it with the same changes", "ship variant treat". */
function experimentLeverWords(change: ExperimentLever): string {
  if (change.kind === "experiment_ship") return `ship variant ${change.variant}`;
  return change.kind === "experiment_restart" ? "restart it with the same changes" : "start it";
}

/**
 * Refuses (ConflictError, 409) filing an experiment lever (EXPERIMENT_LEVERS) that a pending request
 * for the same experiment already asks for (sameExperimentChange: two tabs' Request start filed two,
 * and approving one made the other fail), naming that request: what it does, who filed it and when,
 * its id. Run in the filing's transaction under the experiment's row lock, so two filings at once take
 * turns and the second sees the first.
 */
async function refuseDuplicateExperimentRequest(tx: Prisma.TransactionClient, change: ExperimentLever): Promise<void> {
  await tx.$queryRaw`SELECT id FROM experiments WHERE key = ${change.key} FOR UPDATE`;
  const pending = await tx.changeRequest.findMany({
    where: { status: "pending", kind: change.kind, payload: { path: ["key"], equals: change.key } },
    orderBy: { createdAt: "asc" },
    select: { id: true, payload: true, createdAt: true, requestedBy: { select: { email: true } } },
  });
  const same = pending.find((p) => sameExperimentChange(change, p.payload));
  if (!same) return;
  const by = same.requestedBy.email;
  throw new ConflictError(
    `experiment "${change.key}" already has a pending request to ${experimentLeverWords(change)}, filed by ${by} at ${same.createdAt.toISOString()} (request ${same.id}): no request filed; ` +
      `another person with the permission decides it, or ${by} withdraws it (Approvals page), before another is filed`,
  );
}

/**
 * Approves (and applies) or rejects a pending request. The decider is a signed-in person other than
 * the requester holding the change's permission; of two deciding at once, exactly one wins.
 * An approval claims the request (pending → applied) and applies the change in one transaction (the
 * services' own transactions run in it as savepoints: nestedIn), so the request reads applied exactly when the change
 * committed: never while it is still being applied, and a crash meanwhile leaves it pending with
 * nothing changed. A second decision waits for the first on the request's row and is refused (409)
 * once it committed. A change that fails rolls back with its claim; the request is then marked failed
 * with what failed, and the approver gets the error a direct call would (409, 400 naming the field…).
 * @returns the request as decided, with `surfaces`: the keys of the surfaces an applied change
 *   reached (an alias serves several; none when rejected).
 */
export async function decideChange(ctx: Ctx, input: z.infer<typeof decideChangeSchema>) {
  const person = requester(ctx);
  const request = await ctx.db.changeRequest.findUnique({ where: { id: input.id }, include: { requestedBy: { select: { email: true, disabled: true, roles: true, mustChangePassword: true } }, surface: { select: { key: true } } } });
  if (!request) throw new NotFoundError("change request", input.id);
  if (request.requestedById === person.id) throw new ConflictError("id: you cannot approve or reject your own request; another person must");
  const permission = CHANGE_PERMISSION[request.kind];
  if (!principalCan(person, permission)) throw new ForbiddenError(`you need the permission ${permission} to decide this request`);
  const payload = request.payload as unknown as StoredChange;
  // Checked before the claim (and again under the model's lock by the move itself): what the summary
  // showed changed since the request was filed; or its requester no longer stands behind it (disabled,
  // or without the permission now): two people holding the permission must stand behind each change.
  // A pin that cannot be read (a payload stored by hand, corrupt) is left to the apply, whose failure marks the request failed.
  const moved = input.approve ? (requesterGone(request.requestedBy, permission) ?? (await pinBroken(ctx.db, payload).catch(() => null))) : null;
  const facts = { id: request.id, summary: request.summary, requestedBy: request.requestedBy.email };
  const entry = { actor: ctx.actor, subject: subjects.surface(request.surfaceId, request.surface.key), surfaces: filedUnder(request.surface.key, await reachOf(ctx.db, payload)), reason: input.comment };
  const decision = { decidedById: person.id, decidedAt: new Date(), decisionComment: input.comment };
  /** Claims the pending request as `status` in `tx`, or refuses (409) saying what the winner made it. */
  const claim = async (tx: Prisma.TransactionClient, status: "applied" | "rejected" | "failed", error?: string) => {
    const claimed = await tx.changeRequest.updateMany({ where: { id: request.id, status: "pending" }, data: { status, ...decision, ...(error ? { error } : {}) } });
    if (claimed.count === 0) throw new ConflictError(`id: the request is ${await statusNow(tx, request.id)} already`);
  };
  const decided = async (surfaces: string[]) => ({ ...(await ctx.db.changeRequest.findUniqueOrThrow({ where: { id: request.id } })), surfaces });
  if (!input.approve || moved) {
    await ctx.db.$transaction(async (tx) => {
      await claim(tx, input.approve ? "failed" : "rejected", moved ?? undefined);
      await recordAudit(tx, { ...entry, action: input.approve ? "change_request.fail" : "change_request.reject", after: moved ? { ...facts, error: moved } : facts });
    }, LEVER_TRANSACTION);
    if (moved) throw new ConflictError(moved);
    return decided([]);
  }
  let reached: string[];
  try {
    reached = await ctx.db.$transaction(async (tx) => {
      await claim(tx, "applied");
      // Read before the change: an alias move's reach is the surfaces its alias ranks now.
      const client = nestedIn(tx);
      const surfaces = (await affected(client, payload)).surfaces.map((s) => s.key);
      await apply(client, payload, ctx.actor, `${request.reason} (requested by ${request.requestedBy.email}, approved by ${person.name})`, surfaces);
      // The requester again, after the change (which may have waited up to a minute for a model's or
      // surface's lock): disabled, reset or demoted meanwhile, the change does not commit (re-break: it
      // applied). Read FOR SHARE: a disable that starts after this waits for the commit.
      const [now] = await tx.$queryRaw<Array<{ email: string; disabled: boolean; roles: string[]; mustChangePassword: boolean }>>`
        SELECT email, disabled, roles::text[] AS roles, must_change_password AS "mustChangePassword" FROM users WHERE id = ${request.requestedById} FOR SHARE`;
      const gone = now ? requesterGone(now, permission) : `its requester ${request.requestedBy.email} no longer exists: not applied`;
      if (gone) throw new ConflictError(gone);
      return surfaces;
    }, LEVER_TRANSACTION);
  } catch (error) {
    // Nothing of it committed: the request is pending again, unless another decision took it meanwhile.
    if (error instanceof ConflictError && error.message.startsWith("id: the request is ")) throw error;
    // Stored and shown to everyone who reads the request: the caller's message (a domain error's own, or
    // what failed in plain words for a fault of ours), never a driver's text.
    const { message } = mapError(error, "applying the approved change");
    await ctx.db.$transaction(async (tx) => {
      await claim(tx, "failed", message);
      await recordAudit(tx, { ...entry, action: "change_request.fail", after: { ...facts, error: message } });
    }, LEVER_TRANSACTION).catch((failed) => console.error(`[approvals] change request ${request.id} failed to apply, and marking it failed failed too:`, failed));
    // The approver learns it failed as a direct call would say (a 409 when the alias moved meanwhile, a 400 naming the field…).
    throw error;
  }
  // Applied (committed with the request's status and its own audit entry, whose reason names the
  // requester and the approver): a fault writing the approval's entry from here on is not a failed
  // change. Answered as applied, with a warning the approver sees (a 500 made them think it had not
  // applied, and their retry met "applied already").
  try {
    await recordAudit(ctx.db, { ...entry, surfaces: filedUnder(request.surface.key, [...entry.surfaces, ...reached]), action: "change_request.approve", after: facts });
  } catch (error) {
    const { message } = mapError(error, "recording the approval in the audit trail");
    console.error(`[approvals] change request ${request.id} applied, but its change_request.approve audit entry was not written:`, error);
    return { ...(await decided(reached).catch(() => ({ ...request, status: "applied" as const, decidedById: person.id, surfaces: reached }))), warning: `applied; ${message}: the change's own audit entry names you as the approver` };
  }
  return decided(reached);
}

/**
 * The surfaces a change request's audit entries are filed under: the request's own surface first, then
 * every other surface the change reaches (a canary start's promotion, an alias move's or a ship's
 * alias), once each, so the Audit page's surface filter finds the request wherever it lands.
 */
function filedUnder(own: string, reached: readonly string[]): string[] {
  return [own, ...new Set(reached.filter((k) => k !== own))];
}

/** The keys of the surfaces a stored change reaches now (affected), or none when that can no longer be read (its version deleted…). */
async function reachOf(db: Db, change: StoredChange): Promise<string[]> {
  try {
    return (await affected(db, change)).surfaces.map((s) => s.key);
  } catch {
    return [];
  }
}

/**
 * `tx` as the client a service takes: each `$transaction(fn)` the service opens runs in `tx` inside a
 * savepoint (released when `fn` resolves, rolled back to when it throws, as a transaction of its own
 * would be), so the change commits, or rolls back, with the request's status. Our own savepoints, not
 * Prisma 7's nested transactions: after a nested one failed on a database error, later top-level
 * transactions of the same async context were refused ("A start cannot be executed on a transaction
 * that was rolled back", P2028). The services use no member a transaction client lacks ($connect, $on,
 * $extends) and open their transactions one at a time.
 */
function nestedIn(tx: Prisma.TransactionClient): Db {
  let depth = 0;
  const client: Db = new Proxy(tx, {
    get(target, property, receiver) {
      if (property !== "$transaction") return Reflect.get(target, property, receiver);
      return async (fn: unknown) => {
        if (typeof fn !== "function") throw new Error("applying an approved change: a batch $transaction is not supported inside the approval's transaction");
        const savepoint = `approved_change_${++depth}`;
        await tx.$executeRawUnsafe(`SAVEPOINT ${savepoint}`);
        try {
          const result: unknown = await (fn as (client: Db) => Promise<unknown>)(client);
          await tx.$executeRawUnsafe(`RELEASE SAVEPOINT ${savepoint}`);
          return result;
        } catch (error) {
          await tx.$executeRawUnsafe(`ROLLBACK TO SAVEPOINT ${savepoint}`);
          throw error;
        } finally {
          depth--;
        }
      };
    },
  }) as unknown as Db;
  return client;
}

/** Why a request's requester no longer stands behind it (disabled, password reset since, or without `permission` now), or null. */
function requesterGone(requester: { email: string; disabled: boolean; roles: string[]; mustChangePassword: boolean }, permission: Permission): string | null {
  if (requester.disabled) return `its requester ${requester.email} has been disabled since: not applied; someone who holds the permission files it again if the change is still wanted`;
  // An admin reset their password since (a suspected compromise): who filed it is in doubt.
  if (requester.mustChangePassword) return `its requester ${requester.email} has had their password reset since: not applied; they (or someone who holds the permission) file it again if the change is still wanted`;
  if (!rolesAllow(toRoles(requester.roles), permission)) return `its requester ${requester.email} no longer holds the permission (${permission}): not applied; someone who holds it files it again if the change is still wanted`;
  return null;
}

/** A request's status as stored now (the loser of two decisions at once is told what the winner made it). */
async function statusNow(db: Pick<Db, "changeRequest">, id: string): Promise<string> {
  return (await db.changeRequest.findUnique({ where: { id }, select: { status: true } }))?.status ?? "gone";
}

/**
 * Why a request can no longer be applied as filed, or null (also what approvals.list shows as `stale`):
 * - its alias (an alias move's, a ship's production, a canary start's serving alias: its baseline) no
 *   longer points at the version pinned when it was filed (names the alias and both versions);
 * - a surface's stage 2 is no longer what the summary's "before" showed;
 * - a canary is now judged on the alias an alias move or ship would move (aliasMoveBlocked);
 * - an experiment lever no longer applies (experimentMovedSinceFiled: status, phase, allocation,
 *   decision rule, definition, variant versions, traffic left), as a competing request approved first makes it;
 * - a canary start meets another canary (canaryStartBlocked); a promotion's canary is no longer running or paused.
 * Each is checked again under its lock when applied.
 */
async function pinBroken(db: Db, change: StoredChange): Promise<string | null> {
  if (change.kind === "canary_promote") return canaryGoneSinceFiled(db, change);
  if (isExperimentLever(change)) {
    const moved = await experimentMovedSinceFiled(db, change);
    if (moved || change.kind !== "experiment_ship") return moved;
  }
  if (change.kind === "surface_stage2" && change.pinned && "stage2" in change.pinned) {
    const surface = await db.surface.findUnique({ where: { key: change.surface }, select: { stage2: true } });
    return stage2ChangedSince(change.surface, change.pinned.stage2 ?? null, stage2ConfigSchema.safeParse(surface?.stage2).data ?? null);
  }
  if (change.kind === "canary_start") return canaryBaselineBroken(db, change);
  if ((change.kind !== "alias_move" && change.kind !== "experiment_ship") || change.expectFromVersionId === undefined) return null;
  let target: { modelId: string; modelName: string; alias: string } | null = null;
  if (change.kind === "alias_move") {
    const version = await db.modelVersion.findUnique({ where: { id: change.versionId }, select: { modelId: true, model: { select: { name: true } } } });
    target = version ? { modelId: version.modelId, modelName: version.model.name, alias: change.alias } : null;
  } else {
    const experiment = await db.experiment.findUnique({ where: { key: change.key }, select: { surface: { select: { model: { select: { id: true, name: true } } } } } });
    const model = experiment?.surface.model;
    target = model ? { modelId: model.id, modelName: model.name, alias: "production" } : null;
  }
  if (!target) return null;
  // Moved since; or a canary judged on it now (a canary start approved first), whose baseline the move would change.
  return (await aliasMovedSinceFiled(db, target, change.expectFromVersionId)) ?? aliasMoveBlocked(db, target);
}

/**
 * Why an experiment lever's request can no longer apply as filed, or null: the experiment's phase (a
 * start's, a ship's), allocation or decision rule (a start's), or phase, status or definition (a
 * restart's) are no longer what its summary showed: another request approved before it (competing
 * restarts, a ship of the other variant), or a direct change. The same pins the lever compares under the
 * experiment's lock when applied (startExperiment, restartExperiment, shipChecked); gone: its own 404 then.
 */
async function experimentMovedSinceFiled(db: Db, change: Extract<StoredChange, { kind: (typeof EXPERIMENT_LEVERS)[number] }>): Promise<string | null> {
  const pinned = change.pinned;
  if (!pinned) return null;
  const e = await getExperiment(db, change.key).catch((error: unknown) => {
    if (error instanceof NotFoundError) return null;
    throw error;
  });
  if (!e) return null;
  if (change.kind === "experiment_ship") {
    // As shipExperiment checks, in its order: the status (the other variant shipped first), the phase, the version it served.
    if (!(LEVER_STATUSES.ship as readonly string[]).includes(e.status)) return shipStatusRefusal(change.key, e.status);
    if (pinned.shipPhase !== undefined && pinned.shipPhase !== e.phase) return shipPhaseChanged(change.key, pinned.shipPhase, e.phase, "filed").message;
    const variant = e.variants.find((v) => v.key === change.variant);
    const shipped = variant && pinned.shipVersionId !== undefined ? await shipTarget(db, e, variant) : null;
    return shipped && shipped.versionId !== pinned.shipVersionId ? (await shipVersionChanged(db, { key: change.key, variant: change.variant, shown: pinned.shipVersionId!, now: shipped, since: "filed" })).message : null;
  }
  const lever = change.kind === "experiment_start" ? "start" : "restart";
  if (!(LEVER_STATUSES[lever] as readonly string[]).includes(e.status)) return lifecycleRefusal(change.key, e.status, lever, LEVER_STATUSES[lever]);
  const differences = change.kind === "experiment_restart"
    ? (pinned.restartFrom ? changedSincePin(pinned.restartFrom, e) : [])
    : changedSinceStartPin({ expectPhase: pinned.phase, expectAllocation: pinned.allocation, expectDecision: pinned.decision }, e);
  const outcome = change.kind === "experiment_start" ? "not started" : "not restarted";
  if (differences.length) return changedSince({ what: `experiment "${change.key}"`, change: { differences }, since: "filed", outcome, next: "file a new request for it as it is now" });
  // A variant's alias moved since (an alias move approved first): each variant serves what the summary named.
  const definition = change.kind === "experiment_restart" ? parseStored(experimentInputSchema, change.experiment, "experiment") : null;
  const moved = pinned.versions ? await variantVersionsMoved(db, e, definition ? definition.variants : e.variants, pinned.versions, outcome) : null;
  if (moved) return moved.message;
  // A restart whose new definition another start left without traffic (or whose model rules changed): the apply's own checks, read-only.
  if (definition) return checkRestart(db, change.key, definition).then(() => null, (error: unknown) => (isRefusal(error) ? error.message : null));
  // A start another start left without traffic (two experiments taking all of a surface's): checkTrafficLeft's 409.
  return checkTrafficLeft(db, e, experimentReach(e)).then(() => null, (error: unknown) => (isRefusal(error) ? error.message : null));
}

/** A lever's refusal of the request as it stands (its words are the approval's answer), not a fault. */
const isRefusal = (error: unknown): error is Error => error instanceof ConflictError || error instanceof InvalidInputError || error instanceof NotFoundError;

/** Why a canary promotion's request can no longer apply, or null: the rollout it pinned when filed is no longer running or paused (promoted, rolled back, aborted since). */
async function canaryGoneSinceFiled(db: Db, change: Extract<StoredChange, { kind: "canary_promote" }>): Promise<string | null> {
  if (!change.rolloutId) return null;
  const rollout = await db.rollout.findUnique({ where: { id: change.rolloutId }, select: { status: true } });
  if (rollout && (ACTIVE_ROLLOUT_STATUSES as readonly string[]).includes(rollout.status)) return null;
  const since = rollout ? `has been ${rollout.status.replace("_", " ")}` : "no longer exists";
  return `the canary on "${change.surface}" this request promotes ${since} since the request was filed: not promoted; file a new request for a canary running now`;
}

/**
 * Why a canary start request can no longer apply as filed, or null: the surface's serving alias (the
 * baseline its summary showed, `rollout.expectFromVersionId`, pinned when filed) moved since (a request
 * stored without the pin, filed before starts were pinned, is not checked for it); or another canary runs
 * on the surface or on one sharing its alias (canaryStartBlocked). Checked again under the model's lock when applied.
 */
async function canaryBaselineBroken(db: Db, change: Extract<StoredChange, { kind: "canary_start" }>): Promise<string | null> {
  const surface = await db.surface.findUnique({ where: { key: change.rollout.surface }, select: { id: true, key: true, modelAlias: true, model: { select: { id: true, name: true } } } });
  if (!surface?.model) return null;
  // In startRollout's order: the baseline moved since; then another canary started since, here or on a
  // surface sharing the alias (a competing start approved first).
  const expected = change.rollout.expectFromVersionId;
  const moved = expected === undefined ? null : await aliasMovedSinceFiled(db, { modelId: surface.model.id, modelName: surface.model.name, alias: surface.modelAlias }, expected);
  return moved ?? canaryStartBlocked(db, surface, surface.model);
}

/** Why an alias pinned at `expected` (a version's id, null: unset) when a request was filed no longer is, in words, or null. */
async function aliasMovedSinceFiled(db: Db, target: { modelId: string; modelName: string; alias: string }, expected: string | null): Promise<string | null> {
  const current = (await db.modelAlias.findUnique({ where: { modelId_name: { modelId: target.modelId, name: target.alias } }, select: { versionId: true } }))?.versionId ?? null;
  if (current === expected) return null;
  return changedSince({ what: `${target.modelName} ${target.alias}`, change: { shown: await versionWords(db, expected), now: await versionWords(db, current) }, since: "filed" });
}

/** The requester withdraws their pending request. */
export async function cancelChange(ctx: Ctx, id: string) {
  const person = requester(ctx);
  const request = await ctx.db.changeRequest.findUnique({ where: { id } });
  if (!request) throw new NotFoundError("change request", id);
  if (request.requestedById !== person.id) throw new ForbiddenError("only the requester can cancel a request");
  return ctx.db.$transaction(async (tx) => {
    const claimed = await tx.changeRequest.updateMany({ where: { id, status: "pending" }, data: { status: "cancelled", decidedAt: new Date() } });
    if (claimed.count === 0) throw new ConflictError(`id: the request is ${await statusNow(tx, id)} already`);
    const surface = await tx.surface.findUniqueOrThrow({ where: { id: request.surfaceId }, select: { key: true } });
    await recordAudit(tx, { action: "change_request.cancel", actor: ctx.actor, subject: subjects.surface(request.surfaceId, surface.key), surfaces: [surface.key], after: { id, summary: request.summary } });
    return tx.changeRequest.findUniqueOrThrow({ where: { id } });
  }, LEVER_TRANSACTION);
}

/**
 * The change requests, newest first (`status`, `surface` filter; at most `limit`). A pending one carries
 * `stale`: why approving it now would be refused (pinBroken, requesterGone: another request approved
 * before it moved what it pinned, as competing requests do, or its requester was disabled), in the
 * words the approval's 409 would use; null when it would apply. Decided ones carry null.
 */
export async function listChanges(db: Db, input: z.infer<typeof listChangesSchema>) {
  const rows = await db.changeRequest.findMany({
    where: { status: input.status, surface: input.surface ? { key: input.surface } : undefined },
    orderBy: { createdAt: "desc" },
    take: input.limit,
    include: { surface: { select: { key: true } }, requestedBy: { select: { id: true, email: true, name: true, disabled: true, roles: true, mustChangePassword: true } }, decidedBy: { select: { email: true, name: true } } },
  });
  return Promise.all(rows.map(async ({ requestedBy: { disabled, roles, mustChangePassword, ...requestedBy }, ...row }) => {
    const stale = row.status !== "pending"
      ? null
      : (requesterGone({ email: requestedBy.email, disabled, roles, mustChangePassword }, CHANGE_PERMISSION[row.kind]) ??
        (await pinBroken(db, row.payload as unknown as StoredChange).catch(() => null)));
    return { ...row, requestedBy, stale };
  }));
}

/**
 * Turns a surface's approval requirement on or off (admins, signed in: not an API key). The surface's
 * row is locked before it is read, so the audit entry's "before" is what the change replaced, and a
 * press that changes nothing (on when already on, five presses at once) writes nothing.
 * @returns { key, requireApproval, changed }: `changed` false when it already was so.
 * @throws NotFoundError for an unknown surface; ForbiddenError for an API key.
 */
export async function setSurfaceApproval(ctx: Ctx, input: z.infer<typeof setApprovalSchema>) {
  // Four-eyes is about people: a key, which no second person stands behind, cannot switch it off (or on).
  requester(ctx);
  return ctx.db.$transaction(async (tx) => {
    await lockSurfaceRow(tx, { key: input.surface });
    const surface = await tx.surface.findUnique({ where: { key: input.surface }, select: { id: true, key: true, requireApproval: true } });
    if (!surface) throw new NotFoundError("surface", input.surface);
    if (surface.requireApproval === input.required) return { key: surface.key, requireApproval: surface.requireApproval, changed: false };
    const updated = await tx.surface.update({ where: { id: surface.id }, data: { requireApproval: input.required, configVersion: { increment: 1 } } });
    await recordAudit(tx, {
      action: "surface.approvals",
      actor: ctx.actor,
      subject: subjects.surface(surface.id, surface.key),
      surfaces: [surface.key],
      before: { requireApproval: surface.requireApproval },
      after: { requireApproval: input.required },
      reason: input.reason,
    });
    return { key: updated.key, requireApproval: updated.requireApproval, changed: true };
  }, LEVER_TRANSACTION);
}
