import { Prisma } from "../db/generated/client";
import { AUDIT_ACTIONS, type AuditAction, type AuditChanges, type SubjectKindOf } from "../domain/audit/actions";
import { ForbiddenError } from "../errors";
import type { AuditSubject } from "../domain/audit/subject";
import type { Actor } from "./actor";

// The one writer of the audit trail. Call it inside the transaction that makes the change, so the
// change and its entry commit together or not at all. The table refuses UPDATE, DELETE and
// TRUNCATE (a trigger), so an entry, once committed, stays as written.

type Writer = Pick<Prisma.TransactionClient, "auditLog" | "$queryRaw">;

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

/**
 * Actions whose actor is not re-checked here: those on a person or a key — signing in and out and
 * changing one's own password (the person's own session, or nobody yet), and the levers over people
 * and keys, which lock the active admins and check their caller under that lock first
 * (server/auth/users.ts lockAsActiveAdmin), a stronger check than this one.
 */
const ACTOR_CHECKED_ELSEWHERE = (action: AuditAction) => AUDIT_ACTIONS[action].subject === "user" || AUDIT_ACTIONS[action].subject === "api_key";

/**
 * Checks, in the entry's transaction, that a person or key acting is still allowed to act at all: the
 * person not disabled; the key not revoked, not expired, its creator not disabled. Its caller was
 * checked when the request arrived, but a lever may wait up to a minute for a row lock (another press,
 * a canary judge, a model opening), and a disable or revocation that committed meanwhile must not let
 * it finish with the old rights (break test: a disabled admin turned four-eyes approval off, a
 * disabled on-call person pressed the kill switch). The rows are read FOR SHARE: a disable that starts
 * after this waits for the change to commit, so every change is before or after it, never astride.
 * An actor without a row id (a system job; tests' stand-ins) is not checked.
 * @throws ForbiddenError("you have been disabled: nothing was changed", or the key's words): the
 *   transaction rolls back, so nothing of the change commits.
 */
export async function assertActorActive(tx: Pick<Writer, "$queryRaw">, actor: Actor): Promise<void> {
  if (!actor.id || (actor.kind !== "user" && actor.kind !== "api_key")) return;
  if (actor.kind === "user") {
    const rows = await tx.$queryRaw<Array<{ disabled: boolean }>>`SELECT disabled FROM users WHERE id = ${actor.id} FOR SHARE`;
    if (!rows[0] || rows[0].disabled) throw new ForbiddenError("you have been disabled: nothing was changed");
    return;
  }
  const rows = await tx.$queryRaw<Array<{ revoked: boolean; expired: boolean; disabled: boolean }>>`
    SELECT k.revoked_at IS NOT NULL AS revoked, coalesce(k.expires_at <= now(), false) AS expired, u.disabled
    FROM api_keys k JOIN users u ON u.id = k.created_by_id WHERE k.id = ${actor.id} FOR SHARE OF k, u`;
  const key = rows[0];
  if (!key || key.revoked) throw new ForbiddenError("this API key has been revoked: nothing was changed");
  if (key.expired) throw new ForbiddenError("this API key has expired: nothing was changed");
  if (key.disabled) throw new ForbiddenError("this API key's creator has been disabled: nothing was changed");
}

/**
 * Records one entry; returns its id. First checks that its person or key may still act
 * (assertActorActive), unless the action's lever checks that itself.
 * @throws ForbiddenError when the actor was disabled or revoked since its request was checked.
 */
export async function recordAudit<A extends AuditAction>(tx: Writer, entry: AuditEntry<A>): Promise<bigint> {
  if (!ACTOR_CHECKED_ELSEWHERE(entry.action)) await assertActorActive(tx, entry.actor);
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
