import { getDb } from "../db/client";
import { featureStore } from "../features/store";
import { openModel } from "../inference/sessions";
import { surfaceConfigs } from "../surfaces/configCache";
import { closeTelemetry } from "../telemetry/streams";
import { shutdownTracing } from "../telemetry/tracing";

/**
 * At server start: load the catalog into the feature cache and open the sessions of every
 * surface's models, so the first requests neither wait for the database nor for onnxruntime.
 * Failures are logged and left to the request path's fallback.
 */
export async function warmServing(log: (line: string) => void = console.log): Promise<void> {
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

/** Flushes telemetry on shutdown; whatever cannot be written goes to the spill file. */
export function flushTelemetryOnExit(): void {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      void Promise.allSettled([closeTelemetry(), shutdownTracing()]).finally(() => process.exit(0));
    });
  }
}
