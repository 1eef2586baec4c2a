import { z } from "zod";
import { aliasNameSchema } from "../registry/schema";
import { appliedHere } from "../surfaces/configCache";
import { configureShadow, shadowComparison, shadowDisagreements, shadowOverview } from "../shadow/service";
import { procedureFor, router } from "../trpc";
import { decimal, idString, int32, reasonSchema, text, timestamp } from "../validation";

const surfaceKey = idString();
const hours = decimal(0.1, 24 * 30).default(24);

export const shadowRouter = router({
  overview: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey, hours, versionId: idString().optional() }))
    .query(({ ctx, input }) => shadowOverview(ctx.db, input)),
  disagreements: procedureFor["requests.read"]
    .input(z.strictObject({ surface: surfaceKey, versionId: idString(), hours, limit: int32(1, 100).default(10) }))
    .query(({ ctx, input }) => shadowDisagreements(ctx.db, input)),
  comparison: procedureFor["requests.read"]
    .input(z.strictObject({ requestId: idString(128), versionId: idString(), ts: timestamp().optional(), owner: text(200).optional() }))
    .query(({ ctx, input }) => shadowComparison(ctx.db, input)),
  configure: procedureFor["shadow.write"]
    .input(
      z.strictObject({
        surface: surfaceKey, alias: aliasNameSchema.nullable(), sampleRate: decimal(0, 1), reason: reasonSchema.optional(),
        /** The mirroring the page showed (a 409 when it changed since). */
        expectBefore: z.strictObject({ alias: aliasNameSchema.nullable(), sampleRate: decimal(0, 1) }).optional(),
      }).superRefine((input, ctx) => {
        // Mirroring more than half the traffic doubles a large share of scoring: a production change, as the confirm dialog says.
        // Turning mirroring off (no alias) needs none, whatever rate is sent with it.
        if (input.alias !== null && input.sampleRate > 0.5 && input.reason === undefined) ctx.addIssue({ code: "custom", path: ["reason"], message: "say why (mirroring more than half of the traffic needs a reason)" });
      }),
    )
    .mutation(({ ctx, input }) => appliedHere(configureShadow(ctx.db, input, ctx.actor), { surface: input.surface })),
});
