import type { Db } from "./client";
import { readFileSync } from "node:fs";
import { DEMO_BLOCKED_FLAGS, demoCatalog } from "../demo/catalog";
import { DEMO_MODELS, demoFeatureSpec } from "../demo/models";
import { createVersion, setAlias } from "../registry/versions";
import { DEMO_CASCADE_STAGE2, DEMO_CASCADE_SURFACE } from "../demo/cascade";
import { DEMO_CROSS_ENCODER_DIR, DEMO_CROSS_ENCODER_NAME, DEMO_TEXT_SURFACE } from "../demo/crossEncoder";
import { bundleToArchive, readCrossEncoderBundle } from "../inference/crossEncoder/bundle";
import { validateCrossEncoderArchive } from "../registry/validateCrossEncoder";
import { env } from "../config";
import { systemActor } from "../audit/actor";
import { recordAudit } from "../audit/record";
import { subjects } from "../domain/audit/subject";
import { recordStage2Change } from "../surfaces/stage2";

/** The demo seed acts as a system job of its own name. */
const SEED = systemActor("seed");

// Demo data, written once: a second run finds the marker rows and does nothing.


export async function seedDemo(db: Db, log: (line: string) => void = () => {}): Promise<{ seeded: boolean }> {
  const catalog = await seedCatalog(db, log);
  const models = await seedModels(db, log);
  const letor = await seedLetorModels(db, log);
  const shadow = await seedShadowCandidate(db, log);
  const text = await seedTextSurface(db, log);
  const cascade = await seedCascadeSurface(db, log);
  return { seeded: catalog || models || letor || shadow || text || cascade };
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
  if (await db.model.findUnique({ where: { name: DEMO_CROSS_ENCODER_NAME } })) return false;
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
  const model = await db.model.create({
    data: { name: DEMO_CROSS_ENCODER_NAME, owner: "ml@rerank.local", description: `Demo cross-encoder: ${card.architecture}`, surfaceId: surface.id },
  });
  const version = await createVersion(db, {
    modelId: model.id, bytes: checked.bytes, featureSpec: [], format: "cross-encoder", validated: checked.validated, source: "demo", actor: SEED,
    metadata: { crossEncoder: checked.summary, notes: "models/text/train_cross_encoder.py; model card models/text/demo-cross-encoder/card.json", hyperparameters: card.training },
    metrics: { "ndcg@10": card.evaluation.crossEncoder, "ndcg@10_retrieval_order": card.evaluation.retrievalOrder },
  });
  // The surface names its alias first, so that the move's history row and audit entry name the surface it reaches.
  await db.surface.update({ where: { id: surface.id }, data: { modelId: model.id, modelAlias: "production" } });
  await setAlias(db, { versionId: version.id, alias: "production", actor: SEED, reason: "demo seed" });
  log(`seeded the demo text surface ${DEMO_TEXT_SURFACE}: ${DEMO_CROSS_ENCODER_NAME} v1 (production)`);
  return true;
}

/** v3 of the demo ranker, a candidate under the "shadow" alias, mirrored on a quarter of search traffic. */
async function seedShadowCandidate(db: Db, log: (line: string) => void): Promise<boolean> {
  const model = await db.model.findUnique({ where: { name: "search-ranker" }, include: { versions: { select: { id: true, version: true } } } });
  if (!model || model.versions.some((v) => v.version >= 3)) return false;
  const v2 = model.versions.find((v) => v.version === 2);
  const v3 = await createVersion(db, {
    modelId: model.id, bytes: readFileSync(DEMO_MODELS.candidate.file), featureSpec: demoFeatureSpec(), source: "demo", actor: SEED, parentVersionId: v2?.id,
    metadata: { notes: "candidate: more weight on rating and margin, less on popularity", weights: DEMO_MODELS.candidate.weights },
  });
  await db.surface.update({ where: { key: "search" }, data: { shadowAlias: "shadow", shadowSampleRate: 0.25 } });
  await setAlias(db, { versionId: v3.id, alias: "shadow", actor: SEED, reason: "demo seed" });
  log("seeded search-ranker v3 as the search surface's shadow (25 % of requests mirrored)");
  return true;
}

/** The rankers `npm run models:train` wrote for the LETOR sample, with their model cards' metrics. */
async function seedLetorModels(db: Db, log: (line: string) => void): Promise<boolean> {
  if (await db.model.findUnique({ where: { name: "letor-lambdamart" } })) return false;
  let seeded = false;
  for (const [name, file, description] of [
    ["letor-lambdamart", "lambdamart", "LambdaMART (100 trees, 31 leaves) trained in TypeScript on the LETOR sample"],
    ["letor-linear", "linear", "Linear ranker trained in TypeScript on the LETOR sample"],
  ] as const) {
    let card: { features: { names: string[] }; hyperparameters: unknown; trainingSeconds: number; data: unknown; offlineMetrics: { ndcg: Record<string, number>; mrr: number } };
    let bytes: Buffer;
    try {
      card = JSON.parse(readFileSync(`models/letor/${file}.card.json`, "utf8"));
      bytes = readFileSync(`models/letor/${file}.onnx`);
    } catch {
      continue; // not trained in this checkout
    }
    const model = await db.model.create({ data: { name, owner: "ml@rerank.local", description } });
    const metrics = { ...Object.fromEntries(Object.entries(card.offlineMetrics.ndcg).map(([k, v]) => [`ndcg${k}`, v])), mrr: card.offlineMetrics.mrr };
    const version = await createVersion(db, {
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
  if (await db.model.findUnique({ where: { name: "search-ranker" } })) return false;
  const search = await db.surface.findUniqueOrThrow({ where: { key: "search" } });
  const model = await db.model.create({
    data: { name: "search-ranker", owner: "ml@rerank.local", description: "Demo linear reranker over retrieval, popularity, CTR, rating, price, freshness and margin.", surfaceId: search.id },
  });
  const featureSpec = demoFeatureSpec();
  const v1 = await createVersion(db, {
    modelId: model.id, bytes: readFileSync(DEMO_MODELS.popularity.file), featureSpec, source: "demo", actor: SEED,
    metadata: { notes: "popularity and retrieval score only; light and robust", weights: DEMO_MODELS.popularity.weights },
  });
  const v2 = await createVersion(db, {
    modelId: model.id, bytes: readFileSync(DEMO_MODELS.linear.file), featureSpec, source: "demo", actor: SEED, parentVersionId: v1.id,
    metadata: { notes: "hand-set linear weights over all seven demo features", weights: DEMO_MODELS.linear.weights },
  });
  // The surfaces name the aliases first, so that each move's history row and audit entry name the surfaces it reaches.
  await db.surface.updateMany({ where: { key: { in: ["search", "home-feed"] } }, data: { modelId: model.id, modelAlias: "production", fallbackAlias: "fallback" } });
  await setAlias(db, { versionId: v2.id, alias: "production", actor: SEED, reason: "demo seed" });
  await setAlias(db, { versionId: v1.id, alias: "fallback", actor: SEED, reason: "demo seed" });
  log("seeded demo model search-ranker: v1 (fallback), v2 (production)");
  return true;
}
