// Service-level objectives for on-call: how fast each surface is spending its error budget.
// Burn rate = (bad share over a window) / (1 − objective): 1 spends the budget exactly over the
// SLO period; the thresholds are the Google SRE Workbook's for a 30-day period (chapter 5,
// "Alerting on SLOs", multiwindow multi-burn-rate alerts): 14.4 over 1 h spends 2 % of the budget
// (page), 6 over 6 h spends 5 % (page), 3 over 1 day spends 10 % (ticket), 1 over 3 days spends
// 10 % (ticket: table 5-8's last row, the slow leak the 1-day rule misses). Each long window has a
// short window (1/12 of it) that must burn as fast too, so an alert stops soon after the burn does.
// The same rules are written for Prometheus in deploy/prometheus/alerts.yml (a test keeps them equal).

export const FAST_BURN = 14.4;
export const SLOW_BURN = 6;

/** Decimals the error budget is rounded to (errorBudget) and significant digits a burn rate is rounded to (burnRate). */
const BUDGET_DECIMALS = 12;
const BURN_DIGITS = 12;

/**
 * Why an objective leaves no error budget to burn, or null when it leaves one: it must be within
 * (0, 1), and 1 − objective must not round to 0 at 12 decimals. A surface's slo_availability is
 * settable by SQL (no CHECK): the On-call page shows this note on that surface's card alone.
 */
export function objectiveProblem(objective: number): string | null {
  if (objective === 1) return "objective 100 %: no error budget";
  if (!(objective > 0 && objective < 1)) return `objective must be within (0, 1), got ${objective}`;
  if (Math.round((1 - objective) * 10 ** BUDGET_DECIMALS) === 0) return `objective ${objective} leaves no error budget at ${BUDGET_DECIMALS} decimals`;
  return null;
}

/**
 * The error budget of an objective, 1 − objective, rounded to 12 decimals: in binary 1 − 0.999 is
 * 0.0010000000000000009 and 1 − 0.99999 is 1.0000000000065512e-5; rounded, they are the budgets the
 * objectives mean (0.001, 0.00001). Throws RangeError (objectiveProblem's words) when there is none.
 */
export function errorBudget(objective: number): number {
  const problem = objectiveProblem(objective);
  if (problem) throw new RangeError(problem);
  return Math.round((1 - objective) * 10 ** BUDGET_DECIMALS) / 10 ** BUDGET_DECIMALS;
}

/**
 * Burn rate of one SLI over one window: (bad / total) / errorBudget(objective), a plain number (1 =
 * the budget spent exactly over the SLO period); null without traffic.
 * Exact at the thresholds: the budget is rounded to 12 decimals (errorBudget) and the quotient to 12
 * significant digits, so 6 bad of 1,000 at 99.9 % is 6 (not 5.999999999999995) and pages, and 144 of
 * 10,000 is 14.4. A burn within 1e-12 (relative) of a threshold counts as on it.
 * Errors: RangeError when the objective leaves no budget (objectiveProblem) or bad is not within [0, total].
 */
export function burnRate(bad: number, total: number, objective: number): number | null {
  const budget = errorBudget(objective);
  if (!(total > 0)) return null;
  if (bad < 0 || bad > total) throw new RangeError(`bad (${bad}) must be within [0, total (${total})]`);
  return Number((bad / total / budget).toPrecision(BURN_DIGITS));
}

/** One window's counts of the availability SLI: requests logged, those a fallback served, and requests answered with a 5xx (never logged). */
export interface AvailabilityCounts {
  requests: number;
  fallbacks: number;
  errors: number;
}

/**
 * Burn rate of the availability SLI: bad = fallbacks + errors, total = logged requests + errors
 * (an error answer is a request the log never saw), as Prometheus computes it from
 * rerank_requests_total{outcome=~"fallback|error"} over all outcomes (deploy/prometheus/alerts.yml).
 * Null without traffic.
 */
export function availabilityBurnRate(counts: AvailabilityCounts, objective: number): number | null {
  return burnRate(counts.fallbacks + counts.errors, counts.requests + counts.errors, objective);
}

/**
 * Burn rate of the 5xx answers no surface can be charged with (surface="unattributed"): a
 * service-level ratio, bad = those answers, total = every request of every surface (`service`: all
 * logged requests, and all 5xx answers, the unattributed ones included), as Prometheus computes
 * surface:rerank_fallback:ratio_rate* for surface="unattributed" (deploy/prometheus/alerts.yml).
 * The series' own ratio would be 1 whatever the traffic (every one of its answers is an error), so
 * a single 5xx would page; against the whole service's traffic, one 5xx among thousands of requests
 * burns little, and an outage that fails every request still burns 1 / (1 − objective).
 * Null without traffic.
 */
export function unattributedBurnRate(unattributedErrors: number, service: Pick<AvailabilityCounts, "requests" | "errors">, objective: number): number | null {
  if (unattributedErrors > service.errors) throw new RangeError(`unattributed errors (${unattributedErrors}) must be within the service's errors (${service.errors})`);
  return burnRate(unattributedErrors, service.requests + service.errors, objective);
}

export type BurnLevel = "page" | "warn" | "ok" | "no_traffic";

/** What the two windows call for: page when the 1 h window burns ≥ 14.4 or the 6 h window ≥ 6; warn above 1. */
export function burnLevel(oneHour: number | null, sixHours: number | null): BurnLevel {
  if (oneHour === null && sixHours === null) return "no_traffic";
  if ((oneHour ?? 0) >= FAST_BURN || (sixHours ?? 0) >= SLOW_BURN) return "page";
  if ((oneHour ?? 0) > 1 || (sixHours ?? 0) > 1) return "warn";
  return "ok";
}

/** The windows the alert rules read, in seconds. */
export const BURN_WINDOWS = { "5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "6h": 21_600, "1d": 86_400, "3d": 259_200 } as const;
export type BurnWindow = keyof typeof BURN_WINDOWS;

export interface BurnAlertRule {
  /** Alert name suffix, e.g. "FastBurn" (RerankAvailabilityFastBurn in Prometheus). */
  name: string;
  severity: "page" | "ticket";
  /** Fires when both windows burn faster than this. */
  burnRate: number;
  longWindow: BurnWindow;
  shortWindow: BurnWindow;
  /** Share of a 30-day budget the long window spends at this rate: burnRate × long / 30 d. */
  budgetSpent: number;
}

/** The SRE Workbook's multiwindow, multi-burn-rate alerts for a 30-day SLO period (table 5-8). */
export const BURN_ALERT_RULES: readonly BurnAlertRule[] = [
  { name: "FastBurn", severity: "page", burnRate: 14.4, longWindow: "1h", shortWindow: "5m", budgetSpent: 0.02 },
  { name: "SlowBurn", severity: "page", burnRate: 6, longWindow: "6h", shortWindow: "30m", budgetSpent: 0.05 },
  { name: "BudgetBurn", severity: "ticket", burnRate: 3, longWindow: "1d", shortWindow: "2h", budgetSpent: 0.1 },
  { name: "LongBudgetBurn", severity: "ticket", burnRate: 1, longWindow: "3d", shortWindow: "6h", budgetSpent: 0.1 },
];

export interface FiringBurnAlert extends BurnAlertRule {
  longBurn: number;
  shortBurn: number;
}

/**
 * The rules that fire for one SLI: both the long and the short window burn faster than the rule's
 * rate (strictly, as the Workbook's `>`). A window without traffic (null) never fires.
 * @param burns burn rate per window, from burnRate(); missing windows count as no traffic.
 * @returns the firing rules, pages first, each with the two burns that made it fire.
 */
export function firingBurnAlerts(burns: Partial<Record<BurnWindow, number | null>>): FiringBurnAlert[] {
  const firing: FiringBurnAlert[] = [];
  for (const rule of BURN_ALERT_RULES) {
    const longBurn = burns[rule.longWindow] ?? null;
    const shortBurn = burns[rule.shortWindow] ?? null;
    if (longBurn !== null && shortBurn !== null && longBurn > rule.burnRate && shortBurn > rule.burnRate) firing.push({ ...rule, longBurn, shortBurn });
  }
  return firing;
}

/** The SLIs on-call watches: availability (served by the model, not a fallback nor an error) and latency (within the surface's p99 target). */
export const SLIS = ["availability", "latency"] as const;
export type Sli = (typeof SLIS)[number];

/** The Prometheus alert of a rule for an SLI, e.g. RerankAvailabilityFastBurn (deploy/prometheus/alerts.yml). */
export const burnAlertName = (sli: Sli, rule: Pick<BurnAlertRule, "name">) => `Rerank${sli === "availability" ? "Availability" : "Latency"}${rule.name}`;
