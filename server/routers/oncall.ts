import { z } from "zod";
import { oncallOverview, oncallSeries, recentChanges, rollbackSurface, setKillSwitch } from "../oncall/service";
import { appliedHere } from "../surfaces/configCache";
import { expectFromVersionIdSchema } from "../registry/schema";
import { procedureFor, router } from "../trpc";
import { decimal, idString, int32, reasonSchema } from "../validation";

const surfaceKey = idString();
const hours = decimal(0.25, 24 * 7).default(1);
// On-call levers always say why: the reason is what the next person reads in the audit trail.
const reason = reasonSchema;

export const oncallRouter = router({
  overview: procedureFor["console.read"].input(z.strictObject({ hours })).query(({ ctx, input }) => oncallOverview(ctx.db, input)),
  series: procedureFor["console.read"].input(z.strictObject({ surface: surfaceKey, hours })).query(({ ctx, input }) => oncallSeries(ctx.db, input)),
  changes: procedureFor["console.read"].input(z.strictObject({ limit: int32(1, 100).default(15) })).query(({ ctx, input }) => recentChanges(ctx.db, input)),
  killSwitch: procedureFor["oncall.killSwitch"]
    .input(z.strictObject({ surface: surfaceKey, on: z.boolean(), reason }))
    .mutation(({ ctx, input }) => appliedHere(setKillSwitch(ctx.db, input, ctx.actor), { surface: input.surface })),
  rollback: procedureFor["oncall.rollback"]
    .input(z.strictObject({ surface: surfaceKey, reason, stage: z.literal([1, 2], { message: "1 (the serving alias) or 2 (the alias a cascade's stage 2 rescores with)" }).optional(), expectVersionId: idString().optional(), expectFromVersionId: expectFromVersionIdSchema, expectAlias: z.strictObject({ model: idString(), alias: idString() }).optional(), toVersion: int32(1).optional() }))
    .mutation(({ ctx, input }) => appliedHere(rollbackSurface(ctx.db, input, ctx.actor), { surface: input.surface })),
});
