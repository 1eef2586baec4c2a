import type { Prisma } from "./generated/client";

// How long a lever's interactive transaction may run and wait. Prisma's defaults (5 s to run, 2 s to
// get a connection) made the kill switch answer 503 "the database is unavailable" while it only
// queued for a row lock behind another press or a judge (lever break test, finding 4), and shadow and
// stage 2 presses the same behind a held surface row (re-break). One constant for every lever — people
// and keys, on-call, rollouts, approvals, experiments, aliases, shadow, stage 2, webhooks —, so none of
// them gives up sooner than the others (server/db/leverTransaction.test.ts finds any that does not).

/**
 * Options for `db.$transaction(fn, LEVER_TRANSACTION)` of a lever: `timeout` 60 s, the longest the
 * transaction may run (a rollback opens its target under the model's lock: seconds for a large
 * model; a press may queue behind the judge's step); `maxWait` 10 s, the longest it may wait for a
 * pooled connection (ten presses at once on a small pool).
 */
export const LEVER_TRANSACTION = { timeout: 60_000, maxWait: 10_000 } as const;

/**
 * A check a caller runs inside a lever's own transaction, after the lever's locks and before its
 * writes (approvals' guard of a direct change: requireApproval read again after the lever's waits).
 * `reached`: for an alias move, every surface the alias reaches, with its roles, read under the
 * model's lock (the reach may have grown since the caller read it). Throws to refuse; the
 * transaction then writes nothing.
 */
export type UnderLock = (tx: Prisma.TransactionClient, reached?: ReadonlyArray<{ key: string; requireApproval: boolean; roles: readonly string[] }>) => Promise<void>;
