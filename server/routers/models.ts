import { listModels } from "../registry/service";
import { publicProcedure, router } from "../trpc";

export const modelsRouter = router({
  list: publicProcedure.query(({ ctx }) => listModels(ctx.db)),
});
