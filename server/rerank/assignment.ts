import { assignVariant } from "../domain/assignment/assign";
import type { RerankRequest } from "./schema";
import type { ExperimentVariantConfig, RunningExperiment, SurfaceConfig } from "../surfaces/configCache";

// Experiment assignment on the serving path: no database call, GrowthBook's hashing over the
// running experiments cached with the surface config. The first experiment that enrols the request
// serves it; namespaces keep experiments on one surface from overlapping.

export interface ExperimentAssignment {
  experiment: RunningExperiment;
  variant: ExperimentVariantConfig;
}

/** The request attributes targeting rules can use. */
export function requestAttributes(request: RerankRequest): Record<string, unknown> {
  const c = request.context ?? {};
  return { ...(c.attributes ?? {}), country: c.country, device: c.device, locale: c.locale, returning: c.returning, surface: request.surface };
}

export function assignExperiment(surface: SurfaceConfig, request: RerankRequest): ExperimentAssignment | null {
  if (surface.experiments.length === 0) return null;
  const ctx = { userKey: request.userKey, sessionKey: request.sessionKey, attributes: requestAttributes(request) };
  for (const experiment of surface.experiments) {
    const result = assignVariant(experiment, ctx);
    if (result.inExperiment) return { experiment, variant: experiment.variants[result.variantIndex]! };
  }
  return null;
}
