import { z } from "zod";
import { modelHistory, servingAt, surfaceHistory } from "../history/service";
import { modelNameSchema } from "../registry/schema";
import { procedureFor, router } from "../trpc";

const surfaceKey = z.string().min(1).max(100);
const limit = z.number().int().min(1).max(500).default(100);

export const historyRouter = router({
  /** A surface's promotion history, newest first, with its stints of distinct versions and rollback choices. */
  surface: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey, limit, before: z.coerce.date().optional() }))
    .query(({ ctx, input }) => surfaceHistory(ctx.db, input)),
  model: procedureFor["console.read"]
    .input(z.strictObject({ model: modelNameSchema, alias: z.string().min(1).max(100).optional(), limit }))
    .query(({ ctx, input }) => modelHistory(ctx.db, input)),
  /** What served on a surface at a time: "what was serving at 14:02 yesterday". */
  servingAt: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey, at: z.coerce.date({ error: "give a date and time, e.g. 2026-11-28T14:02" }) }))
    .query(({ ctx, input }) => servingAt(ctx.db, input)),
});
