import { z } from "zod";
import { sampleCandidates } from "../catalog/service";
import { procedureFor, router } from "../trpc";
import { int32, text } from "../validation";

export const catalogRouter = router({
  sample: procedureFor["console.read"]
    .input(z.strictObject({ query: text(200).optional(), count: int32(1, 1000).default(50), includeBlocked: z.boolean().default(false) }))
    .query(({ ctx, input }) => sampleCandidates(ctx.db, input)),
});
