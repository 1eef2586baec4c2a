import { z } from "zod";
import { appliedHere } from "../rerank/state";
import { abortRollout, analyseRollouts, listRollouts, startRollout } from "../rollouts/service";
import { procedureFor, router } from "../trpc";

const surfaceKey = z.string().min(1).max(100);

export const rolloutsRouter = router({
  list: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey.optional(), limit: z.number().int().min(1).max(100).default(10) }))
    .query(({ ctx, input }) => listRollouts(ctx.db, input)),
  start: procedureFor["canary.start"]
    .input(z.strictObject({
      surface: surfaceKey,
      version: z.number().int().min(1),
      steps: z.array(z.number()).min(1).max(10).optional(),
      minRequests: z.number().int().min(10).max(1_000_000).optional(),
      maxP99Increase: z.number().min(0).max(100).optional(),
      maxFallbackRateIncrease: z.number().min(0).max(1).optional(),
      reason: z.string().max(500).optional(),
    }))
    .mutation(({ ctx, input }) => appliedHere(startRollout(ctx.db, input, ctx.actor))),
  abort: procedureFor["canary.abort"]
    .input(z.strictObject({ surface: surfaceKey, reason: z.string().trim().min(3, "say why (at least 3 characters)").max(500) }))
    .mutation(({ ctx, input }) => appliedHere(abortRollout(ctx.db, input, ctx.actor))),
  /** Runs the canary analysis now instead of waiting for the next tick. */
  analyse: procedureFor["canary.start"].mutation(({ ctx }) => appliedHere(analyseRollouts(ctx.db))),
});
