import { z } from "zod";
import { setStage2 } from "../approvals/service";
import { appliedHere } from "../surfaces/configCache";
import { getSurface, listSurfaces } from "../surfaces/service";
import { lastStage2Change } from "../surfaces/stage2";
import { stage2ConfigSchema } from "../surfaces/stage2.schema";
import { procedureFor, router } from "../trpc";
import { idString, reasonSchema } from "../validation";

export const surfacesRouter = router({
  list: procedureFor["console.read"].query(({ ctx }) => listSurfaces(ctx.db)),
  get: procedureFor["console.read"]
    .input(z.strictObject({ key: idString() }))
    .query(({ ctx, input }) => getSurface(ctx.db, input.key)),
  /** The newest audited change of the surface's stage 2 (what it was before: a restore undoes it), or null. */
  lastStage2Change: procedureFor["console.read"]
    .input(z.strictObject({ surface: idString() }))
    .query(({ ctx, input }) => lastStage2Change(ctx.db, input.surface)),
  /**
   * Sets or removes stage 2 of the surface's cascade (null removes it); a change request where the
   * surface requires approval. `expectBefore`: the stage 2 the page showed (a 409 if it changed since).
   */
  configureStage2: procedureFor["models.write"]
    .input(z.strictObject({ surface: idString(), stage2: stage2ConfigSchema.nullable(), reason: reasonSchema, expectBefore: stage2ConfigSchema.nullable().optional() }))
    .mutation(({ ctx, input }) => appliedHere(setStage2(ctx, input), { surface: input.surface })),
});
