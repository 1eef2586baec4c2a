import type pg from "pg";

/** A statement run in a COPY batch's transaction (a name: prepared once per connection). */
export interface CopyStatement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** The statements of one transaction around a COPY of the batch's data. */
export interface CopySteps {
  /** Run first, after BEGIN (e.g. CREATE TEMP TABLE … ON COMMIT DROP). */
  before?: CopyStatement[];
  /** `COPY <table> (<columns>) FROM STDIN` (text format). */
  copy: string;
  /** Run after the COPY, before COMMIT (e.g. rollups, or INSERT … SELECT from a staging table). */
  after?: CopyStatement[];
}

/**
 * One batch for COPY: its data in COPY's text format (server/domain/copyText.ts: one line per row,
 * each ending in "\n"), the transaction to run, and the one to run instead when that one meets a
 * unique violation (SQLSTATE 23505: rows already held, a replay): typically a staging table and
 * INSERT … ON CONFLICT DO NOTHING.
 */
export interface CopyBatch extends CopySteps {
  data: string;
  fallback?: CopySteps;
}

/** Which transaction committed: the direct one, or the fallback after a unique violation. */
export interface CopyBatchResult {
  path: "direct" | "fallback";
}

/** Runs a batch on a connection of `pool` (a lone COPY when there are no statements before or after it); rejects with PostgreSQL's error (`code`: SQLSTATE) after a ROLLBACK of its transaction (none for a lone COPY, which ended its own). */
export function runCopyBatch(pool: Pick<pg.Pool, "connect">, batch: CopyBatch): Promise<CopyBatchResult>;
