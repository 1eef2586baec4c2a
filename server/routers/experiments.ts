import { z } from "zod";
import { restartVariants, shipVariant, startVariants } from "../approvals/service";
import { planFromRecentTraffic } from "../experiments/plan";
import { experimentLiftOverTime } from "../experiments/liftOverTime";
import { experimentResults } from "../experiments/results";
import { experimentInputSchema, experimentUpdateSchema, METRICS, shownAllocationSchema, shownDecisionSchema, shownExperimentSchema, shownShipFields } from "../experiments/schema";
import {
  createExperiment, experimentOverlaps, getExperiment, listExperiments, stopExperiment, updateExperiment, variantShipTarget,
} from "../experiments/service";
import { expectFromVersionIdSchema } from "../registry/schema";
import { appliedHere } from "../surfaces/configCache";
import { procedureFor, router } from "../trpc";
import { decimal, idString, int32, reasonSchema, text } from "../validation";

const byKey = z.strictObject({ key: idString(63) });
/** An experiment and one of its phases (default: the current one). */
const byPhase = byKey.extend({ phase: int32(1).optional() });
/** A lifecycle change answers once the experiment's surface serves it here (appliedHere). */
const ofItsSurface = { surfaces: (experiment: { surface: { key: string } }) => [experiment.surface.key] };

export const experimentsRouter = router({
  list: procedureFor["console.read"].query(({ ctx }) => listExperiments(ctx.db)),
  get: procedureFor["console.read"].input(byKey).query(({ ctx, input }) => getExperiment(ctx.db, input.key)),
  results: procedureFor["console.read"].input(byPhase).query(({ ctx, input }) => experimentResults(ctx.db, input.key, { phase: input.phase })),
  /** The cumulative CTR lift over time: a read of its own (it passes over the phase's kept events), refreshed less often than results. */
  liftOverTime: procedureFor["console.read"]
    .input(byPhase.extend({ granularity: z.enum(["auto", "hourly", "daily"]).default("auto") }))
    .query(({ ctx, input }) => experimentLiftOverTime(ctx.db, input.key, { phase: input.phase, granularity: input.granularity })),
  /** Running experiments served before this one on its surface that share its units, in words. */
  overlaps: procedureFor["console.read"].input(byKey).query(({ ctx, input }) => experimentOverlaps(ctx.db, input.key)),
  /** The version a ship of `variant` moves production to (what it served in the current phase). */
  shipTarget: procedureFor["console.read"].input(byKey.extend({ variant: idString(63) })).query(({ ctx, input }) => variantShipTarget(ctx.db, input.key, input.variant)),
  plan: procedureFor["console.read"]
    .input(z.strictObject({ surface: idString(), minimumDetectableEffect: decimal(0, 10).positive(), weights: z.array(decimal(0, 1000)).min(2).max(8), analysisMode: z.enum(["sequential", "fixed", "bayesian"]).optional(), primaryMetric: z.enum(METRICS).optional() }))
    .query(({ ctx, input }) => planFromRecentTraffic(ctx.db, input)),
  create: procedureFor["experiments.write"].input(experimentInputSchema).mutation(({ ctx, input }) => createExperiment(ctx.db, input, ctx.actor)),
  /** `expectBefore`: the experiment as the form loaded it (a 409 when it changed since). */
  update: procedureFor["experiments.write"].input(experimentUpdateSchema).mutation(({ ctx, input: { expectBefore, ...definition } }) => updateExperiment(ctx.db, definition.key, definition, ctx.actor, { expectBefore })),
  /** `expectPhase`, `expectAllocation`, `expectDecision`: what the page showed (a 409 when it changed since). */
  start: procedureFor["experiments.write"]
    .input(byKey.extend({ reason: text(500).optional(), expectPhase: int32().optional(), expectAllocation: shownAllocationSchema.optional(), expectDecision: shownDecisionSchema.optional() }))
    .mutation(({ ctx, input }) => appliedHere(startVariants(ctx, input.key, input.reason, { expectPhase: input.expectPhase, expectAllocation: input.expectAllocation, expectDecision: input.expectDecision }), ofItsSurface)),
  stop: procedureFor["experiments.write"].input(byKey.extend({ reason: text(500).optional() })).mutation(({ ctx, input }) => appliedHere(stopExperiment(ctx.db, input.key, ctx.actor, input.reason), ofItsSurface)),
  restart: procedureFor["experiments.write"]
    // expectBefore: the experiment as the form loaded it (a 409 when it changed since).
    .input(z.strictObject({ experiment: experimentInputSchema, reason: text(500).optional(), expectBefore: shownExperimentSchema.optional() }))
    .mutation(({ ctx, input }) => appliedHere(restartVariants(ctx, { key: input.experiment.key, experiment: input.experiment, reason: input.reason, expectBefore: input.expectBefore }), ofItsSurface)),
  /** expectFromVersionId, expectVersionId, expectPhase, expectBlockers: what the ship dialog showed (a 409 when any changed since). */
  ship: procedureFor["experiments.ship"]
    .input(byKey.extend({ variant: idString(63), reason: reasonSchema, override: z.boolean().optional(), expectFromVersionId: expectFromVersionIdSchema, ...shownShipFields }))
    .mutation(({ ctx, input }) => appliedHere(shipVariant(ctx, input), { surfaces: (shipped) => shipped.surfaces })),
});
