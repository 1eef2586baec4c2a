import { z } from "zod";
import { modelHistory, servingAt, surfaceHistory } from "../history/service";
import { modelNameSchema } from "../registry/schema";
import { procedureFor, router } from "../trpc";
import { bigintIdText, idString, int32, timestamp } from "../validation";

const surfaceKey = idString();
const limit = int32(1, 500).default(100);

export const historyRouter = router({
  /** A surface's promotion history, newest first (a page: `older` is the next page's before/beforeId), with its stints of distinct versions and rollback choices. */
  surface: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey, limit, before: timestamp({ message: "give a date and time" }).optional(), beforeId: bigintIdText("a history row's id").optional() }))
    .query(({ ctx, input }) => surfaceHistory(ctx.db, input)),
  model: procedureFor["console.read"]
    .input(z.strictObject({ model: modelNameSchema, alias: idString().optional(), limit }))
    .query(({ ctx, input }) => modelHistory(ctx.db, input)),
  /** What served on a surface at a time: "what was serving at 14:02 yesterday". */
  servingAt: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey, at: timestamp({ message: "give a date and time" }) }))
    .query(({ ctx, input }) => servingAt(ctx.db, input)),
});
