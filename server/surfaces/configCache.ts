import { getDb, type Db } from "../db/client";
import { configListenerUp, onConfigChange } from "../db/configChanges";
import type { ConstraintConfig } from "../domain/constraints/applyConstraints";
import { canaryAliasOf } from "../domain/rollouts/canary";
import { NotFoundError } from "../errors";
import { openModel } from "../inference/sessions";
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
// (appliedHere).

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
  private readonly loading = new Map<string, Promise<SurfaceConfig>>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private lastRefresh = 0;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;

  /**
   * @param onLoad sees every (re)loaded config, e.g. to open its models' sessions before traffic needs them.
   * @param options.pollMs the backstop poll's period (default CONFIG_WATCH_INTERVAL_MS).
   * @param options.listen false: poll only, as if the listener were always down (default true).
   */
  constructor(
    private readonly db: () => Db,
    private readonly onLoad: (config: SurfaceConfig) => void = () => {},
    private readonly options: { pollMs?: number; listen?: boolean } = {},
  ) {}

  async get(key: string): Promise<SurfaceConfig> {
    const cached = this.configs.get(key);
    if (cached) return cached;
    const pending = this.loading.get(key) ?? this.reload(key);
    this.startWatching();
    return pending;
  }

  /** The cached config of `key`, without loading it (undefined when not cached). */
  peek(key: string): SurfaceConfig | undefined {
    return this.configs.get(key);
  }

  /**
   * Loads of one surface run one after another: a load started later (after a change) always
   * writes after an earlier one, so a slow earlier read can never put an older config back.
   */
  private reload(key: string): Promise<SurfaceConfig> {
    const previous = this.loading.get(key);
    const next = (previous ? previous.then(() => undefined, () => undefined) : Promise.resolve()).then(() => this.load(key));
    this.loading.set(key, next);
    next.then(
      () => this.loading.get(key) === next && this.loading.delete(key),
      () => this.loading.get(key) === next && this.loading.delete(key),
    );
    return next;
  }

  /** Re-reads changed surfaces now (the watcher calls this; tests and admin actions may too). */
  async refresh(): Promise<void> {
    this.lastRefresh = Date.now();
    if (this.configs.size === 0) return;
    const rows = await this.fingerprintsOf([...this.configs.keys()]);
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.key);
      if (this.configs.get(row.key)?.fingerprint !== row.fingerprint) await this.reload(row.key).catch(() => {});
    }
    for (const key of this.configs.keys()) if (!seen.has(key)) this.configs.delete(key);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  clear(): void {
    this.configs.clear();
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
    this.refreshing = this.refresh()
      .catch(() => {}) // the next notification or poll tries again
      .finally(() => {
        this.refreshing = null;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refreshSoon();
        }
      });
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
    this.configs.set(key, config);
    this.onLoad(config);
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
  // A canary, shadow or cascade model that a config change brings in is opened as soon as the
  // config is read, off the request path, so its first requests do not pay for loading it.
  return (holder.__rerankSurfaceConfigs ??= new SurfaceConfigCache(getDb, (config) => {
    for (const ref of servedModelRefs(config)) openModel(ref).catch(() => {}); // a model that fails to load is the request path's fallback
  }));
}

/** Every model a surface's config may serve or mirror a request with: primary, fallback, shadow, the rollout's canary, stage 2 of the cascade. */
export function servedModelRefs(config: SurfaceConfig): ModelRef[] {
  return [config.primary, config.fallback, config.shadow, config.rollout?.canary, config.stage2?.ref].filter((ref): ref is ModelRef => ref !== null && ref !== undefined);
}

/**
 * Awaits a change to surfaces or aliases, then re-reads them in this process before answering, so
 * the replica that took the change serves it at once; the others follow within their config watch
 * interval (CONFIG_WATCH_INTERVAL_MS).
 */
export async function appliedHere<T>(change: Promise<T>): Promise<T> {
  const result = await change;
  await surfaceConfigs().refresh();
  return result;
}
