import { auditFacets, exportAuditCsv, listAudit } from "../audit/service";
import { auditFilterSchema, auditListSchema } from "../audit/schema";
import { procedureFor, router } from "../trpc";

export const auditRouter = router({
  list: procedureFor["audit.read"].input(auditListSchema).query(({ ctx, input }) => listAudit(ctx.db, input)),
  facets: procedureFor["audit.read"].query(({ ctx }) => auditFacets(ctx.db)),
  export: procedureFor["audit.read"].input(auditFilterSchema).query(({ ctx, input }) => exportAuditCsv(ctx.db, input)),
});
