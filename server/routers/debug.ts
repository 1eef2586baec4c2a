import { z } from "zod";
import { featureHealth } from "../debug/featureHealth";
import { procedureFor, router } from "../trpc";

export const debugRouter = router({
  featureHealth: procedureFor["requests.read"]
    .input(z.strictObject({ surface: z.string().min(1).max(100), requests: z.number().int().min(10).max(20_000).default(2000) }))
    .query(({ ctx, input }) => featureHealth(ctx.db, input)),
});
