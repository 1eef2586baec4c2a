import { z } from "zod";
import { AUDIT_ACTION_NAMES, type AuditAction } from "../domain/audit/actions";
import { bigintIdText, int32, text, timestamp } from "../validation";

// The Audit page's filter, shared by the list, the CSV export and the export's GET route.

export const auditFilterSchema = z
  .strictObject({
    /** The actor's name, exactly (a person's email, a key's name, a system job's name). */
    actor: text(200).trim().min(1, "must not be empty").optional(),
    action: z.enum(AUDIT_ACTION_NAMES as [AuditAction, ...AuditAction[]]).optional(),
    surface: text(100).trim().min(1, "must not be empty").optional(),
    /** Entries at or after `from` and before `to`. */
    from: timestamp().optional(),
    to: timestamp().optional(),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { message: "from must be before to", path: ["from"] });

export type AuditFilter = z.infer<typeof auditFilterSchema>;

export const auditListSchema = z.strictObject({
  filter: auditFilterSchema.default({}),
  /** The id of the last entry of the previous page: the next page starts below it. */
  // An int8 id: at most 2^63 − 1, or PostgreSQL refuses the comparison.
  cursor: bigintIdText("an entry id").optional(),
  limit: int32(1, 200).default(50),
  /** Sent by tRPC's infinite queries; pages only go towards older entries. */
  direction: z.enum(["forward", "backward"]).optional(),
});
