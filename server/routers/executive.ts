import { z } from "zod";
import { executiveOverview } from "../executive/service";
import { procedureFor, router } from "../trpc";
import { int32 } from "../validation";

export const executiveRouter = router({
  overview: procedureFor["console.read"].input(z.strictObject({ days: int32(1, 90).default(7) })).query(({ ctx, input }) => executiveOverview(ctx.db, input)),
});
