import { z } from "zod";
import { startRolloutSchema } from "../approvals/schema";
import { startCanary } from "../approvals/service";
import { appliedHere } from "../surfaces/configCache";
import { abortRollout, analyseRollouts, listRollouts } from "../rollouts/service";
import { procedureFor, router } from "../trpc";
import { idString, int32, reasonSchema } from "../validation";

const surfaceKey = idString();

export const rolloutsRouter = router({
  list: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey.optional(), limit: int32(1, 100).default(10) }))
    .query(({ ctx, input }) => listRollouts(ctx.db, input)),
  start: procedureFor["canary.start"].input(startRolloutSchema).mutation(({ ctx, input }) => appliedHere(startCanary(ctx, input))),
  abort: procedureFor["canary.abort"]
    .input(z.strictObject({ surface: surfaceKey, reason: reasonSchema }))
    .mutation(({ ctx, input }) => appliedHere(abortRollout(ctx.db, input, ctx.actor))),
  /** Runs the canary analysis now instead of waiting for the next tick. */
  analyse: procedureFor["canary.start"].mutation(({ ctx }) => appliedHere(analyseRollouts(ctx.db))),
});
