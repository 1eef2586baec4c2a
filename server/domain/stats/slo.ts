// Service-level objectives for on-call: how fast each surface is spending its error budget.
// Burn rate = (bad share over a window) / (1 − objective): 1 spends the budget exactly over the
// SLO period; the multiwindow thresholds are the Google SRE Workbook's for a 30-day period
// (14.4 over 1 h spends 2 % of the budget: page; 6 over 6 h spends 5 %: page; 1 over 3 days: ticket).

export const FAST_BURN = 14.4;
export const SLOW_BURN = 6;

/** Burn rate of one SLI over one window; null without traffic. */
export function burnRate(bad: number, total: number, objective: number): number | null {
  if (!(objective > 0 && objective < 1)) throw new RangeError(`objective must be within (0, 1), got ${objective}`);
  if (!(total > 0)) return null;
  if (bad < 0 || bad > total) throw new RangeError(`bad (${bad}) must be within [0, total (${total})]`);
  return bad / total / (1 - objective);
}

export type BurnLevel = "page" | "warn" | "ok" | "no_traffic";

/** What the two windows call for: page when the 1 h window burns ≥ 14.4 or the 6 h window ≥ 6; warn above 1. */
export function burnLevel(oneHour: number | null, sixHours: number | null): BurnLevel {
  if (oneHour === null && sixHours === null) return "no_traffic";
  if ((oneHour ?? 0) >= FAST_BURN || (sixHours ?? 0) >= SLOW_BURN) return "page";
  if ((oneHour ?? 0) > 1 || (sixHours ?? 0) > 1) return "warn";
  return "ok";
}
