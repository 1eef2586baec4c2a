import { auditFacets, exportAuditCsv, listAudit } from "../audit/service";
import { auditFilterSchema, auditListSchema } from "../audit/schema";
import { publicProcedure, router } from "../trpc";

export const auditRouter = router({
  list: publicProcedure.input(auditListSchema).query(({ ctx, input }) => listAudit(ctx.db, input)),
  facets: publicProcedure.query(({ ctx }) => auditFacets(ctx.db)),
  export: publicProcedure.input(auditFilterSchema).query(({ ctx, input }) => exportAuditCsv(ctx.db, input)),
});
