import { outcomeBatchSchema } from "../events/schema";
import { recordOutcomes } from "../events/service";
import { publicProcedure, router } from "../trpc";

export const eventsRouter = router({
  record: publicProcedure.input(outcomeBatchSchema).mutation(({ input }) => recordOutcomes(input)),
});
