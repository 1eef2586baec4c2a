import { z } from "zod";
import { sampleCandidates } from "../catalog/service";
import { procedureFor, router } from "../trpc";

export const catalogRouter = router({
  sample: procedureFor["console.read"]
    .input(z.strictObject({ query: z.string().max(200).optional(), count: z.number().int().min(1).max(1000).default(50), includeBlocked: z.boolean().default(false) }))
    .query(({ ctx, input }) => sampleCandidates(ctx.db, input)),
});
