import { z } from "zod";
import { setStage2 } from "../approvals/service";
import { appliedHere } from "../surfaces/configCache";
import { getSurface, listSurfaces } from "../surfaces/service";
import { stage2ConfigSchema } from "../surfaces/stage2.schema";
import { procedureFor, router } from "../trpc";
import { idString, reasonSchema } from "../validation";

export const surfacesRouter = router({
  list: procedureFor["console.read"].query(({ ctx }) => listSurfaces(ctx.db)),
  get: procedureFor["console.read"]
    .input(z.strictObject({ key: idString() }))
    .query(({ ctx, input }) => getSurface(ctx.db, input.key)),
  /** Sets or removes stage 2 of the surface's cascade (null removes it); a change request where the surface requires approval. */
  configureStage2: procedureFor["models.write"]
    .input(z.strictObject({ surface: idString(), stage2: stage2ConfigSchema.nullable(), reason: reasonSchema }))
    .mutation(({ ctx, input }) => appliedHere(setStage2(ctx, input), { surface: input.surface })),
});
