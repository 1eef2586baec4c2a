import { allowedSurfaces, callerOf } from "../auth/principal";
import { outcomeBatchSchema } from "../events/schema";
import { recordOutcomes } from "../events/service";
import { procedureFor, router } from "../trpc";

export const eventsRouter = router({
  record: procedureFor["events.write"].input(outcomeBatchSchema).mutation(({ ctx, input }) => recordOutcomes(input, allowedSurfaces(ctx.principal), callerOf(ctx.principal))),
});
