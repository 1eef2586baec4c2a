import { assertSurfaceAllowed, callerOf } from "../auth/principal";
import { rerank } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { procedureFor, router } from "../trpc";

export const rerankRouter = router({
  rank: procedureFor["rerank.serve"].input(rerankRequestSchema).mutation(({ ctx, input }) => {
    assertSurfaceAllowed(ctx.principal, input.surface);
    return rerank(input, { caller: callerOf(ctx.principal) });
  }),
});
