import { z } from "zod";
import { AUDIT_ACTION_NAMES, type AuditAction } from "../domain/audit/actions";

// The Audit page's filter, shared by the list, the CSV export and the export's GET route.

export const auditFilterSchema = z
  .strictObject({
    /** The actor's name, exactly (a person's email, a key's name, a system job's name). */
    actor: z.string().trim().min(1).max(200).optional(),
    action: z.enum(AUDIT_ACTION_NAMES as [AuditAction, ...AuditAction[]]).optional(),
    surface: z.string().trim().min(1).max(100).optional(),
    /** Entries at or after `from` and before `to`. */
    from: z.coerce.date().optional(),
    to: z.coerce.date().optional(),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { message: "from must be before to", path: ["from"] });

export type AuditFilter = z.infer<typeof auditFilterSchema>;

export const auditListSchema = z.strictObject({
  filter: auditFilterSchema.default({}),
  /** The id of the last entry of the previous page: the next page starts below it. */
  cursor: z.string().regex(/^\d{1,19}$/, "an entry id").optional(),
  limit: z.number().int().min(1).max(200).default(50),
  /** Sent by tRPC's infinite queries; pages only go towards older entries. */
  direction: z.enum(["forward", "backward"]).optional(),
});
