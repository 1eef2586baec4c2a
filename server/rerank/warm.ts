import { getDb } from "../db/client";
import { featureStore } from "../features/store";
import { openModel } from "../inference/sessions";
import { surfaceConfigs } from "../surfaces/configCache";

const holder = globalThis as unknown as { __rerankWarm?: Promise<void> };

/**
 * At server start: load the catalog into the feature cache and open the sessions of every
 * surface's models, so the first requests neither wait for the database nor for onnxruntime.
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
    const surfaces = await getDb().surface.findMany({ select: { key: true } });
    let models = 0;
    for (const { key } of surfaces) {
      const config = await surfaceConfigs().get(key);
      for (const ref of [config.primary, config.fallback, config.shadow]) {
        if (!ref) continue;
        await openModel(ref).then(() => models++, (e: Error) => log(`[rerank] model ${ref.alias} of ${key} not loaded: ${e.message}`));
      }
    }
    log(`[rerank] serving warm in ${Math.round(performance.now() - started)} ms: ${items} items cached, ${models} model sessions, ${surfaces.length} surfaces`);
  } catch (error) {
    log(`[rerank] warm-up skipped: ${(error as Error).message.split("\n")[0]}`);
  }
}
