import { getHealth } from "../system/health";
import { publicProcedure, router } from "../trpc";

export const systemRouter = router({
  health: publicProcedure.query(({ ctx }) => getHealth(ctx.db, { withModels: ctx.principal !== null })),
});
