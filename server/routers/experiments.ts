import { listExperiments } from "../experiments/service";
import { publicProcedure, router } from "../trpc";

export const experimentsRouter = router({
  list: publicProcedure.query(({ ctx }) => listExperiments(ctx.db)),
});
