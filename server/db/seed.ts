import type { Db } from "./client";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { DEMO_BLOCKED_FLAGS, demoCatalog } from "../demo/catalog";
import { DEMO_MODELS, demoFeatureSpec } from "../demo/models";
import { createVersion, setAlias, type NewVersion } from "../registry/versions";
import { DEMO_CASCADE_STAGE2, DEMO_CASCADE_SURFACE } from "../demo/cascade";
import { DEMO_CROSS_ENCODER_DIR, DEMO_CROSS_ENCODER_NAME, DEMO_TEXT_SURFACE } from "../demo/crossEncoder";
import { bundleToArchive, readCrossEncoderBundle } from "../inference/crossEncoder/bundle";
import { validateCrossEncoderArchive } from "../registry/validateCrossEncoder";
import { env } from "../config";
import { systemActor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { subjects } from "../domain/audit/subject";
import { recordStage2Change } from "../surfaces/stage2";
import { MigrationError } from "./migrate";

/** The demo seed acts as a system job of its own name. */
const SEED = systemActor("seed");

// Demo data, written once, in steps that each end complete whatever interrupted an earlier start
// (a kill during seeding, a lost connection): a step is one transaction, or writes only what is
// missing — a demo version whose artifact (sha256) is stored is reused, an alias set only while
// the step's last alias move has never been made. That move is the step's "done" marker: its alias,
// or the seed's audit entry of it (audit_log is append-only), so an alias someone cleared later is
// not set again. A break test killed a start during seeding: search-ranker kept only v1, and every
// later start died with a ConflictError and a stack trace (server/db/seed.int.test.ts).

/**
 * A seeding step that failed, in one line naming the step. A MigrationError, so npm start and
 * db:migrate print it as one line, as any failure to prepare the database.
 */
export class SeedError extends MigrationError {}

const SEED_STEPS: ReadonlyArray<readonly [string, (db: Db, log: (line: string) => void) => Promise<boolean>]> = [
  ["the demo catalog and surfaces", seedCatalog],
  ["the demo model search-ranker", seedModels],
  ["the LETOR-trained demo models", seedLetorModels],
  ["search-ranker's shadow candidate", seedShadowCandidate],
  ["the demo text surface", seedTextSurface],
  ["the demo cascade", seedCascadeSurface],
];

/**
 * Seeds the demo data, or completes what an interrupted earlier run left; nothing when complete.
 * @returns seeded: whether anything was written.
 * @throws SeedError (one line naming the step and the cause) when a step fails; what the earlier
 *   steps wrote stays, and the next run completes the rest.
 */
export async function seedDemo(db: Db, log: (line: string) => void = () => {}): Promise<{ seeded: boolean }> {
  let seeded = false;
  for (const [what, step] of SEED_STEPS) {
    try {
      seeded = (await step(db, log)) || seeded;
    } catch (error) {
      const cause = (error instanceof Error ? error.message : String(error)).split("\n").map((line) => line.trim()).filter(Boolean).join(" ");
      throw new SeedError(`Seeding ${what} failed: ${cause}; the next start completes it`);
    }
  }
  return { seeded };
}

/** Whether the seed's own move of `alias` on the model was ever made (its audit entry): the step that ends with it ran to the end. */
async function seedMoved(db: Db, modelId: string, alias: string): Promise<boolean> {
  const entry = await db.auditLog.findFirst({
    where: { action: "model.alias.set", actorKind: SEED.kind, actor: SEED.name, entityType: "model", entityId: modelId, after: { path: ["alias"], equals: alias } },
    select: { id: true },
  });
  return entry !== null;
}

/** Whether a step whose last write moves `alias` on the model has finished: the alias is set, or the seed once set it. */
async function stepDone(db: Db, model: { id: string } | null, alias: string): Promise<boolean> {
  if (!model) return false;
  if (await db.modelAlias.findUnique({ where: { modelId_name: { modelId: model.id, name: alias } }, select: { modelId: true } })) return true;
  return seedMoved(db, model.id, alias);
}

/** The model's version holding these artifact bytes (an interrupted run stored it), else a new one (createVersion). */
async function ensureVersion(db: Db, input: NewVersion & { sha256?: string }): Promise<{ id: string; version: number }> {
  const sha256 = input.sha256 ?? createHash("sha256").update(input.bytes).digest("hex");
  const stored = await db.modelVersion.findUnique({ where: { modelId_sha256: { modelId: input.modelId, sha256 } }, select: { id: true, version: true } });
  if (stored) return stored;
  return createVersion(db, input);
}

/** Points `alias` at the version unless the alias is set already. */
async function ensureAlias(db: Db, modelId: string, versionId: string, alias: string): Promise<void> {
  if (await db.modelAlias.findUnique({ where: { modelId_name: { modelId, name: alias } }, select: { modelId: true } })) return;
  await setAlias(db, { versionId, alias, actor: SEED, reason: "demo seed" });
}

/** The model named `name`, created with `data` when an interrupted run did not. */
async function ensureModel(db: Db, name: string, data: { owner: string; description: string; surfaceId?: string }): Promise<{ id: string }> {
  return db.model.upsert({ where: { name }, create: { name, ...data }, update: {}, select: { id: true } });
}

/**
 * The demo cascade (issue 16): "product-search" ranks every candidate with search-ranker production
 * (stage 1, tabular, 50 ms) and rescores the top 20 against the query with the demo cross-encoder
 * (stage 2, 150 ms); server/rerank/stage2.ts.
 */
async function seedCascadeSurface(db: Db, log: (line: string) => void): Promise<boolean> {
  if (await db.surface.findUnique({ where: { key: DEMO_CASCADE_SURFACE } })) return false;
  const ranker = await db.model.findUnique({ where: { name: "search-ranker" }, select: { id: true } });
  if (!ranker || !(await db.model.findUnique({ where: { name: DEMO_CASCADE_STAGE2.model } }))) return false;
  await db.$transaction(async (tx) => {
    await tx.surface.create({
      data: {
        key: DEMO_CASCADE_SURFACE, name: "Product search (cascade)", description: "search-ranker over every candidate, then the demo cross-encoder over the top 20 against the query.",
        modelId: ranker.id, modelAlias: "production", fallbackAlias: "fallback", timeoutMs: 50, defaultTopK: 20,
        constraints: { blockedFlags: [...DEMO_BLOCKED_FLAGS] }, stage2: DEMO_CASCADE_STAGE2,
      },
    });
    // Its stage 2 has a history row from the start, as one configured later would.
    await recordStage2Change(tx, { surface: DEMO_CASCADE_SURFACE, before: null, next: DEMO_CASCADE_STAGE2, actor: SEED, reason: "demo seed" });
  });
  log(`seeded the demo cascade ${DEMO_CASCADE_SURFACE}: search-ranker production, then ${DEMO_CASCADE_STAGE2.model} over the top ${DEMO_CASCADE_STAGE2.rerankCount}`);
  return true;
}

/**
 * The demo text surface: the committed demo cross-encoder (models/text/demo-cross-encoder) stored in
 * the registry as any uploaded bundle is (checked, then kept as its tar), its production alias
 * serving "product-qa" with a 200 ms scoring budget; the fallback is request order.
 */
async function seedTextSurface(db: Db, log: (line: string) => void): Promise<boolean> {
  const existing = await db.model.findUnique({ where: { name: DEMO_CROSS_ENCODER_NAME }, select: { id: true } });
  if (await stepDone(db, existing, "production")) return false;
  const checked = await validateCrossEncoderArchive(bundleToArchive(await readCrossEncoderBundle(DEMO_CROSS_ENCODER_DIR)), env().MODEL_MAX_BYTES);
  const card = JSON.parse(readFileSync(`${DEMO_CROSS_ENCODER_DIR}/card.json`, "utf8")) as { architecture: string; training: Record<string, unknown>; evaluation: { crossEncoder: number; retrievalOrder: number } };
  const surface = await db.surface.upsert({
    where: { key: DEMO_TEXT_SURFACE },
    create: {
      key: DEMO_TEXT_SURFACE, name: "Product Q&A (text)", description: "Reranks product texts for a free-text question with a cross-encoder (POST /v2/rerank, Cohere's shape).",
      timeoutMs: 200, defaultTopK: 10, sloLatencyP99Ms: 250,
    },
    update: {},
  });
  const model = await ensureModel(db, DEMO_CROSS_ENCODER_NAME, { owner: "ml@rerank.local", description: `Demo cross-encoder: ${card.architecture}`, surfaceId: surface.id });
  const version = await ensureVersion(db, {
    modelId: model.id, bytes: checked.bytes, sha256: checked.validated.sha256, featureSpec: [], format: "cross-encoder", validated: checked.validated, source: "demo", actor: SEED,
    metadata: { crossEncoder: checked.summary, notes: "models/text/train_cross_encoder.py; model card models/text/demo-cross-encoder/card.json", hyperparameters: card.training },
    metrics: { "ndcg@10": card.evaluation.crossEncoder, "ndcg@10_retrieval_order": card.evaluation.retrievalOrder },
  });
  // The surface names its alias first, so that the move's history row and audit entry name the surface it reaches.
  await db.surface.update({ where: { id: surface.id }, data: { modelId: model.id, modelAlias: "production" } });
  await setAlias(db, { versionId: version.id, alias: "production", actor: SEED, reason: "demo seed" });
  log(`${existing ? "completed the half-seeded" : "seeded the"} demo text surface ${DEMO_TEXT_SURFACE}: ${DEMO_CROSS_ENCODER_NAME} v${version.version} (production)`);
  return true;
}

/** v3 of the demo ranker, a candidate under the "shadow" alias, mirrored on a quarter of search traffic. */
async function seedShadowCandidate(db: Db, log: (line: string) => void): Promise<boolean> {
  const model = await db.model.findUnique({ where: { name: "search-ranker" }, include: { versions: { select: { id: true, version: true, sha256: true } } } });
  if (!model || (await stepDone(db, model, "shadow"))) return false;
  const bytes = readFileSync(DEMO_MODELS.candidate.file);
  // A version the seed did not make: someone has worked on this ranker since; the candidate is not imposed on it.
  const demo = new Set([DEMO_MODELS.popularity.file, DEMO_MODELS.linear.file, DEMO_MODELS.candidate.file].map((file) => createHash("sha256").update(readFileSync(file)).digest("hex")));
  if (model.versions.some((v) => !demo.has(v.sha256))) return false;
  const linear = createHash("sha256").update(readFileSync(DEMO_MODELS.linear.file)).digest("hex");
  const v2 = model.versions.find((v) => v.sha256 === linear);
  const v3 = await ensureVersion(db, {
    modelId: model.id, bytes, featureSpec: demoFeatureSpec(), source: "demo", actor: SEED, parentVersionId: v2?.id,
    metadata: { notes: "candidate: more weight on rating and margin, less on popularity", weights: DEMO_MODELS.candidate.weights },
  });
  await db.surface.update({ where: { key: "search" }, data: { shadowAlias: "shadow", shadowSampleRate: 0.25 } });
  await setAlias(db, { versionId: v3.id, alias: "shadow", actor: SEED, reason: "demo seed" });
  log(`seeded search-ranker v${v3.version} as the search surface's shadow (25 % of requests mirrored)`);
  return true;
}

/** The rankers `npm run models:train` wrote for the LETOR sample, with their model cards' metrics. */
async function seedLetorModels(db: Db, log: (line: string) => void): Promise<boolean> {
  let seeded = false;
  for (const [name, file, description] of [
    ["letor-lambdamart", "lambdamart", "LambdaMART (100 trees, 31 leaves) trained in TypeScript on the LETOR sample"],
    ["letor-linear", "linear", "Linear ranker trained in TypeScript on the LETOR sample"],
  ] as const) {
    // Each model is its own step: an earlier run may have stopped between them.
    if (await stepDone(db, await db.model.findUnique({ where: { name }, select: { id: true } }), "production")) continue;
    let card: { features: { names: string[] }; hyperparameters: unknown; trainingSeconds: number; data: unknown; offlineMetrics: { ndcg: Record<string, number>; mrr: number } };
    let bytes: Buffer;
    try {
      card = JSON.parse(readFileSync(`models/letor/${file}.card.json`, "utf8"));
      bytes = readFileSync(`models/letor/${file}.onnx`);
    } catch {
      continue; // not trained in this checkout
    }
    const model = await ensureModel(db, name, { owner: "ml@rerank.local", description });
    const metrics = { ...Object.fromEntries(Object.entries(card.offlineMetrics.ndcg).map(([k, v]) => [`ndcg${k}`, v])), mrr: card.offlineMetrics.mrr };
    const version = await ensureVersion(db, {
      modelId: model.id, bytes, source: `trained-${file}`, actor: SEED, metrics,
      featureSpec: card.features.names.map((f) => ({ name: f, source: "candidate" as const, type: "float" as const, default: 0 })),
      metadata: { trainingData: JSON.stringify(card.data), hyperparameters: card.hyperparameters as Record<string, unknown>, trainingSeconds: card.trainingSeconds, notes: "npm run models:train" },
    });
    await setAlias(db, { versionId: version.id, alias: "production", actor: SEED, reason: "demo seed" });
    seeded = true;
  }
  if (seeded) log("seeded the LETOR-trained models letor-lambdamart and letor-linear");
  return seeded;
}

async function seedCatalog(db: Db, log: (line: string) => void): Promise<boolean> {
  if (await db.surface.findUnique({ where: { key: "search" } })) return false;
  const items = demoCatalog();
  await db.$transaction(
    async (tx) => {
      await tx.catalogItem.createMany({
        data: items.map(({ id, title, category, brand, price, providerGroup, safetyFlags }) => ({
          id, title, category, brand, price, providerGroup, safetyFlags,
        })),
      });
      await tx.itemFeature.createMany({ data: items.map((item) => ({ itemId: item.id, values: item.features })) });
      await tx.surface.create({
        data: {
          key: "search",
          name: "Search results",
          description: "Reranks the top retrieval candidates for a text query.",
          timeoutMs: 30,
          defaultTopK: 20,
          constraints: {
            blockedFlags: [...DEMO_BLOCKED_FLAGS],
            maxPerCategory: { limit: 4, withinTop: 10 },
            exposureFloors: [{ field: "providerGroup", group: "marketplace-small", minShare: 0.2, withinTop: 10 }],
          },
        },
      });
      await tx.surface.create({
        data: {
          key: "home-feed",
          name: "Home feed",
          description: "Orders the personalised home feed.",
          timeoutMs: 40,
          defaultTopK: 30,
          constraints: { blockedFlags: [...DEMO_BLOCKED_FLAGS], diversity: { lambda: 0.7, field: "category" } },
        },
      });
      await recordAudit(tx, { action: "seed.demo", actor: SEED, subject: subjects.system("demo", "demo data"), after: { items: items.length } });
    },
    { timeout: 60_000 },
  );
  log(`seeded demo data: ${items.length} catalog items, 2 surfaces`);
  return true;
}

/** The demo ranker: v1 (popularity, the cascade fallback) and v2 (linear, production). */
async function seedModels(db: Db, log: (line: string) => void): Promise<boolean> {
  const existing = await db.model.findUnique({ where: { name: "search-ranker" }, select: { id: true } });
  if (await stepDone(db, existing, "fallback")) return false;
  const search = await db.surface.findUniqueOrThrow({ where: { key: "search" } });
  const model = await ensureModel(db, "search-ranker", {
    owner: "ml@rerank.local", description: "Demo linear reranker over retrieval, popularity, CTR, rating, price, freshness and margin.", surfaceId: search.id,
  });
  const featureSpec = demoFeatureSpec();
  const v1 = await ensureVersion(db, {
    modelId: model.id, bytes: readFileSync(DEMO_MODELS.popularity.file), featureSpec, source: "demo", actor: SEED,
    metadata: { notes: "popularity and retrieval score only; light and robust", weights: DEMO_MODELS.popularity.weights },
  });
  const v2 = await ensureVersion(db, {
    modelId: model.id, bytes: readFileSync(DEMO_MODELS.linear.file), featureSpec, source: "demo", actor: SEED, parentVersionId: v1.id,
    metadata: { notes: "hand-set linear weights over all seven demo features", weights: DEMO_MODELS.linear.weights },
  });
  // The surfaces name the aliases first, so that each move's history row and audit entry name the surfaces it reaches.
  await db.surface.updateMany({ where: { key: { in: ["search", "home-feed"] } }, data: { modelId: model.id, modelAlias: "production", fallbackAlias: "fallback" } });
  await ensureAlias(db, model.id, v2.id, "production");
  // Last: this move is the step's "done" marker (stepDone).
  await setAlias(db, { versionId: v1.id, alias: "fallback", actor: SEED, reason: "demo seed" });
  log(`${existing ? "completed the half-seeded" : "seeded"} demo model search-ranker: v${v1.version} (fallback), v${v2.version} (production)`);
  return true;
}
