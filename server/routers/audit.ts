import { auditFacets, exportAuditCsv, listAudit, type AuditReader } from "../audit/service";
import { auditFilterSchema, auditListSchema } from "../audit/schema";
import { permissionsOfPrincipal } from "../auth/principal";
import { procedureFor, router, type Context } from "../trpc";

/** Sign-in entries and client addresses for those who manage people only (AuditReader). */
const readerOf = (ctx: Context): AuditReader => ({ people: ctx.principal ? permissionsOfPrincipal(ctx.principal).includes("users.manage") : false });

export const auditRouter = router({
  list: procedureFor["audit.read"].input(auditListSchema).query(({ ctx, input }) => listAudit(ctx.db, input, readerOf(ctx))),
  facets: procedureFor["audit.read"].query(({ ctx }) => auditFacets(ctx.db, readerOf(ctx))),
  export: procedureFor["audit.read"].input(auditFilterSchema).query(({ ctx, input }) => exportAuditCsv(ctx.db, input, readerOf(ctx))),
});
