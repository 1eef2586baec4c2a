import { z } from "zod";
import { aliasNameSchema } from "../registry/schema";
import { appliedHere } from "../surfaces/configCache";
import { configureShadow, shadowComparison, shadowDisagreements, shadowOverview } from "../shadow/service";
import { procedureFor, router } from "../trpc";

const surfaceKey = z.string().min(1).max(100);
const hours = z.number().min(0.1).max(24 * 30).default(24);

export const shadowRouter = router({
  overview: procedureFor["console.read"]
    .input(z.strictObject({ surface: surfaceKey, hours, versionId: z.string().min(1).optional() }))
    .query(({ ctx, input }) => shadowOverview(ctx.db, input)),
  disagreements: procedureFor["requests.read"]
    .input(z.strictObject({ surface: surfaceKey, versionId: z.string().min(1), hours, limit: z.number().int().min(1).max(100).default(10) }))
    .query(({ ctx, input }) => shadowDisagreements(ctx.db, input)),
  comparison: procedureFor["requests.read"]
    .input(z.strictObject({ requestId: z.string().min(1).max(128), versionId: z.string().min(1).max(100) }))
    .query(({ ctx, input }) => shadowComparison(ctx.db, input)),
  configure: procedureFor["shadow.write"]
    .input(z.strictObject({ surface: surfaceKey, alias: aliasNameSchema.nullable(), sampleRate: z.number().min(0).max(1), reason: z.string().max(500).optional() }))
    .mutation(({ ctx, input }) => appliedHere(configureShadow(ctx.db, input, ctx.actor))),
});
