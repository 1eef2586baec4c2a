// On-call's "recent fallbacks": a few requests that fell back, each a link to the Debug page. Once
// five model errors open the circuit, every request after them falls back as circuit_open, so the
// newest few are all circuit_open and the errors that opened it (the requests worth opening) were
// never linked. The examples are chosen per reason instead, the causes first.

/**
 * Fallback reasons that follow from an earlier decision rather than a fault of the request itself:
 * the open circuit (tripped by earlier model errors or timeouts) and the kill switch (a person's
 * press). Their requests show what serving did, not why.
 */
export const FOLLOW_ON_FALLBACK_REASONS: readonly string[] = ["circuit_open", "kill_switch"];

/** A logged fallback: when (ts), and why (the request log's fallback_reason; null on rows that never said). */
export interface FallbackExample {
  ts: Date;
  fallbackReason: string | null;
}

/**
 * Picks at most `limit` fallbacks from `rows` in turns: the newest of each reason first, a cause
 * before a follow-on (FOLLOW_ON_FALLBACK_REASONS) and then the newer first; then the second newest
 * of each, and so on. So three links after a circuit opened are the newest model error, the newest
 * timeout and the newest circuit_open, not three circuit_open.
 * @param rows fallbacks in any order (a reader passes each reason's newest `limit`: no more are needed).
 * @param limit how many to return, ≥ 0.
 * @returns the picked rows, newest first (rows of one ts in the order picked).
 */
export function fallbacksWorthOpening<T extends FallbackExample>(rows: readonly T[], limit: number): T[] {
  const byReason = new Map<string | null, T[]>();
  for (const row of rows) byReason.set(row.fallbackReason, [...(byReason.get(row.fallbackReason) ?? []), row]);
  const queues = [...byReason.values()].map((q) => [...q].sort((a, b) => b.ts.getTime() - a.ts.getTime()));
  const followOn = (row: T) => (row.fallbackReason !== null && FOLLOW_ON_FALLBACK_REASONS.includes(row.fallbackReason) ? 1 : 0);
  const picked: T[] = [];
  for (let turn = 0; picked.length < limit && queues.some((q) => q.length > turn); turn++) {
    const round = queues.filter((q) => q.length > turn).map((q) => q[turn]!);
    round.sort((a, b) => followOn(a) - followOn(b) || b.ts.getTime() - a.ts.getTime());
    picked.push(...round.slice(0, limit - picked.length));
  }
  return picked.sort((a, b) => b.ts.getTime() - a.ts.getTime());
}
