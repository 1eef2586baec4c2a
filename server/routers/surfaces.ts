import { z } from "zod";
import { getSurface, listSurfaces } from "../surfaces/service";
import { procedureFor, router } from "../trpc";
import { idString } from "../validation";

export const surfacesRouter = router({
  list: procedureFor["console.read"].query(({ ctx }) => listSurfaces(ctx.db)),
  get: procedureFor["console.read"]
    .input(z.strictObject({ key: idString() }))
    .query(({ ctx, input }) => getSurface(ctx.db, input.key)),
});
