import { stringify } from "csv-stringify/sync";
import type { Db } from "../db/client";
import type { Prisma } from "../db/generated/client";
import { AUDIT_ACTIONS, AUDIT_ACTION_NAMES, isAuditAction, SESSION_ACTIONS } from "../domain/audit/actions";
import { describeAuditEntry, type AuditDescription } from "../domain/audit/describe";
import type { AuditFilter } from "./schema";

// Reading the audit trail: a page of entries newest first (cursor on the id, which only grows),
// each with its sentence; the filter's values; and the CSV export of a filter.

/** Most rows one CSV export carries; the file says when it stopped there. */
export const EXPORT_MAX_ROWS = 50_000;

export interface AuditRow {
  id: string;
  ts: Date;
  actor: { kind: string; id: string | null; name: string };
  requestId: string | null;
  clientAddress: string | null;
  action: string;
  /** The action's short title ("Alias moved"), or the raw name for an action this build does not know. */
  title: string;
  subject: { kind: string; id: string; label: string };
  surfaces: string[];
  before: unknown;
  after: unknown;
  reason: string | null;
  description: AuditDescription;
}

/**
 * What a reader may see: `people` (those who manage people) read the sign-in entries (SESSION_ACTIONS)
 * and every entry's client address; other readers get neither (a colleague's comings and goings and
 * address are not every reader's business).
 */
export interface AuditReader {
  people: boolean;
}

function whereOf(filter: AuditFilter, reader: AuditReader): Prisma.AuditLogWhereInput {
  const hidden = reader.people ? [] : [...SESSION_ACTIONS];
  return {
    ...(filter.actor ? { actor: filter.actor } : {}),
    ...(filter.action || hidden.length > 0 ? { action: { ...(filter.action ? { equals: filter.action } : {}), ...(hidden.length > 0 ? { notIn: hidden } : {}) } } : {}),
    ...(filter.surface ? { surfaceKeys: { has: filter.surface } } : {}),
    ...(filter.from || filter.to ? { ts: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
  };
}

type LogRow = Prisma.AuditLogGetPayload<object>;

/** A stored entry as the console shows it: the actor and subject as objects, and the entry in words. */
export function auditRowOf(r: LogRow): AuditRow {
  const entry = {
    action: r.action,
    actor: { kind: r.actorKind as string, id: r.actorId, name: r.actor },
    subject: { kind: r.entityType, id: r.entityId, label: r.subjectLabel },
    surfaces: r.surfaceKeys,
    before: r.before,
    after: r.after,
    reason: r.reason,
  };
  return {
    ...entry, id: r.id.toString(), ts: r.ts, requestId: r.requestId, clientAddress: r.clientAddress,
    title: isAuditAction(r.action) ? AUDIT_ACTIONS[r.action].title : r.action, description: describeAuditEntry(entry),
  };
}

/** A page of entries matching `filter`, newest first; `nextCursor` is null on the last page. */
export async function listAudit(db: Db, input: { filter: AuditFilter; cursor?: string; limit: number }, reader: AuditReader): Promise<{ entries: AuditRow[]; nextCursor: string | null }> {
  const rows = await db.auditLog.findMany({
    where: { ...whereOf(input.filter, reader), ...(input.cursor ? { id: { lt: BigInt(input.cursor) } } : {}) },
    orderBy: { id: "desc" },
    take: input.limit + 1,
  });
  const page = rows.slice(0, input.limit);
  const entries = page.map(auditRowOf).map((entry) => (reader.people ? entry : { ...entry, clientAddress: null }));
  return { entries, nextCursor: rows.length > input.limit ? page.at(-1)!.id.toString() : null };
}

/** What the filters offer: the actors who have entries, every action, and the surfaces. */
export async function auditFacets(db: Db, reader: AuditReader) {
  const [actors, surfaces] = await Promise.all([
    db.auditLog.groupBy({ by: ["actor", "actorKind"], where: whereOf({}, reader), orderBy: { actor: "asc" }, take: 500 }),
    db.surface.findMany({ select: { key: true, name: true }, orderBy: { key: "asc" } }),
  ]);
  return {
    actors: actors.map((a) => ({ name: a.actor, kind: a.actorKind as string })),
    actions: AUDIT_ACTION_NAMES.filter((name) => reader.people || !SESSION_ACTIONS.includes(name)).map((name) => ({ name, title: AUDIT_ACTIONS[name].title })),
    surfaces,
  };
}

export const CSV_COLUMNS = [
  "id", "time", "actor", "actor kind", "actor id", "action", "subject kind", "subject id", "subject", "surfaces",
  "what happened", "reason", "changes", "before", "after", "request id", "client address",
] as const;

function csvRecord(r: AuditRow): string[] {
  const changes = r.description.details.map((d) => `${d.field}: ${d.before ?? "—"} → ${d.after ?? "—"}`).join("; ");
  return [
    r.id, r.ts.toISOString(), r.actor.name, r.actor.kind, r.actor.id ?? "", r.action, r.subject.kind, r.subject.id, r.subject.label, r.surfaces.join(" "),
    r.description.text, r.reason ?? "", changes, r.before == null ? "" : JSON.stringify(r.before), r.after == null ? "" : JSON.stringify(r.after),
    r.requestId ?? "", r.clientAddress ?? "",
  ];
}

/**
 * The entries matching `filter` as CSV (RFC 4180: CRLF line ends, fields with commas, quotes or
 * line breaks quoted, quotes doubled). A cell that a spreadsheet would run as a formula (starting
 * with = + - @, a tab or a carriage return) gets a leading apostrophe. At most EXPORT_MAX_ROWS rows.
 */
export async function exportAuditCsv(db: Db, filter: AuditFilter, reader: AuditReader): Promise<{ csv: string; rows: number; truncated: boolean }> {
  const records: string[][] = [];
  let cursor: string | undefined;
  let truncated = false;
  for (;;) {
    const page = await listAudit(db, { filter, cursor, limit: 1000 }, reader);
    for (const entry of page.entries) records.push(csvRecord(entry));
    if (!page.nextCursor) break;
    if (records.length >= EXPORT_MAX_ROWS) {
      truncated = true;
      break;
    }
    cursor = page.nextCursor;
  }
  const csv = stringify(records.slice(0, EXPORT_MAX_ROWS), { header: true, columns: [...CSV_COLUMNS], record_delimiter: "windows", escape_formulas: true });
  return { csv, rows: Math.min(records.length, EXPORT_MAX_ROWS), truncated };
}
