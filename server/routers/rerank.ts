import { rerank } from "../rerank/pipeline";
import { rerankRequestSchema } from "../rerank/schema";
import { publicProcedure, router } from "../trpc";

export const rerankRouter = router({
  rank: publicProcedure.input(rerankRequestSchema).mutation(({ input }) => rerank(input)),
});
