import { z } from "zod";
import { executiveOverview } from "../executive/service";
import { procedureFor, router } from "../trpc";

export const executiveRouter = router({
  overview: procedureFor["console.read"].input(z.strictObject({ days: z.number().int().min(1).max(90).default(7) })).query(({ ctx, input }) => executiveOverview(ctx.db, input)),
});
