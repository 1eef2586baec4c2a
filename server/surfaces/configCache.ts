import { getDb, type Db } from "../db/client";
import { configListenerUp, onConfigChange } from "../db/configChanges";
import type { ConstraintConfig } from "../domain/constraints/applyConstraints";
import { canaryAliasOf } from "../domain/rollouts/canary";
import { NotFoundError } from "../errors";
import { openWarm } from "../inference/sessions";
import { withDeadline } from "../domain/time/deadline";
import { constraintConfigSchema, mergeConstraints } from "./constraints.schema";
import { stage2ConfigSchema } from "./stage2.schema";
import { env } from "../config";

// Surface configs are cached in process, so the request path reads no database. A change to a
// surface, alias, experiment or rollout is announced by NOTIFY from its own transaction (migration
// 20261129140000_config_notify) to every process's listener (server/db/configChanges.ts), which
// re-reads one small fingerprint query and reloads the surfaces whose fingerprint moved: a kill
// switch, an alias move or a rollback reaches every replica milliseconds after its commit. The
// poll of that query every CONFIG_WATCH_INTERVAL_MS is the backstop while the listener is down
// (and every CONFIG_BACKSTOP_MS while it is up); the process that made a change applies it at once
// (appliedHere). A reloaded config serves once the models it brings in are open (prepare, at most
// MODEL_WARM_WAIT_MS); meanwhile the previous one serves. Reads of a surface run in order and a
// config never replaces a newer read's, but a later change (a kill switch, an abort) never waits
// for an earlier one still preparing: the earlier one is dropped.

export interface ModelRef {
  alias: string;
  versionId: string;
  version: number;
}

export interface ExperimentVariantConfig {
  key: string;
  weight: number;
  isControl: boolean;
  model: ModelRef | null;
  constraints: ConstraintConfig;
}

export interface RunningExperiment {
  id: string;
  key: string;
  kind: "ab" | "interleaving";
  phase: number;
  seed: string;
  hashVersion: 1 | 2;
  hashAttribute: "userKey" | "sessionKey";
  coverage: number;
  namespace: { id: string; start: number; end: number } | null;
  targeting: Array<{ attribute: string; op: "eq" | "neq" | "in" | "nin" | "gt" | "gte" | "lt" | "lte" | "exists" | "regex"; value?: unknown }>;
  variants: ExperimentVariantConfig[];
}

export interface SurfaceConfig {
  id: string;
  key: string;
  constraints: ConstraintConfig;
  timeoutMs: number;
  /** The p99 latency target in ms (slo_latency_p99_ms): a response slower than it is a bad event of the latency SLI (rerank_requests_slow_total). */
  sloLatencyP99Ms: number;
  defaultTopK: number;
  maxCandidates: number;
  killSwitch: boolean;
  modelName: string | null;
  primary: ModelRef | null;
  fallback: ModelRef | null;
  /** A candidate model scored off the hot path on a sample of requests (null: no shadow). */
  shadow: ModelRef | null;
  shadowSampleRate: number;
  /** A running canary rollout: this share of the surface's non-experiment traffic goes to the new version. */
  rollout: { id: string; percent: number; canary: ModelRef } | null;
  /**
   * Stage 2 of the cascade (null: stage 1 alone). `ref` is null when the model or its alias is gone:
   * stage 1's order then serves, marked "error".
   */
  stage2: { model: string; alias: string; ref: ModelRef | null; rerankCount: number; budgetMs: number } | null;
  experiments: RunningExperiment[];
  fingerprint: string;
}

export class SurfaceConfigCache {
  private readonly configs = new Map<string, SurfaceConfig>();
  /** Per surface: its newest (re)load, until it is served. */
  private readonly loading = new Map<string, Promise<SurfaceConfig>>();
  /** Per surface: its newest read of the database (reads of one surface run one after another). */
  private readonly reading = new Map<string, Promise<unknown>>();
  /** Per surface: the fingerprint its newest read found, and that read's sequence number. */
  private readonly lastRead = new Map<string, { fingerprint: string; seq: number }>();
  /** Loads that have ended (a load whose successor failed to read is put back while it is still pending). */
  private readonly ended = new WeakSet<Promise<unknown>>();
  /** A refresh scheduled again after one of its reads failed. */
  private retry: NodeJS.Timeout | undefined;
  /** Per surface: the sequence number of the read whose config serves now. */
  private readonly servedSeq = new Map<string, number>();
  private nextSeq = 1;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private lastRefresh = 0;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;

  /**
   * @param prepare runs on every (re)loaded config before it is served, e.g. to open the models it
   *   brings in before traffic reaches them; a (re)load waits for it at most `options.prepareWithinMs`,
   *   then serves the config anyway (what prepare left undone goes on in the background). Its
   *   rejection is ignored: a model that cannot be opened is the request path's fallback.
   * @param options.pollMs the backstop poll's period (default CONFIG_WATCH_INTERVAL_MS).
   * @param options.listen false: poll only, as if the listener were always down (default true).
   * @param options.prepareWithinMs longest a (re)load waits for `prepare`, in ms (default MODEL_WARM_WAIT_MS).
   */
  constructor(
    private readonly db: () => Db,
    private readonly prepare: (config: SurfaceConfig) => Promise<unknown> = async () => {},
    private readonly options: { pollMs?: number; listen?: boolean; prepareWithinMs?: number } = {},
  ) {}

  async get(key: string): Promise<SurfaceConfig> {
    const cached = this.configs.get(key);
    if (cached) return cached;
    const pending = this.loading.get(key) ?? this.reload(key).served;
    this.startWatching();
    return pending;
  }

  /** The cached config of `key`, without loading it (undefined when not cached). */
  peek(key: string): SurfaceConfig | undefined {
    return this.configs.get(key);
  }

  /**
   * Reads `key` again and serves what it read once `prepare` is done with it (or its wait bound
   * passed). Reads of one surface run one after another, and a config is served only if no later
   * read's config serves already: a slow earlier read or preparation never puts an older config
   * back, and a change waiting for its models never holds up a later change of the same surface (a
   * kill switch, an abort: served as soon as they are read and prepared, the earlier change dropped).
   * @returns `read`: settles once the database was read; `served`: the config serving when this
   *   load ended (its own, or a later one's).
   */
  private reload(key: string): { read: Promise<unknown>; served: Promise<SurfaceConfig> } {
    const previous = this.reading.get(key) ?? Promise.resolve();
    const previousLoad = this.loading.get(key);
    const read = previous
      .then(() => undefined, () => undefined)
      .then(async () => {
        const seq = this.nextSeq++;
        const config = await this.load(key);
        if (seq > Math.max(this.lastRead.get(key)?.seq ?? 0, this.servedSeq.get(key) ?? 0)) this.lastRead.set(key, { fingerprint: config.fingerprint, seq });
        return { seq, config };
      });
    this.reading.set(key, read);
    const served: Promise<SurfaceConfig> = read.then(async ({ seq, config }) => {
      // The models this config brings in (a canary's version, an alias moved to a new one) open before
      // it serves, so their first requests do not wait for them (bounded: a change is never held for long).
      const prepared = Promise.resolve(config).then(this.prepare).catch(() => {});
      await withDeadline(prepared, this.options.prepareWithinMs ?? env().MODEL_WARM_WAIT_MS, () => {});
      if (seq > (this.servedSeq.get(key) ?? 0)) {
        this.configs.set(key, config);
        this.servedSeq.set(key, seq);
        return config;
      }
      // A later read serves already; or the surface was deleted (or the cache cleared) meanwhile:
      // what the database holds now (NotFound when the surface is gone).
      const current = this.configs.get(key);
      if (current) return current;
      const newer = this.loading.get(key);
      return newer && newer !== served ? newer : this.reload(key).served;
    });
    this.loading.set(key, served);
    const forget = () => {
      if (this.reading.get(key) === read) this.reading.delete(key);
    };
    read.then(forget, forget);
    const end = (failed: boolean) => {
      this.ended.add(served);
      if (this.loading.get(key) !== served) return;
      // A read that failed must not hide an earlier load still preparing (a refresh would no longer
      // see a surface not served yet); one that served leaves nothing to wait for.
      if (failed && previousLoad && !this.ended.has(previousLoad)) this.loading.set(key, previousLoad);
      else this.loading.delete(key);
    };
    served.then(() => end(false), () => end(true));
    return { read, served };
  }

  /**
   * Re-reads changed surfaces now and resolves once their new configs serve here (the watcher calls
   * this; tests and admin actions may too).
   * @param options.surfaces wait only for these surfaces' configs to serve (every changed surface is
   *   still re-read): a lever on one surface (a kill switch, an abort) does not wait for another
   *   surface's change still opening its models. Default: wait for every changed surface.
   */
  async refresh(options: { surfaces?: readonly string[] } = {}): Promise<void> {
    await (await this.startRefresh(options.surfaces)).served;
  }

  /**
   * Reads the fingerprints of every surface cached or loading, forgets the deleted ones, and starts
   * reloading each surface whose fingerprint differs from its newest read (served or still
   * preparing: an abort that puts the fingerprint back where it was before a canary's start is a
   * change against the canary's read, not against the config served; so is a read still running,
   * which may have read the state before). Resolves once those reads are done, with `served`: a
   * promise of the configs of `waitFor` serving (default: every surface served here that changed or
   * whose newest read is still preparing; a surface not served here yet needs no waiting: its first
   * get() waits for its load), and `failed`: whether a read failed (the change is not applied yet).
   */
  private async startRefresh(waitFor?: readonly string[]): Promise<{ served: Promise<unknown>; failed: boolean }> {
    this.lastRefresh = Date.now();
    const keys = [...new Set([...this.configs.keys(), ...this.loading.keys()])];
    if (keys.length === 0) return { served: Promise.resolve(), failed: false };
    const rows = await this.fingerprintsOf(keys);
    const seen = new Set(rows.map((row) => row.key));
    for (const key of keys) {
      if (seen.has(key)) continue;
      // Deleted: a read still preparing from before the deletion neither serves nor brings it back,
      // and a get() reads anew (NotFound, or the surface created again).
      this.configs.delete(key);
      this.lastRead.delete(key);
      this.loading.delete(key);
      this.servedSeq.set(key, this.nextSeq++);
    }
    const pending: Array<Promise<unknown>> = [];
    const reads: Array<Promise<boolean>> = [];
    for (const { key, fingerprint } of rows) {
      const newest = this.lastRead.get(key)?.fingerprint ?? this.configs.get(key)?.fingerprint;
      const servedHere = this.configs.has(key);
      let served: Promise<unknown> | undefined;
      if (fingerprint !== newest || this.reading.has(key)) {
        const reload = this.reload(key);
        reads.push(reload.read.then(() => false, () => true));
        served = reload.served;
      } else served = this.loading.get(key); // read already, still preparing
      if (served && (waitFor ? waitFor.includes(key) : servedHere)) pending.push(served.catch(() => {}));
    }
    const failed = (await Promise.all(reads)).some(Boolean);
    return { served: Promise.all(pending), failed };
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.retry = undefined;
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  clear(): void {
    // Loads still preparing from before do not serve afterwards.
    for (const key of new Set([...this.configs.keys(), ...this.loading.keys()])) this.servedSeq.set(key, this.nextSeq++);
    this.configs.clear();
    this.lastRead.clear();
    this.loading.clear();
  }

  private startWatching(): void {
    if (this.timer) return;
    const listen = this.options.listen ?? true;
    if (listen) this.unsubscribe = onConfigChange((topic) => topic !== "api_keys" && this.refreshSoon());
    this.timer = setInterval(() => {
      if (listen && configListenerUp() && Date.now() - this.lastRefresh < env().CONFIG_BACKSTOP_MS) return;
      this.refreshSoon();
    }, this.options.pollMs ?? env().CONFIG_WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  /** A refresh now, or right after the one running (a burst of notifications costs at most two). */
  private refreshSoon(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    // Waits for the reads only: a change still waiting for its models does not hold up the next one.
    this.refreshing = this.startRefresh()
      .then(
        ({ failed }) => {
          if (failed) this.retrySoon();
        },
        () => this.retrySoon(),
      )
      .finally(() => {
        this.refreshing = null;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refreshSoon();
        }
      });
  }

  /**
   * A read failed (a database fault): tries again after CONFIG_WATCH_INTERVAL_MS, not only at the
   * next notification or the backstop (CONFIG_BACKSTOP_MS), which may be 30 s away with the listener up.
   */
  private retrySoon(): void {
    if (this.retry || !this.timer) return; // stopped: nothing retries
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.refreshSoon();
    }, env().CONFIG_WATCH_INTERVAL_MS);
    this.retry.unref();
  }

  /** A string that changes whenever a surface row or one of its model's aliases changes. */
  private fingerprintsOf(keys: string[]) {
    return this.db().$queryRaw<Array<{ key: string; fingerprint: string }>>`
      SELECT s.key, s.updated_at::text || '/' || coalesce(max(a.updated_at)::text, '') || '/' || count(a.id) || '/' ||
        coalesce((SELECT max(e.updated_at)::text || count(*) FROM experiments e WHERE e.surface_id = s.id), '') || '/' ||
        coalesce((SELECT string_agg(r.id || r.status || r.current_percent, ',') FROM rollouts r WHERE r.surface_id = s.id AND r.status IN ('running', 'paused')), '') || '/' ||
        coalesce((SELECT max(a2.updated_at)::text || count(*) FROM model_aliases a2 JOIN models m2 ON m2.id = a2.model_id WHERE m2.name = s.stage2->>'model'), '') AS fingerprint
      FROM surfaces s LEFT JOIN model_aliases a ON a.model_id = s.model_id
      WHERE s.key = ANY(${keys}) GROUP BY s.key, s.id, s.updated_at`;
  }

  private async load(key: string): Promise<SurfaceConfig> {
    // Read the fingerprint first: a change made while we load shows up as a new fingerprint.
    const fingerprint = (await this.fingerprintsOf([key]))[0]?.fingerprint ?? "";
    const surface = await this.db().surface.findUnique({
      where: { key },
      include: { model: { select: { name: true, aliases: { select: { name: true, version: { select: { id: true, version: true } } } } } } },
    });
    if (!surface) throw new NotFoundError("surface", key);
    const aliases = surface.model?.aliases ?? [];
    const ref = (alias: string | null): ModelRef | null => {
      const found = alias ? aliases.find((a) => a.name === alias) : undefined;
      return found ? { alias: found.name, versionId: found.version.id, version: found.version.version } : null;
    };
    const parsed = constraintConfigSchema.safeParse(surface.constraints);
    const running = await this.db().experiment.findMany({
      where: { surfaceId: surface.id, status: "running" },
      include: { variants: { orderBy: { position: "asc" }, include: { modelVersion: { select: { id: true, version: true } } } } },
      orderBy: { startedAt: "asc" },
    });
    const experiments: RunningExperiment[] = running.map((e) => ({
      id: e.id, key: e.key, kind: e.kind, phase: e.phase, seed: e.seed, hashVersion: e.hashVersion === 1 ? 1 : 2,
      hashAttribute: e.hashAttribute === "sessionKey" ? "sessionKey" : "userKey", coverage: e.coverage,
      namespace: (e.namespace as RunningExperiment["namespace"]) ?? null, targeting: (e.targeting as RunningExperiment["targeting"]) ?? [],
      variants: e.variants.map((v) => ({
        key: v.key, weight: v.weight, isControl: v.isControl,
        model: v.modelVersion ? { alias: `v${v.modelVersion.version}`, versionId: v.modelVersion.id, version: v.modelVersion.version } : ref(v.modelAlias),
        constraints: mergeConstraints(parsed.success ? parsed.data : {}, constraintConfigSchema.safeParse(v.constraintOverrides).data),
      })),
    }));
    // A paused canary keeps serving its share: only its analysis waits.
    const rollout = await this.db().rollout.findFirst({
      where: { surfaceId: surface.id, status: { in: ["running", "paused"] } },
      orderBy: { startedAt: "desc" },
      select: { id: true, currentPercent: true, toVersionId: true },
    });
    const canaryVersion = rollout ? await this.db().modelVersion.findUnique({ where: { id: rollout.toVersionId }, select: { id: true, version: true } }) : null;
    const stage2 = await this.stage2Of(surface.stage2);
    const config: SurfaceConfig = {
      id: surface.id,
      key: surface.key,
      // A stored config that no longer validates keeps its blocklists: safety filters fail closed.
      constraints: parsed.success ? parsed.data : pickBlocklists(surface.constraints),
      timeoutMs: surface.timeoutMs,
      sloLatencyP99Ms: surface.sloLatencyP99Ms,
      defaultTopK: surface.defaultTopK,
      maxCandidates: surface.maxCandidates,
      killSwitch: surface.killSwitch,
      modelName: surface.model?.name ?? null,
      primary: ref(surface.modelAlias),
      fallback: surface.fallbackAlias && surface.fallbackAlias !== surface.modelAlias ? ref(surface.fallbackAlias) : null,
      shadow: ref(surface.shadowAlias),
      shadowSampleRate: surface.shadowSampleRate,
      rollout: rollout && canaryVersion ? { id: rollout.id, percent: rollout.currentPercent, canary: { alias: canaryAliasOf(surface.key), versionId: canaryVersion.id, version: canaryVersion.version } } : null,
      stage2,
      experiments,
      fingerprint,
    };
    return config;
  }

  /** The stored stage 2 with its alias resolved (a stored value that no longer validates: no stage 2). */
  private async stage2Of(raw: unknown): Promise<SurfaceConfig["stage2"]> {
    const parsed = stage2ConfigSchema.safeParse(raw);
    if (!parsed.success) return null;
    const { model, alias, rerankCount, budgetMs } = parsed.data;
    const found = await this.db().modelAlias.findFirst({ where: { name: alias, model: { name: model } }, select: { version: { select: { id: true, version: true } } } });
    return { model, alias, ref: found ? { alias, versionId: found.version.id, version: found.version.version } : null, rerankCount, budgetMs };
  }
}

function pickBlocklists(raw: unknown): ConstraintConfig {
  const value = (raw ?? {}) as Record<string, unknown>;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined);
  return { blockedFlags: strings(value.blockedFlags), blockedIds: strings(value.blockedIds) };
}

// One per process, on globalThis: Next's bundle and the front door each load their own copy of this module.
const holder = globalThis as unknown as { __rerankSurfaceConfigs?: SurfaceConfigCache };

/** Stops and forgets the process's surface config cache (tests that switch databases). */
export function resetSurfaceConfigs(): void {
  holder.__rerankSurfaceConfigs?.stop();
  holder.__rerankSurfaceConfigs = undefined;
}

/** The process's surface config cache, which serving reads and every config change refreshes. */
export function surfaceConfigs(): SurfaceConfigCache {
  // Every model a config serves is open (on the scoring pool's threads too, when it is scored
  // there) before the config serves: a canary, an alias moved to a new version, a new shadow,
  // cascade stage or experiment arm; those already open cost nothing (openWarm remembers).
  return (holder.__rerankSurfaceConfigs ??= new SurfaceConfigCache(getDb, (config) => Promise.allSettled(modelsToPrepare(config).map(openWarm))));
}

/**
 * The models a (re)loaded config waits for before it serves: servedModelRefs, or none while the
 * kill switch is on (retrieval order needs no model: a kill switch thrown while a canary is still
 * opening serves at once; the models stay open for when it is turned off).
 */
export function modelsToPrepare(config: SurfaceConfig): ModelRef[] {
  return config.killSwitch ? [] : servedModelRefs(config);
}

/**
 * Every model a surface's config may serve or mirror a request with: primary, fallback, shadow, the
 * rollout's canary, stage 2 of the cascade, the running experiments' arms; each version once.
 */
export function servedModelRefs(config: SurfaceConfig): ModelRef[] {
  const refs = [config.primary, config.fallback, config.shadow, config.rollout?.canary, config.stage2?.ref, ...config.experiments.flatMap((e) => e.variants.map((v) => v.model))];
  const byVersion = new Map<string, ModelRef>();
  for (const ref of refs) if (ref && !byVersion.has(ref.versionId)) byVersion.set(ref.versionId, ref);
  return [...byVersion.values()];
}

/**
 * Awaits a change to surfaces or aliases, then re-reads them in this process before answering, so
 * the replica that took the change serves it at once; the others follow on its NOTIFY (or within
 * their config watch interval, CONFIG_WATCH_INTERVAL_MS). Waits for the changed configs to serve,
 * which includes opening the models they bring in (at most MODEL_WARM_WAIT_MS).
 * @param options.surface the one surface the change is about (an on-call lever), or
 *   `options.surfaces` (read from the change's result: an alias reaches several): waits for those
 *   surfaces' configs only, not for another surface's change still opening its models. Neither:
 *   waits for every surface served here whose config changed or still prepares.
 */
export async function appliedHere<T>(change: Promise<T>, options: { surface?: string; surfaces?: (result: T) => readonly string[] } = {}): Promise<T> {
  const result = await change;
  const surfaces = options.surface !== undefined ? [options.surface] : options.surfaces?.(result);
  await surfaceConfigs().refresh(surfaces === undefined ? {} : { surfaces });
  return result;
}
