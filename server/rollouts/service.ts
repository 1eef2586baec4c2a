import { ROLLOUT_ANALYSIS, type Actor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import { DEFAULT_POLICY, judgeCanary, rolloutLogKey, validateSteps, type ArmStats, type CanaryPolicy, type Verdict } from "../domain/rollouts/canary";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { recordPromotion } from "../history/record";
import { clearAliasIn, setAlias } from "../registry/versions";

// Canary rollouts of a surface's serving alias: start (the version gets the "canary" alias and the
// first share of traffic), an analysis tick that judges each step from the request log and widens,
// promotes (moves the serving alias) or rolls back, and abort. Every transition is audited.

export interface RolloutAnalysis {
  policy: CanaryPolicy;
  stepStartedAt: string;
  latest: (Verdict & { at: string; percent: number; canary: ArmStats; baseline: ArmStats }) | null;
  history: Array<Verdict & { at: string; percent: number; canary: ArmStats; baseline: ArmStats }>;
}

export interface StartRolloutInput {
  surface: string;
  version: number;
  steps?: number[];
  minRequests?: number;
  /** Tolerated relative rise of p99 latency (default 0.2 = +20 %). */
  maxP99Increase?: number;
  /** Tolerated absolute rise of the fallback rate (default 0.01). */
  maxFallbackRateIncrease?: number;
  reason?: string;
}

export async function startRollout(db: Db, input: StartRolloutInput, actor: Actor) {
  const steps = input.steps ?? [1, 5, 25, 50];
  const invalid = validateSteps(steps);
  if (invalid) throw new InvalidInputError("steps", invalid);
  const surface = await db.surface.findUnique({ where: { key: input.surface }, include: { model: { include: { aliases: true, versions: { select: { id: true, version: true } } } } } });
  if (!surface) throw new NotFoundError("surface", input.surface);
  if (!surface.model) throw new InvalidInputError("surface", `"${surface.key}" has no model to roll out`);
  const target = surface.model.versions.find((v) => v.version === input.version);
  if (!target) throw new InvalidInputError("version", `${surface.model.name} has no v${input.version}`);
  const serving = surface.model.aliases.find((a) => a.name === surface.modelAlias)?.versionId ?? null;
  if (serving === target.id) throw new InvalidInputError("version", `v${input.version} already serves "${surface.key}" (${surface.modelAlias})`);
  const analysis: RolloutAnalysis = {
    policy: {
      ...DEFAULT_POLICY,
      minRequests: input.minRequests ?? DEFAULT_POLICY.minRequests,
      maxP99Increase: input.maxP99Increase ?? DEFAULT_POLICY.maxP99Increase,
      maxFallbackRateIncrease: input.maxFallbackRateIncrease ?? DEFAULT_POLICY.maxFallbackRateIncrease,
    },
    stepStartedAt: new Date().toISOString(), latest: null, history: [],
  };
  const rollout = await db.$transaction(async (tx) => {
    // Starts on one surface take turns, so two at once cannot both find none running.
    await tx.$queryRaw`SELECT id FROM surfaces WHERE id = ${surface.id} FOR UPDATE`;
    if (await tx.rollout.findFirst({ where: { surfaceId: surface.id, status: "running" } })) throw new ConflictError(`a rollout is already running on "${surface.key}": abort it first`);
    const created = await tx.rollout.create({
      data: {
        surfaceId: surface.id, modelId: surface.model!.id, fromVersionId: serving, toVersionId: target.id, status: "running", steps,
        currentPercent: steps[0]!, analysis: analysis as unknown as Prisma.InputJsonValue, createdBy: actor.name,
      },
    });
    await recordAudit(tx, {
      action: "rollout.start", actor, subject: subjects.rollout(created.id, surface.model!.name, input.version, surface.key), surfaces: [surface.key],
      after: { surface: surface.key, model: surface.model!.name, version: input.version, steps }, reason: input.reason ?? null,
    });
    const from = surface.model!.versions.find((v) => v.id === serving);
    await recordPromotion(tx, {
      kind: "canary_start", actor, reason: input.reason, surface: surface.key, model: surface.model!, rolloutId: created.id, percent: steps[0]!,
      from: from ?? null, to: target,
    });
    return created;
  });
  try {
    await setAlias(db, { versionId: target.id, alias: "canary", actor, reason: `canary rollout on ${surface.key}` });
  } catch (error) {
    await db.rollout.updateMany({ where: { id: rollout.id, status: "running" }, data: { status: "aborted", currentPercent: 0, endedAt: new Date() } });
    throw error;
  }
  return rollout;
}

/**
 * Request counts, fallbacks and p99 per arm of a rollout since `since`, from the request log.
 * Requests served while the kill switch was on scored no model at all: they say nothing of either arm.
 */
async function armStats(db: Db, rolloutId: string, surface: string, since: Date): Promise<{ canary: ArmStats; baseline: ArmStats }> {
  const rows = await db.$queryRaw<Array<{ arm: string; requests: number; fallbacks: number; p99: number | null }>>`
    SELECT variant_key AS arm, count(*)::int AS requests, count(*) FILTER (WHERE fallback_used)::int AS fallbacks,
      percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
    FROM rerank_requests WHERE surface = ${surface} AND experiment_key = ${rolloutLogKey(rolloutId)} AND ts >= ${since}
      AND fallback_reason IS DISTINCT FROM 'kill_switch'
    GROUP BY variant_key`;
  const arm = (name: string): ArmStats => {
    const r = rows.find((x) => x.arm === name);
    return { requests: r?.requests ?? 0, fallbacks: r?.fallbacks ?? 0, p99: r?.p99 ?? null };
  };
  return { canary: arm("canary"), baseline: arm("baseline") };
}

/**
 * One analysis pass over every running rollout: judge the current step; on "advance" widen to the
 * next step, or after the last one promote (the serving alias moves to the new version); on "fail"
 * roll back (the canary's share drops to 0 at once). Returns what it did, for logs and tests.
 */
export async function analyseRollouts(db: Db): Promise<Array<{ rolloutId: string; surface: string; decision: Verdict["decision"]; status: string; percent: number }>> {
  const running = await db.rollout.findMany({ where: { status: "running" }, include: { surface: { select: { key: true, modelAlias: true, killSwitch: true } }, model: { select: { name: true } } } });
  const versions = new Map(
    (await db.modelVersion.findMany({ where: { id: { in: running.map((r) => r.toVersionId) } }, select: { id: true, version: true } })).map((v) => [v.id, v.version]),
  );
  const done = [];
  for (const rollout of running) {
    // With the kill switch on neither arm is scored by a model: nothing to judge, and no step moves.
    if (rollout.surface.killSwitch) {
      done.push({ rolloutId: rollout.id, surface: rollout.surface.key, decision: "wait" as const, status: "running", percent: rollout.currentPercent });
      continue;
    }
    const analysis = rollout.analysis as unknown as RolloutAnalysis;
    const steps = rollout.steps as number[];
    const stats = await armStats(db, rollout.id, rollout.surface.key, new Date(analysis.stepStartedAt));
    const verdict = judgeCanary(stats.canary, stats.baseline, analysis.policy);
    const now = new Date().toISOString();
    const entry = { ...verdict, at: now, percent: rollout.currentPercent, ...stats };
    let status: "running" | "promoted" | "rolled_back" = "running";
    let percent = rollout.currentPercent;
    const next: RolloutAnalysis = { ...analysis, latest: entry };
    if (verdict.decision !== "wait") {
      next.history = [...analysis.history, entry];
      if (verdict.decision === "fail") {
        status = "rolled_back";
        percent = 0;
      } else {
        const following = steps.find((s) => s > rollout.currentPercent);
        if (following === undefined) status = "promoted";
        else {
          percent = following;
          next.stepStartedAt = now;
        }
      }
    }
    // Conditional on the row still being at this step: two replicas' ticks cannot both move it.
    const updated = await db.rollout.updateMany({
      where: { id: rollout.id, status: "running", currentPercent: rollout.currentPercent },
      data: { status, currentPercent: status === "promoted" ? 100 : percent, analysis: next as unknown as Prisma.InputJsonValue, ...(status !== "running" ? { endedAt: new Date() } : {}) },
    });
    if (updated.count === 0) continue;
    const what = { model: rollout.model.name, version: versions.get(rollout.toVersionId) ?? 0 };
    const subject = subjects.rollout(rollout.id, what.model, what.version, rollout.surface.key);
    if (status === "promoted") {
      const promoted = await promote(db, rollout, subject, what);
      if (promoted !== "promoted") {
        done.push({ rolloutId: rollout.id, surface: rollout.surface.key, decision: verdict.decision, status: promoted, percent: 0 });
        continue;
      }
    }
    if (verdict.decision !== "wait") {
      await recordPromotion(db, {
        kind: status === "running" ? "canary_step" : status === "promoted" ? "canary_promoted" : "canary_rolled_back", actor: ROLLOUT_ANALYSIS, reason: verdict.reasons.join("; "),
        surface: rollout.surface.key, model: { id: rollout.modelId, name: rollout.model.name }, rolloutId: rollout.id, percent: status === "running" ? percent : 0,
        to: { id: rollout.toVersionId, version: what.version },
      });
      await recordAudit(db, {
        action: status === "running" ? "rollout.advance" : `rollout.${status}`, actor: ROLLOUT_ANALYSIS, subject, surfaces: [rollout.surface.key],
        before: { percent: rollout.currentPercent }, after: { surface: rollout.surface.key, ...what, percent: status === "promoted" ? 100 : percent, status }, reason: verdict.reasons.join("; "),
      });
    }
    done.push({ rolloutId: rollout.id, surface: rollout.surface.key, decision: verdict.decision, status, percent: status === "promoted" ? 100 : percent });
  }
  return done;
}

/**
 * Moves the serving alias to the rollout's version, unless someone moved it during the rollout (an
 * on-call rollback wins over the canary: the rollout is aborted instead). If the move fails, the
 * rollout goes back to running at its last step, so the next tick tries again.
 */
async function promote(
  db: Db, rollout: { id: string; modelId: string; fromVersionId: string | null; toVersionId: string; currentPercent: number; surface: { key: string; modelAlias: string } },
  subject: ReturnType<typeof subjects.rollout>, what: { model: string; version: number },
): Promise<"promoted" | "aborted" | "running"> {
  const alias = await db.modelAlias.findUnique({ where: { modelId_name: { modelId: rollout.modelId, name: rollout.surface.modelAlias } }, select: { versionId: true } });
  if (rollout.fromVersionId && alias?.versionId !== rollout.fromVersionId) {
    await db.rollout.update({ where: { id: rollout.id }, data: { status: "aborted", currentPercent: 0 } });
    await recordAudit(db, {
      action: "rollout.aborted", actor: ROLLOUT_ANALYSIS, subject, surfaces: [rollout.surface.key], before: { percent: rollout.currentPercent },
      after: { surface: rollout.surface.key, ...what, percent: 0, status: "aborted" }, reason: `${rollout.surface.modelAlias} moved during the rollout: not promoting over it`,
    });
    await recordPromotion(db, {
      kind: "canary_aborted", actor: ROLLOUT_ANALYSIS, reason: `${rollout.surface.modelAlias} moved during the rollout: not promoting over it`, surface: rollout.surface.key,
      model: { id: rollout.modelId, name: what.model }, rolloutId: rollout.id, percent: 0, to: { id: rollout.toVersionId, version: what.version },
    });
    return "aborted";
  }
  try {
    await setAlias(db, { versionId: rollout.toVersionId, alias: rollout.surface.modelAlias, actor: ROLLOUT_ANALYSIS, reason: `canary rollout ${rollout.id} passed every step`, kind: "promotion" });
    return "promoted";
  } catch (error) {
    await db.rollout.update({ where: { id: rollout.id }, data: { status: "running", currentPercent: rollout.currentPercent, endedAt: null } });
    throw error;
  }
}

export async function abortRollout(db: Db, input: { surface: string; reason: string }, actor: Actor) {
  const surface = await db.surface.findUnique({ where: { key: input.surface }, select: { id: true, key: true } });
  if (!surface) throw new NotFoundError("surface", input.surface);
  const rollout = await db.rollout.findFirst({ where: { surfaceId: surface.id, status: "running" }, include: { model: { select: { name: true, versions: { select: { id: true, version: true } } } } } });
  if (!rollout) throw new InvalidInputError("surface", `no rollout is running on "${surface.key}"`);
  return db.$transaction(async (tx) => {
    // Conditional: if the analysis promoted or rolled it back in the meantime, say so instead.
    const changed = await tx.rollout.updateMany({ where: { id: rollout.id, status: "running" }, data: { status: "aborted", currentPercent: 0, endedAt: new Date() } });
    if (changed.count === 0) throw new ConflictError(`the rollout on "${surface.key}" ended while you were aborting it: reload to see how`);
    const aborted = await tx.rollout.findUniqueOrThrow({ where: { id: rollout.id } });
    const what = { model: rollout.model.name, version: rollout.model.versions.find((v) => v.id === rollout.toVersionId)?.version ?? 0 };
    await recordAudit(tx, {
      action: "rollout.aborted", actor, subject: subjects.rollout(rollout.id, what.model, what.version, surface.key), surfaces: [surface.key],
      before: { percent: rollout.currentPercent }, after: { surface: surface.key, ...what, percent: 0, status: "aborted" }, reason: input.reason,
    });
    await clearAliasIn(tx, { modelId: rollout.modelId, alias: "canary", actor, reason: `canary rollout on ${surface.key} aborted` });
    await recordPromotion(tx, {
      kind: "canary_aborted", actor, reason: input.reason, surface: surface.key, model: { id: rollout.modelId, name: what.model }, rolloutId: rollout.id, percent: 0,
      to: { id: rollout.toVersionId, version: what.version },
    });
    return aborted;
  });
}

/** Rollouts, newest first, with the live figures of the current step for running ones. */
export async function listRollouts(db: Db, input: { surface?: string; limit: number }) {
  const rollouts = await db.rollout.findMany({
    where: input.surface ? { surface: { key: input.surface } } : {},
    orderBy: { startedAt: "desc" },
    take: input.limit,
    include: { surface: { select: { key: true } }, model: { select: { name: true, versions: { select: { id: true, version: true } } } } },
  });
  return Promise.all(
    rollouts.map(async (r) => {
      const analysis = r.analysis as unknown as RolloutAnalysis;
      const versionOf = (id: string | null) => r.model.versions.find((v) => v.id === id)?.version ?? null;
      return {
        id: r.id, surface: r.surface.key, model: r.model.name, fromVersion: versionOf(r.fromVersionId), toVersion: versionOf(r.toVersionId), status: r.status,
        steps: r.steps as number[], percent: r.currentPercent, startedAt: r.startedAt, endedAt: r.endedAt, createdBy: r.createdBy,
        policy: analysis.policy, latest: analysis.latest, history: analysis.history,
        live: r.status === "running" ? await armStats(db, r.id, r.surface.key, new Date(analysis.stepStartedAt)) : null,
      };
    }),
  );
}
