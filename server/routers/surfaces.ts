import { z } from "zod";
import { getSurface, listSurfaces } from "../surfaces/service";
import { procedureFor, router } from "../trpc";

export const surfacesRouter = router({
  list: procedureFor["console.read"].query(({ ctx }) => listSurfaces(ctx.db)),
  get: procedureFor["console.read"]
    .input(z.strictObject({ key: z.string().min(1).max(100) }))
    .query(({ ctx, input }) => getSurface(ctx.db, input.key)),
});
