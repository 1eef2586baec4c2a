import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { canaryAliasOf } from "../domain/rollouts/canary";
import { surfacesReachedBy, type SurfaceReached } from "../registry/aliasReach";
import { defaultRollbackTarget, noDefaultRollbackReason, rollbackCandidates, rollbackOptions, skippedWords, stintsOf, versionAt, type AliasChange, type RegisteredVersion, type RollbackOption, type Stint } from "../domain/rollouts/history";
import { InvalidInputError, NotFoundError } from "../errors";
import { stage2ConfigSchema } from "../surfaces/stage2.schema";

// Reading the promotion history: what a surface served when, the rollback choices it offers, and
// the answer to "what was serving on <surface> at <time>". Alias rows are read by (model, alias,
// ts), a surface's rows by the surfaces they reached (GIN) or (surface, ts), all indexed.

const ALIAS_KINDS = ["alias_move", "rollback", "ship", "promotion"] as const;

type Reader = Db | Prisma.TransactionClient;

/**
 * Every row of one model alias, oldest first: in the order they were written (id), which is the order
 * the moves happened, since every move writes its row under the model's lock. `ts` does not follow
 * that order (a default of now(): its transaction's start): a move that waited for the lock behind
 * another (a rollback pressed while a canary promoted) may be stamped before the move it came after.
 */
export async function aliasChanges(db: Reader, modelId: string, alias: string, afterId: bigint | null = null): Promise<AliasChange[]> {
  const rows = await db.promotionHistory.findMany({
    where: { modelId, alias, kind: { in: [...ALIAS_KINDS] }, ...(afterId !== null ? { id: { gt: afterId } } : {}) },
    orderBy: { id: "asc" },
    select: { ts: true, kind: true, fromVersionId: true, fromVersion: true, toVersionId: true, toVersion: true, actor: true, reason: true, surfaces: true },
  });
  return rows.map((r) => ({ ...r, kind: r.kind as AliasChange["kind"] }));
}

export interface AliasRollback {
  /** The one-click target (see defaultRollbackTarget): a version the alias served, when it stopped serving and who moved it. */
  target: { versionId: string; version: number; basis: "history"; movedAt: Date | null; movedBy: string | null } | null;
  /** The versions on-call may roll back to, most recently served first (rollbackOptions): the target is the first. */
  options: RollbackOption[];
  /** Versions that served the alias but are not options, newest first, each with why ("v3 was rolled back from"). */
  ruledOut: Array<{ versionId: string; version: number; why: string }>;
  /** Why there is no one-click target (null when there is one): the pages say it beside the disabled button. */
  unavailable: string | null;
}

/** The model's versions, each with when its latest failed canary ended (a canary_rolled_back row: its judge rolled it back). */
async function versionsWithCanaries(db: Reader, modelId: string): Promise<RegisteredVersion[]> {
  const [versions, failed] = await Promise.all([
    db.modelVersion.findMany({ where: { modelId }, select: { id: true, version: true } }),
    db.promotionHistory.groupBy({
      by: ["toVersionId"],
      // Rolled back by its judge: a quality failure. Not an abort (by a person, or by the judge because the alias moved under it).
      where: { modelId, kind: "canary_rolled_back" },
      _max: { ts: true },
    }),
  ]);
  const failedAt = new Map(failed.map((f) => [f.toVersionId, f._max.ts]));
  return versions.map((v) => ({ versionId: v.id, version: v.version, canaryFailedAt: failedAt.get(v.id) ?? null }));
}

/**
 * Rollback choices of `alias` of the model, currently pointing at `currentVersionId`, with what the
 * registry and the canaries know: the one-click target (a version whose canary failed since it last
 * served, or that never served the alias, is never it: server/domain/rollouts/history.ts), every
 * version a rollback may go to (`options`: what `oncall.rollback`'s toVersion accepts), the served
 * versions ruled out with why, and why there is no target. The On-call page, oncall.rollback and the Serving
 * history page all read it here, so every button shows the target a press moves to. `afterId`: only
 * the alias's rows written after that promotion_history id (stage 2's since it was configured: the
 * version it pointed at then opens its stints; versions it served before never served the surface).
 */
export async function rollbackChoices(db: Reader, modelId: string, alias: string, currentVersionId: string | null, afterId: bigint | null = null): Promise<AliasRollback> {
  const [changes, registered] = await Promise.all([aliasChanges(db, modelId, alias, afterId), versionsWithCanaries(db, modelId)]);
  const stints = stintsOf(changes);
  const options = rollbackOptions(stints, changes, currentVersionId, registered);
  const ruledOut = rollbackCandidates(stints, currentVersionId, registered).filter((c) => c.skipped !== null)
    .map((c) => ({ versionId: c.stint.versionId, version: c.stint.version, why: skippedWords(c) }));
  const target = defaultRollbackTarget(stints, currentVersionId, registered);
  if (!target) return { target: null, options, ruledOut, unavailable: noDefaultRollbackReason(stints, currentVersionId, registered) };
  const option = options.find((o) => o.versionId === target.versionId);
  return { target: { versionId: target.versionId, version: target.version, basis: target.basis, movedAt: option?.servedUntil ?? null, movedBy: option?.movedBy ?? null }, options, ruledOut, unavailable: null };
}

async function surfaceOf(db: Db, key: string) {
  const surface = await db.surface.findUnique({
    where: { key },
    select: { key: true, modelAlias: true, killSwitch: true, stage2: true, model: { select: { id: true, name: true } } },
  });
  if (!surface) throw new NotFoundError("surface", key);
  return surface;
}

const rowSelect = {
  id: true, ts: true, kind: true, modelId: true, modelName: true, alias: true, surfaceKey: true, surfaces: true, stage2Surfaces: true, fromVersion: true, toVersion: true, percent: true, killSwitch: true,
  rolloutId: true, actor: true, actorKind: true, reason: true,
} as const;

/**
 * A surface's history, newest first: every change that reached it (moves of any alias it uses, in
 * any role: serving, stage 2, fallback, shadow, a shared alias moved from another surface; moves of
 * its stage 2's alias since that was configured; its own canary and kill switch changes), with the
 * stints of distinct versions its serving alias went through, the rollback choices, the version serving now and every surface that alias reaches
 * (`reach`, the pressed surface among them: what a rollback moves). At most `limit` rows; `older`
 * is the cursor of the next page (null: no older row): `before` pages back (rows older than that
 * time) and, with `beforeId` (a row's id), also the rows of that same millisecond written before it,
 * so a page boundary between rows of one millisecond skips none.
 * @throws NotFoundError for an unknown surface; InvalidInputError on `beforeId` without `before`.
 */
export async function surfaceHistory(db: Db, input: { surface: string; limit: number; before?: Date; beforeId?: string }) {
  const surface = await surfaceOf(db, input.surface);
  if (input.beforeId !== undefined && !input.before) throw new InvalidInputError("beforeId", "give `before` too (the row's time)");
  const page = !input.before ? {}
    : input.beforeId === undefined ? { ts: { lt: input.before } }
    : { OR: [{ ts: { lt: input.before } }, { ts: input.before, id: { lt: BigInt(input.beforeId) } }] };
  // Stage 2 of its cascade, when it names a registered model, and the row that configured it so.
  const config = stage2ConfigSchema.safeParse(surface.stage2).data;
  const [stage2Model, configured] = await Promise.all([
    config ? db.model.findUnique({ where: { name: config.model }, select: { id: true, name: true } }) : null,
    config ? stage2ConfiguredAt(db, surface.key) : null,
  ]);
  // Moves of stage 2's alias since that configuration changed what this surface's stage 2 served,
  // whichever surfaces their rows name: a repoint committed while a move of the alias waited after
  // reading its reach is written before that move, and the move's row does not name this surface.
  const stage2Moves = stage2Model && config && configured ? { modelId: stage2Model.id, alias: config.alias, kind: { in: [...ALIAS_KINDS] }, id: { gt: configured.id } } : null;
  const fetched = await db.promotionHistory.findMany({
    where: {
      AND: [page],
      OR: [
        // Rows that name it; its canary alias's rows repeat its canary rows, so they stay in the model's history.
        { surfaces: { has: surface.key }, OR: [{ alias: null }, { alias: { not: canaryAliasOf(surface.key) } }] },
        // Rows of its serving alias written before rows named their surfaces (migration 20261201030000 filled what the audit trail knew).
        ...(surface.model ? [{ modelId: surface.model.id, alias: surface.modelAlias, kind: { in: [...ALIAS_KINDS] } }] : []),
        ...(stage2Moves ? [stage2Moves] : []),
      ],
    },
    orderBy: [{ ts: "desc" }, { id: "desc" }],
    take: input.limit + 1,
    select: rowSelect,
  });
  const rows = fetched.slice(0, input.limit);
  const last = rows.at(-1);
  const older = fetched.length > input.limit && last ? { before: last.ts, beforeId: last.id.toString() } : null;
  const stage1 = surface.model
    ? await aliasVersions(db, surface.model, surface.modelAlias)
    : { serving: null, reach: [], stints: [], rollback: { target: null, options: [], ruledOut: [], unavailable: "the surface has no model" } as AliasRollback };
  // Stage 2's versions and rollback choices beside stage 1's.
  const stage2 = config && stage2Model
    ? { model: stage2Model.name, alias: config.alias, ...(await aliasVersions(db, stage2Model, config.alias, configured?.id ?? null)) }
    : null;
  return {
    surface: surface.key, model: surface.model?.name ?? null, alias: surface.modelAlias,
    /** The version its serving alias points at now (null: unset or no model): what a rollback from this page expects to move from. */
    serving: stage1.serving,
    reach: stage1.reach,
    rows: rows.map((r) => ({ ...r, id: r.id.toString(), stage: stageOf(r, surface.key, stage2Moves), noop: r.toVersion !== null && r.fromVersion === r.toVersion && (ALIAS_KINDS as readonly string[]).includes(r.kind) })),
    /** The next page's cursor (`before`, `beforeId`), or null when these are all the rows. */
    older,
    stints: stage1.stints, rollback: stage1.rollback,
    /** Stage 2 of its cascade (null: none, or its model is not registered): the same fields for the alias stage 2 rescores with. */
    stage2,
  };
}

/**
 * When `surface`'s stage 2 was last pointed at another model or alias (or added after a removal):
 * its promotion_history row (kind stage2), or null when none is recorded. A change of rerankCount or
 * budgetMs alone is no reconfiguration: the alias's versions still served the surface.
 */
export async function stage2ConfiguredAt(db: Reader, surface: string): Promise<{ id: bigint; ts: Date; actor: string } | null> {
  const [row] = await db.$queryRaw<Array<{ id: bigint; ts: Date; actor: string }>>`
    SELECT id, ts, actor FROM (
      SELECT id, ts, actor, model_name, alias, to_version_id, lag(id) OVER w AS prev_id, lag(model_name) OVER w AS prev_model,
        lag(alias) OVER w AS prev_alias, lag(to_version_id) OVER w AS prev_to
      FROM promotion_history WHERE kind = 'stage2' AND surface_key = ${surface} WINDOW w AS (ORDER BY id)) x
    WHERE prev_id IS NULL OR prev_to IS NULL OR prev_model IS DISTINCT FROM model_name OR prev_alias IS DISTINCT FROM alias
    ORDER BY id DESC LIMIT 1`;
  return row ?? null;
}

/**
 * One alias's versions as the Serving history page shows them: the version it points at now, every
 * surface it reaches (what a rollback moves), its stints of distinct versions (newest first) and its
 * rollback choices.
 */
async function aliasVersions(db: Db, model: { id: string; name: string }, alias: string, afterId: bigint | null = null) {
  const [row, changes, reach] = await Promise.all([
    db.modelAlias.findUnique({ where: { modelId_name: { modelId: model.id, name: alias } }, select: { versionId: true, version: { select: { version: true } } } }),
    aliasChanges(db, model.id, alias, afterId),
    surfacesReachedBy(db, { modelId: model.id, modelName: model.name, alias }),
  ]);
  const rollback = await rollbackChoices(db, model.id, alias, row?.versionId ?? null, afterId);
  return {
    serving: row ? { versionId: row.versionId, version: row.version.version } : null,
    reach: reach.map((r: SurfaceReached) => ({ key: r.key, roles: r.roles })),
    stints: stintsOf(changes).reverse(),
    rollback,
  };
}

/**
 * Which stage of `surface`'s cascade a row changed: 2 for a stage-2 configuration row, for an alias
 * move that reached it as stage 2, and for a move of its stage 2's alias since that was configured
 * (`stage2Moves`: the alias and the configuration's row id; null: none known); 1 for any other alias
 * move; null for rows of no alias (canary steps, kill switch).
 */
function stageOf(row: { id: bigint; kind: string; modelId: string | null; alias: string | null; stage2Surfaces: string[] }, surface: string, stage2Moves: { modelId: string; alias: string; id: { gt: bigint } } | null): 1 | 2 | null {
  if (row.kind === "stage2" || row.stage2Surfaces.includes(surface)) return 2;
  if (stage2Moves && row.modelId === stage2Moves.modelId && row.alias === stage2Moves.alias && row.id > stage2Moves.id.gt) return 2;
  return row.alias !== null && (ALIAS_KINDS as readonly string[]).includes(row.kind) ? 1 : null;
}

/** A model's history (every alias, or one), newest first. */
export async function modelHistory(db: Db, input: { model: string; alias?: string; limit: number }) {
  const model = await db.model.findUnique({ where: { name: input.model }, select: { id: true } });
  if (!model) throw new NotFoundError("model", input.model);
  const rows = await db.promotionHistory.findMany({
    where: { modelId: model.id, ...(input.alias ? { alias: input.alias } : {}) },
    orderBy: [{ ts: "desc" }, { id: "desc" }],
    take: input.limit,
    select: rowSelect,
  });
  return rows.map((r) => ({ ...r, id: r.id.toString(), stage: r.kind === "stage2" ? 2 : r.stage2Surfaces.length > 0 ? 2 : r.alias !== null && (ALIAS_KINDS as readonly string[]).includes(r.kind) ? 1 : null }));
}

export interface ServingAt {
  surface: string;
  at: Date;
  model: string | null;
  alias: string;
  /**
   * The serving alias's version then (version null: the alias pointed nowhere); `since` null when it
   * started before the history's first row; `kind`/`surfaces`: the move that started it and every
   * surface it reached (a rollback pressed on another surface sharing the alias names both; null
   * when not recorded). `known: false`: before the history began.
   */
  serving:
    | { known: true; version: number | null; since: Date | null; by: string | null; reason: string | null; kind: AliasChange["kind"] | null; surfaces: string[] | null }
    | { known: false; historyStarts: Date | null };
  /**
   * Stage 2 of its cascade then: null when it had none; the model, alias and the version that alias
   * pointed at (version null: the alias was cleared, stage 1's order served) and since when stage 2
   * was configured so; `known: false` when stage 2 is configured now but the history has no row of it
   * at or before `at` (configured before stage-2 changes were recorded).
   */
  stage2: { known: true; model: string; alias: string; version: number | null; configuredSince: Date; by: string } | { known: false } | null;
  /** The canary then, if one ran: its version and share of traffic. */
  canary: { version: number | null; percent: number; since: Date; rolloutId: string | null; paused: boolean } | null;
  killSwitch: { on: boolean; since: Date } | null;
}

const CANARY_RUNNING = new Set(["canary_start", "canary_step", "canary_paused", "canary_resumed"]);

/**
 * What served on `surface` at time `at`: its serving alias's version (moves of that alias made from
 * any surface sharing it count), its own canary and share, its kill switch.
 * @throws InvalidInputError on `at` when it is not a time; NotFoundError for an unknown surface.
 */
export async function servingAt(db: Db, input: { surface: string; at: Date }): Promise<ServingAt> {
  if (Number.isNaN(input.at.getTime())) throw new InvalidInputError("at", "not a valid time");
  const surface = await surfaceOf(db, input.surface);
  let serving: ServingAt["serving"] = { known: false, historyStarts: null };
  if (surface.model) {
    const changes = await aliasChanges(db, surface.model.id, surface.modelAlias);
    const stint: Stint | null | undefined = versionAt(stintsOf(changes), changes, input.at);
    serving = stint === undefined
      ? { known: false, historyStarts: changes[0]?.ts ?? null }
      : { known: true, version: stint?.version ?? null, since: stint?.from ?? null, by: stint?.by ?? null, reason: stint?.reason ?? null, kind: stint?.kind ?? null, surfaces: stint?.surfaces ?? null };
  }
  const lastOf = (kinds: string[]) =>
    db.promotionHistory.findFirst({
      where: { surfaceKey: surface.key, ts: { lte: input.at }, kind: { in: kinds as never } },
      orderBy: [{ ts: "desc" }, { id: "desc" }],
      select: { ts: true, kind: true, toVersion: true, percent: true, killSwitch: true, rolloutId: true },
    });
  const [canaryRow, killRow, stage2] = await Promise.all([
    lastOf(["canary_start", "canary_step", "canary_paused", "canary_resumed", "canary_promoted", "canary_rolled_back", "canary_aborted"]),
    lastOf(["kill_switch"]),
    stage2At(db, surface, input.at),
  ]);
  return {
    surface: surface.key, at: input.at, model: surface.model?.name ?? null, alias: surface.modelAlias, serving, stage2,
    canary: canaryRow && CANARY_RUNNING.has(canaryRow.kind)
      ? { version: canaryRow.toVersion, percent: canaryRow.percent ?? 0, since: canaryRow.ts, rolloutId: canaryRow.rolloutId, paused: canaryRow.kind === "canary_paused" }
      : null,
    killSwitch: killRow ? { on: killRow.killSwitch ?? false, since: killRow.ts } : null,
  };
}

/** Stage 2 of `surface` at `at` (ServingAt.stage2): its last stage-2 row then, and the version of that alias then. */
async function stage2At(db: Db, surface: { key: string; stage2: unknown }, at: Date): Promise<ServingAt["stage2"]> {
  const row = await db.promotionHistory.findFirst({
    where: { surfaceKey: surface.key, kind: "stage2", ts: { lte: at } },
    orderBy: [{ ts: "desc" }, { id: "desc" }],
    select: { ts: true, modelId: true, modelName: true, alias: true, toVersionId: true, actor: true },
  });
  if (!row) {
    // No row then: none configured, unless it is configured now and its configuration predates the rows.
    const later = await db.promotionHistory.findFirst({ where: { surfaceKey: surface.key, kind: "stage2" }, select: { id: true } });
    return later || surface.stage2 === null ? null : { known: false };
  }
  // A removal names what it removed, with no version.
  if (row.toVersionId === null || !row.modelId || !row.alias || !row.modelName) return null;
  const changes = await aliasChanges(db, row.modelId, row.alias);
  const stint = versionAt(stintsOf(changes), changes, at);
  // The alias's history may not reach back to the configuration: the row's own version is what it pointed at then.
  const version = stint === undefined ? await db.modelVersion.findUnique({ where: { id: row.toVersionId }, select: { version: true } }).then((v) => v?.version ?? null) : (stint?.version ?? null);
  return { known: true, model: row.modelName, alias: row.alias, version, configuredSince: row.ts, by: row.actor };
}
