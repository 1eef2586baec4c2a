import { Prisma } from "../db/generated/client";
import type { AuditAction, AuditChanges, SubjectKindOf } from "../domain/audit/actions";
import type { AuditSubject } from "../domain/audit/subject";
import type { Actor } from "./actor";

// The one writer of the audit trail. Call it inside the transaction that makes the change, so the
// change and its entry commit together or not at all. The table refuses UPDATE, DELETE and
// TRUNCATE (a trigger), so an entry, once committed, stays as written.

type Writer = Pick<Prisma.TransactionClient, "auditLog">;

export interface AuditEntry<A extends AuditAction> {
  action: A;
  actor: Actor;
  subject: AuditSubject<SubjectKindOf<A>>;
  /** Surfaces the entry concerns (the subject's, or those an alias serves): the Audit page filters by them. */
  surfaces?: string[];
  before?: AuditChanges[A]["before"];
  after?: AuditChanges[A]["after"];
  reason?: string | null;
}

const json = (value: unknown) => (value === undefined || value === null ? Prisma.DbNull : (value as Prisma.InputJsonValue));

/** Records one entry; returns its id. */
export async function recordAudit<A extends AuditAction>(tx: Writer, entry: AuditEntry<A>): Promise<bigint> {
  const row = await tx.auditLog.create({
    data: {
      action: entry.action,
      actor: entry.actor.name,
      actorKind: entry.actor.kind,
      actorId: entry.actor.id,
      requestId: entry.actor.requestId ?? null,
      clientAddress: entry.actor.clientAddress ?? null,
      entityType: entry.subject.kind,
      entityId: entry.subject.id,
      subjectLabel: entry.subject.label,
      surfaceKeys: [...new Set(entry.surfaces ?? [])].sort(),
      before: json(entry.before),
      after: json(entry.after),
      reason: entry.reason ?? null,
    },
    select: { id: true },
  });
  return row.id;
}
