import { z } from "zod";
import { getSurface, listSurfaces } from "../surfaces/service";
import { publicProcedure, router } from "../trpc";

export const surfacesRouter = router({
  list: publicProcedure.query(({ ctx }) => listSurfaces(ctx.db)),
  get: publicProcedure
    .input(z.strictObject({ key: z.string().min(1).max(100) }))
    .query(({ ctx, input }) => getSurface(ctx.db, input.key)),
});
