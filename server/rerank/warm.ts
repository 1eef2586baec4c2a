import { getDb } from "../db/client";
import { featureStore } from "../features/store";
import { openWarm } from "../inference/sessions";
import { servedModelRefs, surfaceConfigs } from "../surfaces/configCache";

const holder = globalThis as unknown as { __rerankWarm?: Promise<void> };

/**
 * At server start: load the catalog into the feature cache and open the sessions of every
 * surface's models (servedModelRefs: cross-encoders on every thread of their pool), so the first
 * requests neither wait for the database nor for onnxruntime.
 * Failures are logged and left to the request path's fallback. Once per process: Next's
 * instrumentation (its own copy of this module) and the front door, which awaits it before it
 * listens (server/http/serverProcess.ts), share one run through globalThis.
 */
export function warmServing(log: (line: string) => void = console.log): Promise<void> {
  return (holder.__rerankWarm ??= runWarm(log));
}

async function runWarm(log: (line: string) => void): Promise<void> {
  const started = performance.now();
  try {
    const items = await featureStore().warm();
    const { models, surfaces } = await openServedModels(log);
    log(`[rerank] serving warm in ${Math.round(performance.now() - started)} ms: ${items} items cached, ${models} model sessions, ${surfaces} surfaces`);
  } catch (error) {
    log(`[rerank] warm-up skipped: ${(error as Error).message.split("\n")[0]}`);
  }
}

/**
 * Opens every model each surface may serve or mirror a request with (servedModelRefs: primary,
 * fallback, shadow, canary, stage 2, experiment arms; cross-encoders on every thread of their pool,
 * heavy tabular models on the scoring pool's threads: openWarm) and waits for them, however long
 * they take (reading a config waits at most MODEL_WARM_WAIT_MS): a cascade whose stage-2 model
 * opened in the background served its first requests in stage 1's order (its budget passed while
 * the bundle opened). A model that fails to open is logged and left to the request path's
 * fallback. Resolves to the models opened and the surfaces read.
 */
export async function openServedModels(log: (line: string) => void = console.log): Promise<{ models: number; surfaces: number }> {
  const surfaces = await getDb().surface.findMany({ select: { key: true } });
  let models = 0;
  for (const { key } of surfaces) {
    const config = await surfaceConfigs().get(key);
    for (const ref of servedModelRefs(config)) {
      await openWarm(ref).then(
        () => models++,
        (e: Error) => log(`[rerank] model ${ref.alias} of ${key} not loaded: ${e.message}`),
      );
    }
  }
  return { models, surfaces: surfaces.length };
}
