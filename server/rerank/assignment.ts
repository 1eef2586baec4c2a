import { assignVariant } from "../domain/assignment/assign";
import { CONTEXT_ATTRIBUTES, type RerankRequest } from "./schema";
import type { ExperimentVariantConfig, RunningExperiment, SurfaceConfig } from "../surfaces/configCache";

// Experiment assignment on the serving path: no database call, GrowthBook's hashing over the
// running experiments cached with the surface config. The first experiment that enrols the request
// serves it; namespaces keep experiments on one surface from overlapping.

export interface ExperimentAssignment {
  experiment: RunningExperiment;
  variant: ExperimentVariantConfig;
}

/**
 * The request attributes targeting rules can use: context.attributes, then each of country, device,
 * locale and returning from its context field when that is given (an attribute of the same name
 * serves when it is not: rerankRequestSchema refuses the two with different values), and the
 * request's surface.
 */
export function requestAttributes(request: RerankRequest): Record<string, unknown> {
  const c = request.context ?? {};
  const attributes: Record<string, unknown> = { ...(c.attributes ?? {}) };
  for (const name of CONTEXT_ATTRIBUTES) if (c[name] !== undefined) attributes[name] = c[name];
  attributes.surface = request.surface;
  return attributes;
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
