import { ROLLOUT_ANALYSIS, type Actor } from "../audit/actor";
import { LEVER_TRANSACTION, type UnderLock } from "../db/leverTransaction";
import { assertActorActive, recordAudit } from "../audit/record";
import { env } from "../config";
import { connectClient } from "../db/pgClient";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";
import { subjects } from "../domain/audit/subject";
import { ACTIVE_ROLLOUT_STATUSES, canaryAliasOf, DEFAULT_STEPS, isActiveRollout, latencyKeepRate, rolloutLogKey, stepsField, validateSteps } from "../domain/rollouts/canary";
import { DEFAULT_JUDGE_POLICY, judgeStep, OUTCOME_LOOKBACK_HOURS, stepDeadline, type ArmSample, type JudgePolicy, type StepVerdict } from "../domain/rollouts/judge";
import { givenPolicyProblem, policyDifferences, policyWithinBounds, settablePolicy, type GivenPolicy } from "../domain/rollouts/policy";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors";
import { recordPromotion } from "../history/record";
import { enqueueInTransaction } from "../jobs/tasks";
import { clearAliasIn, setAliasIn } from "../registry/versions";
import { surfacesReachedBy } from "../registry/aliasReach";
import { versionWords } from "../registry/versionWords";
import { changedSince } from "../domain/changedSince";
import { RANKING_ROLES } from "../domain/rollouts/aliasReach";
import { notifyInTransaction } from "../webhooks/notify";
import { lockSurfaceRow } from "../surfaces/lock";

// Canary rollouts of a surface's serving alias. Start: the version gets the surface's canary alias
// (canaryAliasOf: `canary@<surface>`, one per surface, mirroring the rollout row) and the
// first share of traffic, and a judge job is queued. Each judge job (server/jobs, one waiting per
// rollout by its job key) first queues the next tick, then judges the current step from the
// request log: it waits, widens, promotes (the serving alias moves) or rolls back. A judged step is
// one row of rollout_steps (unique per step), written in the transaction that moves the rollout,
// so a step is judged exactly once however many processes run jobs. People can pause, resume,
// promote now, abort and retry. The surface's canary alias is cleared whenever its rollout ends;
// another surface's canary on the same model is never touched.

export interface RolloutAnalysis {
  policy: JudgePolicy;
  /** The judge's latest verdict on the current step while it waits for data (or the one that paused it at its deadline). */
  latest: (StepVerdict & { at: string; step: number; percent: number }) | null;
  /** When the current step's deadline passes (ISO): its opening, or its last resume, plus policy.stepDeadlineMinutes. */
  stepDeadlineAt?: string;
  /**
   * The surfaces an approved change request covered when it started the rollout (the change's own
   * and those its promotion reached then): its promotion needs no other approval there. Absent or
   * empty: started directly, so a surface that requires approval by the promotion needs one (a
   * `canary_promote` request).
   */
  approvedFor?: string[];
}

/** The current step's deadline; rollouts started before deadlines existed count from the step's opening. */
function deadlineOf(analysis: RolloutAnalysis, stepStartedAt: Date): Date {
  return analysis.stepDeadlineAt ? new Date(analysis.stepDeadlineAt) : stepDeadline(stepStartedAt, { ...DEFAULT_JUDGE_POLICY, ...analysis.policy });
}

export interface StartRolloutInput {
  surface: string;
  version: number;
  steps?: number[];
  minRequests?: number;
  minImpressions?: number;
  /** Tolerated rise of latency (Hodges–Lehmann shift over the baseline median; 0.1 = +10 %). */
  maxLatencyIncrease?: number;
  /** Older name of maxLatencyIncrease, still accepted from stored change requests. */
  maxP99Increase?: number;
  /** Tolerated absolute rise of the share of canary requests slower than the baseline's p99 (0.01 = one point). */
  maxTailShareIncrease?: number;
  /** Tolerated absolute rise of the fallback rate (0.01 = one point). */
  maxFallbackRateIncrease?: number;
  /** Tolerated relative fall of CTR (0.05 = −5 %). */
  maxCtrDecrease?: number;
  /** Minutes a step may wait for its minimum samples (see JudgePolicy.stepDeadlineMinutes). */
  stepDeadlineMinutes?: number;
  /**
   * The id of the serving version the dialog showed (null: the alias was unset): the baseline the canary is
   * judged against and promoted over. Compared with the serving alias under the model's lock; moved since:
   * ConflictError (409), nothing written or audited. Absent (scripts): not checked.
   */
  expectFromVersionId?: string | null;
  reason?: string;
}

const judgeJobKey = (rolloutId: string) => `rollout:${rolloutId}`;

/** Queues the next judge of a rollout, one tick from now; replaces a waiting one (one judge per tick). */
export function queueJudge(tx: Prisma.TransactionClient | Db, rolloutId: string, mode: "replace" | "preserve_run_at" = "replace") {
  return enqueueInTransaction(tx, "rollout.judge", { rolloutId }, { jobKey: judgeJobKey(rolloutId), jobKeyMode: mode, runAt: new Date(Date.now() + env().ROLLOUT_TICK_MS) });
}

/**
 * Runs `judge` while holding the rollout's judge lock, or returns null at once without running it
 * when another judge of the same rollout holds it: at most one judge per rollout runs, whichever
 * process's worker took the job, while other rollouts' judges run in parallel. The lock is a
 * session-level advisory lock on a connection of its own, outside the Prisma pool (a transaction held
 * open in the pool for the judge's whole run parked a pool connection per judge, and with a small
 * DATABASE_POOL_SIZE the judges' own queries waited for connections the locks held); it is released
 * when the judge ends, and with the connection if the process dies mid-run (the next tick judges at
 * once). Why not graphile-worker's serialisation: a job key whose job is running (locked) makes
 * add_job create a second job (job_key_mode, documented), and a named queue (queue_name) stays
 * locked by a killed worker until graphile-worker 0.17 resets it, 4 hours later
 * (dist/sql/resetLockedAt.js): failover.int.test.ts then never sees the survivor judge.
 */
export async function withJudgeLock<T>(rolloutId: string, judge: () => Promise<T>): Promise<T | null> {
  const client = await connectClient({ connectionString: env().DATABASE_URL! });
  try {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext('rollout.judge'), hashtext($1)) AS locked", [rolloutId]);
    if (!rows[0]?.locked) return null;
    return await judge();
  } finally {
    // Ending the session releases its advisory locks.
    await client.end().catch(() => {});
  }
}

/** Another surface's running or paused rollout on the same model and serving alias. */
interface SharingRollout {
  id: string;
  surface: string;
  status: string;
  version: number | null;
  percent: number;
  model: string;
  alias: string;
}

/**
 * The running or paused rollout of another surface that serves `model`'s `surface.modelAlias` too,
 * or null. Such a rollout judges its canary against that alias as its baseline: a promotion here
 * would move the baseline under it (and its own promotion would then abort, the alias having moved).
 */
async function rolloutSharingAlias(tx: Prisma.TransactionClient | Db, surface: { id: string; key: string; modelAlias: string }, model: { id: string; name: string }): Promise<SharingRollout | null> {
  const other = await tx.rollout.findFirst({
    where: { modelId: model.id, status: { in: [...ACTIVE_ROLLOUT_STATUSES] }, surfaceId: { not: surface.id }, surface: { modelId: model.id, modelAlias: surface.modelAlias } },
    orderBy: { startedAt: "asc" },
    select: { id: true, status: true, currentPercent: true, toVersionId: true, surface: { select: { key: true } } },
  });
  if (!other) return null;
  const version = await tx.modelVersion.findUnique({ where: { id: other.toVersionId }, select: { version: true } });
  return { id: other.id, surface: other.surface.key, status: other.status, version: version?.version ?? null, percent: other.currentPercent, model: model.name, alias: surface.modelAlias };
}

/**
 * Why a canary may not start on `surface` now, or null: a rollout runs (or is paused) on it already, or
 * on another surface serving the same alias of `model` (its baseline would move). What startRollout
 * refuses under the model's lock, and the Approvals list shows of a pending canary start.
 */
export async function canaryStartBlocked(tx: Prisma.TransactionClient | Db, surface: { id: string; key: string; modelAlias: string }, model: { id: string; name: string }): Promise<string | null> {
  if (await tx.rollout.findFirst({ where: { surfaceId: surface.id, status: { in: [...ACTIVE_ROLLOUT_STATUSES] } }, select: { id: true } })) return activeRolloutRefusal(surface.key);
  const sharing = await rolloutSharingAlias(tx, surface, model);
  return sharing ? sharedAliasRefusal("start", surface.key, sharing) : null;
}

/** Why a canary on `surface` may not start or promote while `other` runs on a surface sharing its alias. */
function sharedAliasRefusal(what: "start" | "promote", surface: string, other: SharingRollout): string {
  const act = what === "start" ? "start a canary" : "promote the canary";
  return `cannot ${act} on "${surface}": ${other.model} ${other.alias} also serves "${other.surface}", where rollout ${other.id} is ${other.status} `
    + `(v${other.version ?? "?"} at ${other.percent} %); promoting here would move the baseline that rollout is judged against. Let it end, or abort it, first`;
}

/** The policy fields a start gave, under the names it gave them (maxP99Increase too), for givenPolicyProblem. */
const givenPolicy = (input: StartRolloutInput): GivenPolicy => ({
  minRequests: input.minRequests, minImpressions: input.minImpressions, maxLatencyIncrease: input.maxLatencyIncrease, maxP99Increase: input.maxP99Increase,
  maxTailShareIncrease: input.maxTailShareIncrease, maxFallbackRateIncrease: input.maxFallbackRateIncrease, maxCtrDecrease: input.maxCtrDecrease, stepDeadlineMinutes: input.stepDeadlineMinutes,
});

/** The judge policy a start asks for: its fields over DEFAULT_JUDGE_POLICY. */
export function policyOf(input: StartRolloutInput): JudgePolicy {
  return {
    ...DEFAULT_JUDGE_POLICY,
    minRequests: input.minRequests ?? DEFAULT_JUDGE_POLICY.minRequests,
    minImpressions: input.minImpressions ?? DEFAULT_JUDGE_POLICY.minImpressions,
    maxLatencyIncrease: input.maxLatencyIncrease ?? input.maxP99Increase ?? DEFAULT_JUDGE_POLICY.maxLatencyIncrease,
    maxTailShareIncrease: input.maxTailShareIncrease ?? DEFAULT_JUDGE_POLICY.maxTailShareIncrease,
    maxFallbackRateIncrease: input.maxFallbackRateIncrease ?? DEFAULT_JUDGE_POLICY.maxFallbackRateIncrease,
    maxCtrDecrease: input.maxCtrDecrease ?? DEFAULT_JUDGE_POLICY.maxCtrDecrease,
    stepDeadlineMinutes: input.stepDeadlineMinutes ?? DEFAULT_JUDGE_POLICY.stepDeadlineMinutes,
  };
}

/**
 * The 409 of a start whose dialog showed another baseline (`expected`: the serving version's id it showed,
 * null: unset) than the one the serving alias points at now (`serving`), in setAlias's expectFrom words:
 * `canary start on "search" refused: search-ranker production changed since it was read (was v3, now v4); reload and check`.
 */
async function baselineChanged(db: Db | Prisma.TransactionClient, at: { surface: string; model: string; alias: string; expected: string | null; serving: string | null }): Promise<ConflictError> {
  const change = { shown: await versionWords(db, at.expected), now: await versionWords(db, at.serving) };
  return new ConflictError(changedSince({ what: `canary start on "${at.surface}" refused: ${at.model} ${at.alias}`, change, since: "read" }));
}

/**
 * The checks of a canary start that need no lock (steps, the judge policy's bounds, surface, model, version, not already serving,
 * the baseline the dialog showed: `expectFromVersionId`): rollouts.start makes them, and a change request for a start makes them when it is filed.
 * @returns `serving`: the id of the version the serving alias points at now (null: unset), read without a lock.
 * @throws InvalidInputError naming `steps[i]`, a policy field (`maxFallbackRateIncrease`…), `surface` or `version`; NotFoundError for the surface;
 *   ConflictError when the serving alias no longer points at `expectFromVersionId` (baselineChanged).
 */
/** The words of a canary start refused because another rollout is running or paused on the surface. */
export const activeRolloutRefusal = (surface: string) => `a rollout is already running on "${surface}": abort it first`;

export async function checkRolloutStart(db: Db, input: StartRolloutInput) {
  const steps = input.steps ?? DEFAULT_STEPS;
  const invalid = validateSteps(steps);
  if (invalid) throw new InvalidInputError(stepsField(invalid), invalid.message);
  // A tolerance that turns a metric off, or a minimum with no power, is refused (POLICY_BOUNDS says why each),
  // naming the field as the caller sent it (maxP99Increase, the older name, as maxP99Increase).
  const problem = givenPolicyProblem(givenPolicy(input));
  if (problem) throw new InvalidInputError(problem.field, problem.message);
  const surface = await db.surface.findUnique({ where: { key: input.surface }, include: { model: { include: { aliases: true, versions: { select: { id: true, version: true } } } } } });
  if (!surface) throw new NotFoundError("surface", input.surface);
  if (!surface.model) throw new InvalidInputError("surface", `"${surface.key}" has no model to roll out`);
  const model = surface.model;
  const target = model.versions.find((v) => v.version === input.version);
  if (!target) throw new InvalidInputError("version", `${model.name} has no v${input.version}`);
  const serving = model.aliases.find((a) => a.name === surface.modelAlias)?.versionId ?? null;
  // Before "already serves": a version shipped since the dialog opened is the change the person never saw.
  if (input.expectFromVersionId !== undefined && serving !== input.expectFromVersionId) {
    throw await baselineChanged(db, { surface: surface.key, model: model.name, alias: surface.modelAlias, expected: input.expectFromVersionId, serving });
  }
  if (serving === target.id) throw new InvalidInputError("version", `v${input.version} already serves "${surface.key}" (${surface.modelAlias})`);
  return { steps, surface, model, target, serving };
}

/**
 * Starts a canary of `input.version` on `input.surface`: the canary alias, the first step's share, a judge job, audit, history, webhook.
 * `input.expectFromVersionId`: the baseline the dialog showed, compared under the model's lock (see StartRolloutInput).
 * `options.policyAdjusted`: a retry's policy fields brought within today's bounds, in words (retryInputOf), for the audit entry;
 * `options.underLock`: run under the model's and the surface's locks before anything is written (a direct start's approval guard).
 * @throws as checkRolloutStart; ConflictError (409, nothing written) when the serving alias moved off `expectFromVersionId`,
 *   a rollout runs on the surface, or another surface's rollout is judged against the same alias.
 */
export async function startRollout(db: Db, input: StartRolloutInput, actor: Actor, options: { approvedFor?: string[]; policyAdjusted?: string[]; underLock?: UnderLock } = {}) {
  const { steps, surface, model, target } = await checkRolloutStart(db, input);
  const policy = policyOf(input);
  const analysis: RolloutAnalysis = { policy, latest: null, stepDeadlineAt: stepDeadline(new Date(), policy).toISOString(), approvedFor: options.approvedFor ?? [] };
  return db.$transaction(async (tx) => {
    // Starts on one model take turns (the lock the canary alias move takes next anyway, taken
    // first), so two starts at once, on one surface or on two sharing an alias, cannot both find none running.
    await tx.$queryRaw`SELECT id FROM models WHERE id = ${model.id} FOR UPDATE`;
    await lockSurfaceRow(tx, { id: surface.id });
    await options.underLock?.(tx);
    // The baseline, read under the model's lock (which every alias move takes): a move committed since the check above is seen here.
    const serving = (await tx.modelAlias.findUnique({ where: { modelId_name: { modelId: model.id, name: surface.modelAlias } }, select: { versionId: true } }))?.versionId ?? null;
    // The baseline the dialog showed ("moves from v3 to v5"): a move since (v4 shipped) is refused, not judged against and promoted over.
    if (input.expectFromVersionId !== undefined && serving !== input.expectFromVersionId) {
      throw await baselineChanged(tx, { surface: surface.key, model: model.name, alias: surface.modelAlias, expected: input.expectFromVersionId, serving });
    }
    if (serving === target.id) throw new InvalidInputError("version", `v${input.version} already serves "${surface.key}" (${surface.modelAlias})`);
    const blocked = await canaryStartBlocked(tx, { id: surface.id, key: surface.key, modelAlias: surface.modelAlias }, { id: model.id, name: model.name });
    if (blocked) throw new ConflictError(blocked);
    const created = await tx.rollout.create({
      data: {
        surfaceId: surface.id, modelId: model.id, fromVersionId: serving, toVersionId: target.id, status: "running", steps,
        currentPercent: steps[0]!, analysis: analysis as unknown as Prisma.InputJsonValue, createdBy: actor.name,
      },
    });
    // Filed under every surface its promotion would move (the serving alias's reach), this one first;
    // its `after` names the whole policy and, in words, every field that differs from the defaults.
    const reach = await surfacesReachedBy(tx, { modelId: model.id, modelName: model.name, alias: surface.modelAlias });
    await recordAudit(tx, {
      action: "rollout.start", actor, subject: subjects.rollout(created.id, model.name, input.version, surface.key), surfaces: [surface.key, ...reach.map((r) => r.key).filter((k) => k !== surface.key)],
      after: {
        surface: surface.key, model: model.name, version: input.version, steps, policy: settablePolicy(policy), nonDefault: policyDifferences(policy),
        ...(options.policyAdjusted?.length ? { policyAdjusted: options.policyAdjusted } : {}),
      },
      reason: input.reason ?? null,
    });
    await setAliasIn(tx, { versionId: target.id, alias: canaryAliasOf(surface.key), surface: surface.key, actor, reason: `canary rollout on ${surface.key}`, rolloutId: created.id });
    await recordPromotion(tx, {
      kind: "canary_start", actor, reason: input.reason, surface: surface.key, model, rolloutId: created.id, percent: steps[0]!,
      from: model.versions.find((v) => v.id === serving) ?? null, to: target,
    });
    await queueJudge(tx, created.id);
    await notifyInTransaction(tx, { kind: "canary.step", actor: actor.name, reason: input.reason ?? null, data: { rolloutId: created.id, surface: surface.key, model: model.name, version: input.version, fromPercent: 0, toPercent: steps[0]! } });
    return created;
  }, LEVER_TRANSACTION);
}

const LATENCY_SAMPLE = 5_000;


/**
 * What each arm of a rollout served since `since`, from the request log: request and fallback
 * counts, a uniform sample of at most 5,000 latencies, and the impressions and clicked impressions
 * of the outcome events on those requests: an impression is a (request, item) pair with at least one
 * impression event, a click counts once per impressed pair (repeated clicks, and clicks on items
 * never reported as shown, are not impressions clicked), so clicks ≤ impressions as CTR's interval needs. Requests served while the kill switch was on scored no model: they say
 * nothing of either arm and are left out.
 */
async function armSamples(db: Db, rolloutId: string, surface: string, since: Date): Promise<{ canary: ArmSample; baseline: ArmSample }> {
  const key = rolloutLogKey(rolloutId);
  // Counts as float8 (exact to 2^53, a JS number): ::int fails with 22003 past 2^31 − 1 rows (server/db/countCasts.test.ts).
  const counts = await db.$queryRaw<Array<{ arm: string; requests: number; fallbacks: number }>>`
      SELECT variant_key AS arm, count(*)::float8 AS requests, count(*) FILTER (WHERE fallback_used)::float8 AS fallbacks
      FROM rerank_requests WHERE surface = ${surface} AND experiment_key = ${key} AND ts >= ${since} AND fallback_reason IS DISTINCT FROM 'kill_switch'
      GROUP BY variant_key`;
  const keep = (arm: string) => latencyKeepRate(counts.find((c) => c.arm === arm)?.requests ?? 0, LATENCY_SAMPLE);
  const [latencies, outcomes] = await Promise.all([
    // A uniform sample of at most LATENCY_SAMPLE latencies per arm without sorting every row of the
    // step (which sorted 500k rows on disk, 2–3.5 s): each row is kept with probability keep(arm)
    // (a Bernoulli sample: a uniform random subset, of about 1.25 × LATENCY_SAMPLE rows), then at
    // most LATENCY_SAMPLE of those are taken at random (a uniform subset of a uniform subset is
    // uniform). Below LATENCY_SAMPLE requests every row is kept (latencyKeepRate). Measured on 500k rows
    // of one step: 1.8–3.5 s with a 19.6 MB on-disk sort before, 0.43–0.55 s with a 1.2 MB one after.
    db.$queryRaw<Array<{ arm: string; latencies: number[] }>>`
      SELECT arm, array_agg(latency) AS latencies FROM (
        SELECT variant_key AS arm, latency_ms AS latency, row_number() OVER (PARTITION BY variant_key ORDER BY random()) AS n
        FROM rerank_requests WHERE surface = ${surface} AND experiment_key = ${key} AND ts >= ${since} AND fallback_reason IS DISTINCT FROM 'kill_switch'
          AND random() < CASE variant_key WHEN 'canary' THEN ${keep("canary")}::float8 WHEN 'baseline' THEN ${keep("baseline")}::float8 ELSE 0 END
      ) sampled WHERE n <= ${LATENCY_SAMPLE} GROUP BY arm`,
    // Per unit of assignment (the key the split hashes: user, else session, else request), then per
    // arm as power sums: CTR's interval takes its variance from them (judge.ts ctrDifference).
    db.$queryRaw<Array<{ arm: string; units: number; impressions: number; clicks: number; impressions2: number; clicks2: number; cross: number }>>`
      SELECT arm, count(*)::float8 AS units, sum(x)::float8 AS impressions, sum(y)::float8 AS clicks,
        sum(x * x)::float8 AS impressions2, sum(y * y)::float8 AS clicks2, sum(x * y)::float8 AS cross
      FROM (
        SELECT r.variant_key AS arm, coalesce(r.user_key, r.session_key, r.request_id) AS unit,
          count(*) FILTER (WHERE e.impressed)::float8 AS x, count(*) FILTER (WHERE e.impressed AND e.clicked)::float8 AS y
        FROM rerank_requests r JOIN (
          SELECT request_id, request_ts, owner, bool_or(type = 'impression') AS impressed, bool_or(type = 'click') AS clicked
          FROM outcome_events WHERE surface = ${surface} AND request_ts >= ${since} AND type IN ('impression', 'click')
          GROUP BY request_id, request_ts, owner, item_id
        ) e ON e.request_id = r.request_id AND e.request_ts = r.ts AND e.owner = r.owner
        WHERE r.surface = ${surface} AND r.experiment_key = ${key} AND r.ts >= ${since} AND r.fallback_reason IS DISTINCT FROM 'kill_switch'
        GROUP BY 1, 2
      ) per_unit WHERE x > 0
      GROUP BY arm`,
  ]);
  const arm = (name: string): ArmSample => {
    const c = counts.find((x) => x.arm === name);
    const o = outcomes.find((x) => x.arm === name);
    const ctrUnits = o ? { n: o.units, sumX: o.impressions, sumY: o.clicks, sumX2: o.impressions2, sumY2: o.clicks2, sumXY: o.cross } : undefined;
    return { requests: c?.requests ?? 0, fallbacks: c?.fallbacks ?? 0, latencies: latencies.find((x) => x.arm === name)?.latencies ?? [], impressions: o?.impressions ?? 0, clicks: o?.clicks ?? 0, ctrUnits };
  };
  return { canary: arm("canary"), baseline: arm("baseline") };
}

/** How far back before a rollout's start impressions on its surface say that it sends outcome events. */
const OUTCOME_LOOKBACK_MS = OUTCOME_LOOKBACK_HOURS * 3_600_000;

/**
 * Whether `surface` sends outcome events: an impression on it since a day before the rollout started
 * (before it, or in any of its steps so far). Such a surface's steps wait for CTR's impressions (which
 * batching SDKs send a minute or more after the request) instead of being judged without them.
 */
async function sendsOutcomes(db: Db, surface: string, startedAt: Date): Promise<boolean> {
  const since = new Date(startedAt.getTime() - OUTCOME_LOOKBACK_MS);
  const [row] = await db.$queryRaw<Array<{ sends: boolean }>>`
    SELECT EXISTS (SELECT 1 FROM outcome_events WHERE surface = ${surface} AND request_ts >= ${since} AND type = 'impression') AS sends`;
  return row?.sends ?? false;
}

const rolloutInclude = { surface: { select: { key: true, modelAlias: true, killSwitch: true } }, model: { select: { name: true, versions: { select: { id: true, version: true } } } } } as const;
type LoadedRollout = Prisma.RolloutGetPayload<{ include: typeof rolloutInclude }>;

/** The canary's model and version number, as audit entries and history name them (0 when the version is gone). */
const canaryOf = (rollout: LoadedRollout) => ({ model: rollout.model.name, version: rollout.model.versions.find((v) => v.id === rollout.toVersionId)?.version ?? 0 });

export interface JudgeOutcome {
  rolloutId: string;
  surface: string;
  /** "skipped": nothing to judge (paused, ended, kill switch on); "judging": another judge was at it (analyseRollouts). */
  decision: StepVerdict["decision"] | "skipped" | "judging";
  status: string;
  percent: number;
}

/**
 * Judges the current step of one running rollout (what a judge job does). Waits: the verdict is kept
 * as the rollout's latest. Advances, promotes or fails: applied exactly once (applyStep).
 */
export async function judgeRollout(db: Db, rolloutId: string): Promise<JudgeOutcome> {
  const rollout = await db.rollout.findUnique({ where: { id: rolloutId }, include: rolloutInclude });
  if (!rollout) throw new NotFoundError("rollout", rolloutId);
  const outcome = (decision: JudgeOutcome["decision"], status = rollout.status as string, percent = rollout.currentPercent): JudgeOutcome => ({ rolloutId, surface: rollout.surface.key, decision, status, percent });
  // Paused, ended, or the kill switch on (neither arm is scored by a model): nothing to judge.
  if (rollout.status !== "running" || rollout.surface.killSwitch) return outcome("skipped");
  const analysis = rollout.analysis as unknown as RolloutAnalysis;
  const samples = await armSamples(db, rollout.id, rollout.surface.key, rollout.stepStartedAt);
  const pastDeadline = Date.now() >= deadlineOf(analysis, rollout.stepStartedAt).getTime();
  const outcomesExpected = await sendsOutcomes(db, rollout.surface.key, rollout.startedAt);
  const verdict = judgeStep(samples.canary, samples.baseline, { ...DEFAULT_JUDGE_POLICY, ...analysis.policy }, { pastDeadline, outcomesExpected });
  if (verdict.decision === "wait" || verdict.decision === "pause") {
    const latest = { ...verdict, at: new Date().toISOString(), step: rollout.step, percent: rollout.currentPercent };
    const kept = { ...analysis, latest } as unknown as Prisma.InputJsonValue;
    if (verdict.decision === "wait") {
      await db.rollout.updateMany({ where: { id: rollout.id, status: "running", step: rollout.step }, data: { analysis: kept } });
      return outcome("wait");
    }
    // Past the deadline without a required metric's sample: on-call decides (resume, promote now, abort).
    try {
      await transition(db, rollout, ["running"], { status: "paused", action: "rollout.paused", kind: "canary_paused" }, ROLLOUT_ANALYSIS, verdict.reasons[0]!, kept);
    } catch (error) {
      if (error instanceof ConflictError) return outcome("skipped");
      throw error;
    }
    return outcome("pause", "paused");
  }
  const applied = await applyStep(db, rollout, verdict, samples, ROLLOUT_ANALYSIS);
  if (applied?.blocked) {
    // Its last step passed, but another surface's rollout is judged against the alias it would move.
    const latest = { ...verdict, decision: "pause" as const, reasons: [applied.blocked, ...verdict.reasons], at: new Date().toISOString(), step: rollout.step, percent: rollout.currentPercent };
    try {
      await transition(db, rollout, ["running"], { status: "paused", action: "rollout.paused", kind: "canary_paused" }, ROLLOUT_ANALYSIS, applied.blocked, { ...analysis, latest } as unknown as Prisma.InputJsonValue);
    } catch (error) {
      if (error instanceof ConflictError) return outcome("skipped");
      throw error;
    }
    return outcome("pause", "paused");
  }
  return applied ? outcome(verdict.decision, applied.status, applied.percent) : outcome("skipped");
}

/** What applyStep did: the rollout's status and share after it; `blocked`: why it did not promote (nothing was written). */
interface StepApplied {
  status: string;
  percent: number;
  blocked?: string;
}

/**
 * Applies a judged step in one transaction: the step's row (unique per rollout and step: a second
 * judge of the same step fails here and changes nothing), the rollout's move, the alias moves,
 * audit and history. Returns null when the rollout is no longer at that step, and `blocked` (the
 * reason; nothing written) when it would promote while another surface on the same serving alias
 * has a running or paused rollout, or when it reaches a surface that requires approval its start was
 * not approved for (promotionNeedingApproval); a manual promotion gets a ConflictError (409) for
 * those instead. `mode.approved`: an approved `canary_promote` request applies it.
 */
async function applyStep(
  db: Db, rollout: LoadedRollout, verdict: StepVerdict, samples: { canary: ArmSample; baseline: ArmSample }, actor: Actor, mode: { manual?: boolean; approved?: boolean } = {},
): Promise<StepApplied | null> {
  const manual = mode.manual ?? false;
  const steps = rollout.steps as number[];
  const following = steps[rollout.step + 1];
  const what = canaryOf(rollout);
  const subject = subjects.rollout(rollout.id, what.model, what.version, rollout.surface.key);
  const model = { id: rollout.modelId, name: rollout.model.name };
  const to = { id: rollout.toVersionId, version: what.version };
  const reason = verdict.reasons.join("; ");
  try {
    return await db.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<Array<{ status: string; step: number }>>`SELECT status::text, step FROM rollouts WHERE id = ${rollout.id} FOR UPDATE`;
      if (!row || row.step !== rollout.step || !(row.status === "running" || (manual && row.status === "paused"))) return null;
      const promote = manual || (verdict.decision === "advance" && following === undefined);
      if (promote) {
        // Checked under the model's lock (which starts take first): no start on a sharing surface slips in between.
        await tx.$queryRaw`SELECT id FROM models WHERE id = ${rollout.modelId} FOR UPDATE`;
        const sharing = await rolloutSharingAlias(tx, { id: rollout.surfaceId, key: rollout.surface.key, modelAlias: rollout.surface.modelAlias }, model);
        if (sharing && manual) throw new ConflictError(sharedAliasRefusal("promote", rollout.surface.key, sharing));
        // The judge does not promote over it either: the rollout pauses with the reason, on-call decides.
        if (sharing) return { status: rollout.status as string, percent: rollout.currentPercent, blocked: sharedAliasRefusal("promote", rollout.surface.key, sharing) };
        // A surface the promotion reaches may require approval that the start did not have (it shares
        // the alias, or became guarded, since): by hand, 409; the judge pauses with the reason.
        const unapproved = mode.approved ? null : await promotionNeedingApproval(tx, rollout);
        if (unapproved && manual) throw new ConflictError(unapproved);
        if (unapproved) return { status: rollout.status as string, percent: rollout.currentPercent, blocked: unapproved };
      }
      const decision = manual ? "manual_promote" : verdict.decision === "fail" ? "fail" : promote ? "promote" : "advance";
      await tx.rolloutStep.create({
        data: {
          rolloutId: rollout.id, step: rollout.step, percent: rollout.currentPercent, decision, metrics: verdict.metrics as unknown as Prisma.InputJsonValue, reasons: verdict.reasons,
          canaryRequests: samples.canary.requests, baselineRequests: samples.baseline.requests, startedAt: rollout.stepStartedAt, judgedBy: actor.name,
        },
      });
      if (verdict.decision === "fail" && !manual) {
        await tx.rollout.update({ where: { id: rollout.id }, data: { status: "rolled_back", currentPercent: 0, endedAt: new Date() } });
        await clearAliasIn(tx, { modelId: rollout.modelId, alias: canaryAliasOf(rollout.surface.key), surface: rollout.surface.key, actor, reason: `canary rollout on ${rollout.surface.key} rolled back` });
        await recordAudit(tx, { action: "rollout.rolled_back", actor, subject, surfaces: [rollout.surface.key], before: { percent: rollout.currentPercent }, after: { surface: rollout.surface.key, ...what, percent: 0, status: "rolled_back" }, reason });
        await recordPromotion(tx, { kind: "canary_rolled_back", actor, reason, surface: rollout.surface.key, model, rolloutId: rollout.id, percent: 0, to });
        await notifyInTransaction(tx, { kind: "canary.rolled_back", actor: actor.name, reason, data: { rolloutId: rollout.id, surface: rollout.surface.key, ...what, percent: rollout.currentPercent, mode: "automatic" } });
        return { status: "rolled_back", percent: 0 };
      }
      if (promote) {
        // An on-call move of the serving alias during the rollout wins over the canary: abort instead.
        const alias = await tx.modelAlias.findUnique({ where: { modelId_name: { modelId: rollout.modelId, name: rollout.surface.modelAlias } }, select: { versionId: true } });
        if (rollout.fromVersionId && alias?.versionId !== rollout.fromVersionId) {
          const why = `${rollout.surface.modelAlias} moved during the rollout: not promoting over it`;
          await tx.rollout.update({ where: { id: rollout.id }, data: { status: "aborted", currentPercent: 0, endedAt: new Date() } });
          await clearAliasIn(tx, { modelId: rollout.modelId, alias: canaryAliasOf(rollout.surface.key), surface: rollout.surface.key, actor, reason: why });
          await recordAudit(tx, { action: "rollout.aborted", actor, subject, surfaces: [rollout.surface.key], before: { percent: rollout.currentPercent }, after: { surface: rollout.surface.key, ...what, percent: 0, status: "aborted" }, reason: why });
          await recordPromotion(tx, { kind: "canary_aborted", actor, reason: why, surface: rollout.surface.key, model, rolloutId: rollout.id, percent: 0, to });
          return { status: "aborted", percent: 0 };
        }
        const moved = await setAliasIn(tx, { versionId: rollout.toVersionId, alias: rollout.surface.modelAlias, actor, reason: manual ? reason : `canary rollout ${rollout.id} passed every step`, kind: "promotion", rolloutId: rollout.id });
        await tx.rollout.update({ where: { id: rollout.id }, data: { status: "promoted", currentPercent: 100, endedAt: new Date() } });
        await clearAliasIn(tx, { modelId: rollout.modelId, alias: canaryAliasOf(rollout.surface.key), surface: rollout.surface.key, actor, reason: `canary rollout on ${rollout.surface.key} promoted` });
        await recordAudit(tx, { action: "rollout.promoted", actor, subject, surfaces: [rollout.surface.key, ...moved.surfaces.filter((k) => k !== rollout.surface.key)], before: { percent: rollout.currentPercent }, after: { surface: rollout.surface.key, ...what, percent: 100, status: "promoted" }, reason });
        // The promotion moved the serving alias: every surface that move reached is named, as setAlias names them.
        await recordPromotion(tx, { kind: "canary_promoted", actor, reason, surface: rollout.surface.key, surfaces: moved.surfaces, stage2Surfaces: moved.stage2Surfaces, model, rolloutId: rollout.id, percent: 0, to });
        await notifyInTransaction(tx, { kind: "canary.promoted", actor: actor.name, reason, data: { rolloutId: rollout.id, surface: rollout.surface.key, ...what, alias: rollout.surface.modelAlias, surfaces: moved.surfaces } });
        return { status: "promoted", percent: 100 };
      }
      const opened = new Date();
      const policy = { ...DEFAULT_JUDGE_POLICY, ...(rollout.analysis as unknown as RolloutAnalysis).policy };
      await tx.rollout.update({
        where: { id: rollout.id },
        data: { step: rollout.step + 1, currentPercent: following!, stepStartedAt: opened, analysis: { ...(rollout.analysis as object), latest: null, stepDeadlineAt: stepDeadline(opened, policy).toISOString() } },
      });
      await recordAudit(tx, { action: "rollout.advance", actor, subject, surfaces: [rollout.surface.key], before: { percent: rollout.currentPercent }, after: { surface: rollout.surface.key, ...what, percent: following!, status: "running" }, reason });
      await recordPromotion(tx, { kind: "canary_step", actor, reason, surface: rollout.surface.key, model, rolloutId: rollout.id, percent: following!, to });
      await notifyInTransaction(tx, { kind: "canary.step", actor: actor.name, reason, data: { rolloutId: rollout.id, surface: rollout.surface.key, ...what, fromPercent: rollout.currentPercent, toPercent: following! } });
      return { status: "running", percent: following! };
    }, LEVER_TRANSACTION);
  } catch (error) {
    // Another process judged this step first: its verdict stands.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") return null;
    throw error;
  }
}

/** Judges every running rollout now (the "Analyse now" lever, and tests); jobs do the same one rollout at a time. */
export async function analyseRollouts(db: Db, actor: Actor): Promise<JudgeOutcome[]> {
  const running = await db.rollout.findMany({ where: { status: "running" }, orderBy: { startedAt: "asc" }, include: rolloutInclude });
  const out: JudgeOutcome[] = [];
  for (const r of running) {
    // Its person or key still acting (its entry comes after the judge's changes, which a press by someone
    // disabled meanwhile must not start; re-break): checked before each rollout's judge.
    await assertActorActive(db, actor);
    // One judge per rollout at a time (the job's lock): one already at it answers for this press ("judging").
    const outcome = (await withJudgeLock(r.id, () => judgeRollout(db, r.id))) ?? { rolloutId: r.id, surface: r.surface.key, decision: "judging" as const, status: "running", percent: r.currentPercent };
    const what = canaryOf(r);
    // Who pressed "Analyse now" and what the judge decided; a change it made has its own entries (actor: the analysis).
    await recordAudit(db, {
      action: "rollout.analysed", actor, subject: subjects.rollout(r.id, what.model, what.version, r.surface.key), surfaces: [r.surface.key],
      before: { percent: r.currentPercent }, after: { surface: r.surface.key, ...what, percent: outcome.percent, status: outcome.status, decision: outcome.decision },
    });
    out.push(outcome);
  }
  return out;
}

/** Queues a judge for every running rollout that has none waiting (after a crash mid-run, say); the crontab runs it every minute. */
export async function sweepRollouts(db: Db): Promise<number> {
  const running = await db.rollout.findMany({ where: { status: "running" }, select: { id: true } });
  for (const r of running) await queueJudge(db, r.id, "preserve_run_at");
  return running.length;
}

async function activeRollout(db: Db, surfaceKey: string) {
  const surface = await db.surface.findUnique({ where: { key: surfaceKey }, select: { id: true, key: true } });
  if (!surface) throw new NotFoundError("surface", surfaceKey);
  const rollout = await db.rollout.findFirst({ where: { surfaceId: surface.id, status: { in: [...ACTIVE_ROLLOUT_STATUSES] } }, include: rolloutInclude });
  if (!rollout) throw new InvalidInputError("surface", `no rollout is running on "${surface.key}"`);
  return rollout;
}

/** What a lever names: the surface, and the rollout the page showed (optional for scripts, which act on the surface's active rollout). */
export interface LeverInput {
  surface: string;
  reason: string;
  rolloutId?: string;
}

/** How a rollout ended, from its history row (who, when, why); null when no row says so. */
async function endingOf(db: Db | Prisma.TransactionClient, rolloutId: string) {
  return db.promotionHistory.findFirst({
    where: { rolloutId, kind: { in: ["canary_promoted", "canary_rolled_back", "canary_aborted"] } },
    orderBy: { id: "desc" }, select: { kind: true, actor: true, ts: true, reason: true },
  });
}

const ENDED_AS: Record<string, string> = { canary_promoted: "promoted", canary_rolled_back: "rolled back", canary_aborted: "aborted" };

/**
 * The 409 for a lever pressed on a rollout that has ended since the page showed it: which canary it
 * was, how it ended and by whom, and the rollout running on the surface now (if any), so nobody acts
 * on a rollout they never saw (a promote meant for v5 must not promote the v4 started since).
 */
async function endedRefusal(db: Db | Prisma.TransactionClient, rollout: LoadedRollout): Promise<ConflictError> {
  const versionOf = (id: string) => rollout.model.versions.find((v) => v.id === id)?.version ?? "?";
  const [ending, running, row] = await Promise.all([
    endingOf(db, rollout.id),
    runningNowOf(db, rollout),
    db.rollout.findUnique({ where: { id: rollout.id }, select: { status: true, endedAt: true } }),
  ]);
  const status = row?.status ?? rollout.status;
  const how = ending
    ? `${ENDED_AS[ending.kind] ?? status} by ${ending.actor} at ${ending.ts.toISOString()}${ending.reason ? ` ("${ending.reason}")` : ""}`
    : `${status}${row?.endedAt ? ` at ${row.endedAt.toISOString()}` : ""}`;
  return new ConflictError(
    `rolloutId: the canary you acted on (${rollout.id}: ${rollout.model.name} v${versionOf(rollout.toVersionId)} on "${rollout.surface.key}", started ${rollout.startedAt.toISOString()} by ${rollout.createdBy}) ended: ${how}; ${running ?? `no rollout is running on "${rollout.surface.key}" now`}; reload and check before acting`,
  );
}

/** The rollout running (or paused) on `rollout`'s surface now, in words, or null when none is. */
async function runningNowOf(db: Db | Prisma.TransactionClient, rollout: LoadedRollout): Promise<string | null> {
  const now = await db.rollout.findFirst({ where: { surfaceId: rollout.surfaceId, status: { in: [...ACTIVE_ROLLOUT_STATUSES] } }, select: { id: true, status: true, toVersionId: true, currentPercent: true, startedAt: true, createdBy: true } });
  if (!now) return null;
  const version = rollout.model.versions.find((v) => v.id === now.toVersionId)?.version ?? "?";
  return `the rollout running now is ${now.id} (v${version} at ${now.currentPercent} %, ${now.status}, started ${now.startedAt.toISOString()} by ${now.createdBy})`;
}

/**
 * The rollout a lever acts on. With `rolloutId` (the one the page showed; the console always sends
 * it): that rollout, which must belong to `surface`; ended since, a ConflictError (409) naming how
 * it ended and the rollout running now (endedRefusal), except `allowAborted` (an abort of a rollout
 * already aborted: returned, for an idempotent answer). Without: the surface's running or paused one.
 */
async function leverRollout(db: Db, input: LeverInput, options: { allowAborted?: boolean } = {}): Promise<LoadedRollout> {
  if (input.rolloutId === undefined) return activeRollout(db, input.surface);
  const rollout = await db.rollout.findUnique({ where: { id: input.rolloutId }, include: rolloutInclude });
  if (!rollout) throw new NotFoundError("rollout", input.rolloutId);
  if (rollout.surface.key !== input.surface) throw new InvalidInputError("rolloutId", `rollout ${rollout.id} is on "${rollout.surface.key}", not "${input.surface}": reload and act on the rollout the surface shows`);
  if (isActiveRollout(rollout.status) || (options.allowAborted && rollout.status === "aborted")) return rollout;
  throw await endedRefusal(db, rollout);
}

/** Changes a rollout's status from one of `from`, conditionally (a concurrent judge wins and is reported), with its audit and history. */
async function transition(
  db: Db, rollout: LoadedRollout, from: string[], change: { status: "paused" | "running" | "aborted"; action: "rollout.paused" | "rollout.resumed" | "rollout.aborted"; kind: "canary_paused" | "canary_resumed" | "canary_aborted" },
  actor: Actor, reason: string, analysis?: Prisma.InputJsonValue,
) {
  const what = canaryOf(rollout);
  const ends = change.status === "aborted";
  // Resuming gives the step a fresh deadline: the wait on-call chose starts now.
  const resumed = change.status === "running" ? { ...(rollout.analysis as object), latest: null, stepDeadlineAt: stepDeadline(new Date(), { ...DEFAULT_JUDGE_POLICY, ...(rollout.analysis as unknown as RolloutAnalysis).policy }).toISOString() } : undefined;
  const nextAnalysis = analysis ?? resumed;
  return db.$transaction(async (tx) => {
    // Under the rollout's lock, as it is now: a person's lever acts on whatever step the judge has just
    // reached (an abort as the share went up still ends it); the judge's own pause (with its analysis)
    // only on the step it judged.
    const [now] = await tx.$queryRaw<Array<{ status: string; step: number; percent: number }>>`
      SELECT status::text AS status, step, current_percent AS percent FROM rollouts WHERE id = ${rollout.id} FOR UPDATE`;
    // Two aborts of one rollout at once: the second finds it aborted, which is what it asked for.
    if (now?.status === "aborted" && change.status === "aborted" && analysis === undefined) return alreadyAborted(tx, rollout);
    // A person's lever on a rollout that ended meanwhile: say how, and what runs now.
    if (now && !isActiveRollout(now.status) && analysis === undefined) throw await endedRefusal(tx, rollout);
    if (!now || !from.includes(now.status) || (analysis !== undefined && now.step !== rollout.step)) {
      throw new ConflictError(`the rollout on "${rollout.surface.key}" changed while you acted on it: reload to see how`);
    }
    await tx.rollout.update({
      where: { id: rollout.id },
      data: { status: change.status, ...(ends ? { currentPercent: 0, endedAt: new Date() } : {}), ...(nextAnalysis ? { analysis: nextAnalysis } : {}) },
    });
    const percent = ends ? 0 : now.percent;
    if (ends) await clearAliasIn(tx, { modelId: rollout.modelId, alias: canaryAliasOf(rollout.surface.key), surface: rollout.surface.key, actor, reason: `canary rollout on ${rollout.surface.key} aborted` });
    await recordAudit(tx, {
      action: change.action, actor, subject: subjects.rollout(rollout.id, what.model, what.version, rollout.surface.key), surfaces: [rollout.surface.key],
      before: { percent: now.percent }, after: { surface: rollout.surface.key, ...what, percent, status: change.status }, reason,
    });
    await recordPromotion(tx, { kind: change.kind, actor, reason, surface: rollout.surface.key, model: { id: rollout.modelId, name: what.model }, rolloutId: rollout.id, percent, to: { id: rollout.toVersionId, version: what.version } });
    if (change.status === "running") await queueJudge(tx, rollout.id);
    const canary = { rolloutId: rollout.id, surface: rollout.surface.key, ...what, percent: now.percent };
    if (ends) await notifyInTransaction(tx, { kind: "canary.rolled_back", actor: actor.name, reason, data: { ...canary, mode: "manual" } });
    if (change.status === "paused") await notifyInTransaction(tx, { kind: "canary.paused", actor: actor.name, reason, data: { ...canary, mode: actor.kind === "system" ? "automatic" : "manual" } });
    if (change.status === "running") await notifyInTransaction(tx, { kind: "canary.resumed", actor: actor.name, reason, data: canary });
    return { ...(await tx.rollout.findUniqueOrThrow({ where: { id: rollout.id } })), alreadyAborted: null as AlreadyAborted | null };
  }, LEVER_TRANSACTION);
}

/** Who aborted a rollout already aborted when another abort of it arrived: its answer says so instead of a 409. */
export interface AlreadyAborted {
  by: string;
  at: Date;
  reason: string | null;
  /** Another rollout running on the surface now, in words (a stale page's abort must not read as "the canary is gone"), or null. */
  runningNow: string | null;
}

async function alreadyAborted(tx: Prisma.TransactionClient, rollout: LoadedRollout) {
  const [ending, row, runningNow] = await Promise.all([endingOf(tx, rollout.id), tx.rollout.findUniqueOrThrow({ where: { id: rollout.id } }), runningNowOf(tx, rollout)]);
  const already: AlreadyAborted = { by: ending?.actor ?? "unknown", at: ending?.ts ?? row.endedAt ?? new Date(), reason: ending?.reason ?? null, runningNow };
  return { ...row, alreadyAborted: already };
}

/** Stops judging a running rollout; the canary keeps its share of traffic until resumed, promoted or aborted. */
export async function pauseRollout(db: Db, input: LeverInput, actor: Actor) {
  const rollout = await leverRollout(db, input);
  if (rollout.status !== "running") throw new InvalidInputError("surface", `the rollout on "${rollout.surface.key}" is ${rollout.status}, not running`);
  return transition(db, rollout, ["running"], { status: "paused", action: "rollout.paused", kind: "canary_paused" }, actor, input.reason);
}

export async function resumeRollout(db: Db, input: LeverInput, actor: Actor) {
  const rollout = await leverRollout(db, input);
  if (rollout.status !== "paused") throw new InvalidInputError("surface", `the rollout on "${rollout.surface.key}" is ${rollout.status}, not paused`);
  return transition(db, rollout, ["paused"], { status: "running", action: "rollout.resumed", kind: "canary_resumed" }, actor, input.reason);
}

/**
 * Ends a running or paused rollout at once: all traffic back on the serving version, the canary alias cleared.
 * Idempotent on a rollout already aborted (the same `rolloutId`, or two presses at once): success,
 * with `alreadyAborted` saying by whom, when and why; nothing is written again.
 */
export async function abortRollout(db: Db, input: LeverInput, actor: Actor) {
  const rollout = await leverRollout(db, input, { allowAborted: true });
  if (rollout.status === "aborted") return db.$transaction((tx) => alreadyAborted(tx, rollout), LEVER_TRANSACTION);
  return transition(db, rollout, [...ACTIVE_ROLLOUT_STATUSES], { status: "aborted", action: "rollout.aborted", kind: "canary_aborted" }, actor, input.reason);
}

/**
 * Why promoting `rollout` needs an approval it does not have, or null: a surface the promotion's
 * alias move reaches in a role that ranks its traffic requires approval and was not covered by the
 * approved request that started the rollout (RolloutAnalysis.approvedFor).
 */
async function promotionNeedingApproval(tx: Prisma.TransactionClient, rollout: LoadedRollout): Promise<string | null> {
  const approvedFor = (rollout.analysis as unknown as Partial<RolloutAnalysis>).approvedFor ?? [];
  const reached = await surfacesReachedBy(tx, { modelId: rollout.modelId, modelName: rollout.model.name, alias: rollout.surface.modelAlias });
  const guarded = reached.find((s) => s.requireApproval && !approvedFor.includes(s.key) && s.roles.some((r) => RANKING_ROLES.includes(r)));
  if (!guarded) return null;
  const how = guarded.key === rollout.surface.key ? "" : ` (${rollout.model.name} ${rollout.surface.modelAlias} serves it too)`;
  return `surface "${guarded.key}" requires approval for this promotion${how}, and the canary's start was not approved for it: `
    + `request a canary promotion (a canary_promote change request), and another person with the permission approves it`;
}

/**
 * Promotes the canary now, skipping the remaining steps: the current step is recorded with the figures so far, as a manual promotion.
 * `input.rolloutId`: the rollout the page showed or an approved request named (ConflictError naming how it ended and what runs now, if it ended); `options.approved`: applied from an approved request.
 */
export async function promoteRolloutNow(db: Db, input: LeverInput, actor: Actor, options: { approved?: boolean } = {}) {
  const rollout = await leverRollout(db, input);
  const analysis = rollout.analysis as unknown as RolloutAnalysis;
  const samples = await armSamples(db, rollout.id, rollout.surface.key, rollout.stepStartedAt);
  const judged = judgeStep(samples.canary, samples.baseline, { ...DEFAULT_JUDGE_POLICY, ...analysis.policy });
  const applied = await applyStep(db, rollout, { ...judged, reasons: [`promoted by hand: ${input.reason}`] }, samples, actor, { manual: true, approved: options.approved });
  if (!applied) {
    // Ended while its figures were read (aborted, rolled back): say how, and what runs now.
    const ended = await db.rollout.findUnique({ where: { id: rollout.id }, select: { status: true } });
    if (ended && !isActiveRollout(ended.status)) throw await endedRefusal(db, rollout);
    throw new ConflictError(`the rollout on "${rollout.surface.key}" moved on while you promoted it: reload to see how`);
  }
  if (applied.status !== "promoted") throw new ConflictError(`not promoted: ${rollout.surface.modelAlias} moved during the rollout, so it was aborted`);
  return { surface: rollout.surface.key, model: rollout.model.name, status: applied.status };
}

/**
 * The start of a new rollout with the same version, steps and policy as an ended one. A policy field
 * outside today's bounds (the rollout started under looser rules, say minRequests 10) is brought to
 * the nearest bound, the stricter side, instead of refusing the retry with a 400 on a field its caller
 * never typed: `policyAdjusted` names each such change in words (the retry's answer and its
 * rollout.start audit entry repeat it; the retry dialog shows it beforehand, from listRollouts).
 */
export async function retryInputOf(db: Db, rolloutId: string): Promise<{ start: StartRolloutInput; policyAdjusted: string[] }> {
  const rollout = await db.rollout.findUnique({ where: { id: rolloutId }, include: rolloutInclude });
  if (!rollout) throw new NotFoundError("rollout", rolloutId);
  if (isActiveRollout(rollout.status)) throw new InvalidInputError("rolloutId", `the rollout on "${rollout.surface.key}" is still ${rollout.status}`);
  const { policy, adjusted } = policyWithinBounds((rollout.analysis as unknown as Partial<RolloutAnalysis>).policy ?? {});
  return {
    start: { surface: rollout.surface.key, version: rollout.model.versions.find((v) => v.id === rollout.toVersionId)!.version, steps: rollout.steps as number[], ...settablePolicy(policy) },
    policyAdjusted: adjusted,
  };
}

const listedInclude = { ...rolloutInclude, judgedSteps: { orderBy: { step: "asc" } } } as const;

/**
 * Rollouts, newest first (`limit` of them, of one `surface` or of all), with every judged step's
 * verdicts, and the live figures of the current step for active ones. A page of history: a page that
 * must show each surface's canary reads currentRollouts, which no number of other rollouts crowds out.
 */
export async function listRollouts(db: Db, input: { surface?: string; limit: number }) {
  const rollouts = await db.rollout.findMany({
    where: input.surface ? { surface: { key: input.surface } } : {},
    orderBy: { startedAt: "desc" },
    take: input.limit,
    include: listedInclude,
  });
  return describeRollouts(db, rollouts);
}

/**
 * Ids of every active rollout (running, paused) and of each surface's newest rollout, whatever the
 * number of rollouts: at most one per surface plus active ones that are not their surface's newest.
 * The newest per surface is DISTINCT ON (surface_id) over the (surface_id, started_at) index.
 */
export async function currentRolloutIds(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    -- ACTIVE_ROLLOUT_STATUSES, written out: the enum column compares with the literals without a cast.
    SELECT id FROM rollouts WHERE status IN ('running', 'paused')
    UNION
    (SELECT DISTINCT ON (surface_id) id FROM rollouts ORDER BY surface_id, started_at DESC, id DESC)`;
  return rows.map((r) => r.id);
}

/**
 * The rollouts each surface's canary strip shows (the On-call page), in listRollouts' shape: every
 * active rollout (running, paused) and each surface's newest, however many other rollouts started
 * since (fifty quick rollbacks on one surface pushed another's running canary off a newest-50 page,
 * and with it its Pause, Abort and Promote). Active ones first, then each part newest first, so a
 * surface's first row is the rollout its levers act on.
 */
export async function currentRollouts(db: Db) {
  const rollouts = await db.rollout.findMany({ where: { id: { in: await currentRolloutIds(db) } }, orderBy: { startedAt: "desc" }, include: listedInclude });
  // A stable sort: each part stays newest first.
  rollouts.sort((a, b) => Number(isActiveRollout(b.status)) - Number(isActiveRollout(a.status)));
  return describeRollouts(db, rollouts);
}

/** The listed shape of loaded rollouts (listRollouts): versions by number, the judged steps, and for active ones the live figures and the serving alias's reach. */
async function describeRollouts(db: Db, rollouts: Array<Prisma.RolloutGetPayload<{ include: typeof listedInclude }>>) {
  return Promise.all(
    rollouts.map(async (r) => {
      const analysis = r.analysis as unknown as Partial<RolloutAnalysis>;
      const versionOf = (id: string | null) => r.model.versions.find((v) => v.id === id)?.version ?? null;
      const active = isActiveRollout(r.status);
      const live = active ? await armSamples(db, r.id, r.surface.key, r.stepStartedAt) : null;
      // What a promotion would move (the Promote dialog names every surface, in its roles): the surface's serving alias's reach.
      const reached = active ? await surfacesReachedBy(db, { modelId: r.modelId, modelName: r.model.name, alias: r.surface.modelAlias }) : [];
      const summary = (a: ArmSample) => ({ requests: a.requests, fallbacks: a.fallbacks, impressions: a.impressions, clicks: a.clicks });
      return {
        id: r.id, surface: r.surface.key, model: r.model.name, alias: r.surface.modelAlias, fromVersion: versionOf(r.fromVersionId), toVersion: versionOf(r.toVersionId), status: r.status,
        /** The surfaces an approved start covered (empty: started directly); `reach`: every surface the serving alias reaches, this one first (active rollouts). */
        approvedFor: analysis.approvedFor ?? [],
        reach: [...reached.filter((x) => x.key === r.surface.key), ...reached.filter((x) => x.key !== r.surface.key)].map((x) => ({ key: x.key, roles: x.roles, requireApproval: x.requireApproval })),
        steps: r.steps as number[], step: r.step, percent: r.currentPercent, startedAt: r.startedAt, stepStartedAt: r.stepStartedAt, endedAt: r.endedAt, createdBy: r.createdBy,
        policy: analysis.policy ? { ...DEFAULT_JUDGE_POLICY, ...analysis.policy } : null,
        /** Ended rollouts: how a retry would bring this policy within today's bounds, in words (empty: the same policy). */
        retryPolicyAdjusted: active ? [] : policyWithinBounds(analysis.policy ?? {}).adjusted,
        latest: analysis.latest ?? null,
        stepDeadlineAt: active ? deadlineOf(analysis as RolloutAnalysis, r.stepStartedAt) : null,
        history: r.judgedSteps.map((s) => ({
          step: s.step, percent: s.percent, decision: s.decision, reasons: s.reasons, metrics: s.metrics as unknown as StepVerdict["metrics"],
          canaryRequests: s.canaryRequests, baselineRequests: s.baselineRequests, startedAt: s.startedAt, judgedAt: s.judgedAt, judgedBy: s.judgedBy,
        })),
        live: live ? { canary: summary(live.canary), baseline: summary(live.baseline) } : null,
      };
    }),
  );
}
