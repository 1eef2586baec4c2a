import { BURN_ALERT_RULES, FAST_BURN, SLOW_BURN, type BurnWindow } from "@/server/domain/stats/slo";
import { percentOfShare } from "@/server/domain/percent";

// How the On-call page writes burn rates, objectives and windows. Pure, so a unit test pins the
// figures on-call reads against the thresholds beside them.

/** Every rate a burn is compared with on the page: warn above 1, the badges' pages, the alert rules. */
const BURN_THRESHOLDS = [...new Set([1, FAST_BURN, SLOW_BURN, ...BURN_ALERT_RULES.map((r) => r.burnRate)])];

const side = (x: number, threshold: number) => Math.sign(x - threshold);

/**
 * A burn rate (a plain multiple of the budget rate, from burnRate()) as on-call reads it: two
 * decimals below 10, one below 1,000, none above; more when fewer would put the figure on or across
 * a threshold the burn is not on (14.45 is "14.45", not "14.4" beside "fires over 14.4×"; 5.999 is
 * "5.999", not "6.00"). "—" for null (no traffic, or no budget).
 */
export function formatBurn(burn: number | null): string {
  if (burn === null) return "—";
  let decimals = burn < 10 ? 2 : burn < 1000 ? 1 : 0;
  while (decimals < 12 && !BURN_THRESHOLDS.every((t) => side(Number(burn.toFixed(decimals)), t) === side(burn, t))) decimals++;
  return burn.toFixed(decimals);
}

/**
 * An objective (a fraction, 0.999) as a percentage with the digits it has: 99.9%, 99.95%, 99.999%,
 * 99.0% (at least one decimal; 12 significant digits, so 0.9995 × 100 = 99.94999999999999 is 99.95).
 */
export function formatObjective(objective: number): string {
  const percent = percentOfShare(objective);
  return `${Number.isInteger(percent) ? percent.toFixed(1) : String(percent)}%`;
}

/** The burn windows in words. */
export const WINDOW_WORDS: Record<BurnWindow, string> = { "5m": "5 min", "30m": "30 min", "1h": "1 h", "2h": "2 h", "6h": "6 h", "1d": "1 day", "3d": "3 days" };

/** The alert rules in a line: "page: 14.4× over 1 h and 5 min, … · ticket: 3× over 1 day and 2 h, …". */
export function describeBurnAlertRules(): string {
  return (["page", "ticket"] as const)
    .map((severity) => `${severity}: ${BURN_ALERT_RULES.filter((r) => r.severity === severity).map((r) => `${r.burnRate}× over ${WINDOW_WORDS[r.longWindow]} and ${WINDOW_WORDS[r.shortWindow]}`).join(", ")}`)
    .join(" · ");
}
