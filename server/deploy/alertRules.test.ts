import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BURN_ALERT_RULES, BURN_WINDOWS, SLIS, burnAlertName, burnRate, firingBurnAlerts, type Sli } from "../domain/stats/slo";
import { UNATTRIBUTED_SURFACE } from "../telemetry/errorTally";

// deploy/prometheus/alerts.yml must say what server/domain/stats/slo.ts says: the same rules, rates,
// windows and objectives, so that Prometheus pages when the On-call page shows an alert. promtool
// (npm run deploy:check) runs the rules on synthetic series; this test checks the arithmetic.

interface Rule { record?: string; alert?: string; expr: string; labels?: Record<string, string> }
const file = parse(readFileSync(path.join(process.cwd(), "deploy", "prometheus", "alerts.yml"), "utf8")) as { groups: Array<{ name: string; rules: Rule[] }> };
const rules = file.groups.flatMap((g) => g.rules);
const RECORDED: Record<Sli, string> = { availability: "rerank_fallback", latency: "rerank_slow" };
// The objectives the Prometheus rules assume: the surfaces' defaults (prisma/schema.prisma).
const OBJECTIVE: Record<Sli, number> = { availability: 0.999, latency: 0.99 };

/** `surface:X:ratio_rate1h > (14.4 * 0.001)` → the window and the bad-share threshold. */
function conditions(expr: string) {
  return [...expr.matchAll(/surface:(\w+):ratio_rate(\w+) > \(([\d.]+) \* ([\d.]+)\)/g)].map((m) => ({ recorded: m[1]!, window: m[2]!, rate: Number(m[3]), budget: Number(m[4]) }));
}

describe("deploy/prometheus/alerts.yml", () => {
  it("records the bad share of both SLIs over every window the rules read", () => {
    for (const window of Object.keys(BURN_WINDOWS)) {
      // Per surface, the unattributed 5xx left out (they have a ratio of their own, below).
      const fallback = rules.find((r) => r.record === `surface:rerank_fallback:ratio_rate${window}` && !r.labels);
      expect(fallback?.expr).toContain(`sum by (surface) (rate(rerank_requests_total{surface!="unattributed",outcome=~"fallback|error"}[${window}]))`);
      expect(fallback?.expr).toContain(`sum by (surface) (rate(rerank_requests_total{surface!="unattributed"}[${window}]))`);
      const slow = rules.find((r) => r.record === `surface:rerank_slow:ratio_rate${window}`);
      // Over each surface's own p99 target (rerank_requests_slow_total), of the logged requests (no 5xx), as the On-call page counts.
      expect(slow?.expr.replace(/\s+/g, " ").trim()).toBe(
        `sum by (surface) (rate(rerank_requests_slow_total[${window}])) / sum by (surface) (rate(rerank_requests_total{surface!="unattributed",outcome=~"model|fallback"}[${window}]))`,
      );
    }
  });

  it("records the unattributed 5xx as a service-level ratio (unattributedBurnRate): over every request of every surface, under surface=\"unattributed\"", () => {
    for (const window of Object.keys(BURN_WINDOWS)) {
      const unattributed = rules.filter((r) => r.record === `surface:rerank_fallback:ratio_rate${window}` && r.labels);
      expect(unattributed).toHaveLength(1);
      expect(unattributed[0]!.labels).toEqual({ surface: UNATTRIBUTED_SURFACE });
      expect(unattributed[0]!.expr.replace(/\s+/g, " ").trim()).toBe(
        `sum(rate(rerank_requests_total{surface="${UNATTRIBUTED_SURFACE}",outcome="error"}[${window}])) / sum(rate(rerank_requests_total[${window}]))`,
      );
    }
  });

  it("has one alert per SLI and rule of server/domain/stats/slo.ts, with its rate, windows and severity", () => {
    const alerts = file.groups.find((g) => g.name === "rerank-slo-burn-alerts")!.rules.filter((r) => r.alert);
    expect(alerts.map((a) => a.alert).sort()).toEqual(SLIS.flatMap((sli) => BURN_ALERT_RULES.map((rule) => burnAlertName(sli, rule))).sort());
    for (const sli of SLIS) {
      for (const rule of BURN_ALERT_RULES) {
        const alert = alerts.find((a) => a.alert === burnAlertName(sli, rule))!;
        expect(alert.labels).toMatchObject({ severity: rule.severity, sli, burn_rate: String(rule.burnRate), long_window: rule.longWindow, short_window: rule.shortWindow });
        expect(conditions(alert.expr)).toEqual([
          { recorded: RECORDED[sli], window: rule.longWindow, rate: rule.burnRate, budget: expect.closeTo(1 - OBJECTIVE[sli], 12) },
          { recorded: RECORDED[sli], window: rule.shortWindow, rate: rule.burnRate, budget: expect.closeTo(1 - OBJECTIVE[sli], 12) },
        ]);
        expect(alert.expr).toMatch(/\)\s+and\s+surface:/);
      }
    }
  });

  it("fires exactly when the in-app rules fire, on the same counts", () => {
    // Bad shares around every threshold, per window: Prometheus compares the bad share with
    // rate × budget; the app compares burnRate() with rate. They must agree on every case.
    const total = 100_000;
    const shares = [0, 0.0005, 0.0029, 0.0031, 0.0059, 0.0061, 0.0143, 0.0145, 0.03, 0.05, 0.2];
    for (const sli of SLIS) {
      for (const long of shares) {
        for (const short of shares) {
          for (const rule of BURN_ALERT_RULES) {
            const alert = rules.find((r) => r.alert === burnAlertName(sli, rule))!;
            const promFires = conditions(alert.expr).every((c) => (c.window === rule.longWindow ? long : short) > c.rate * c.budget);
            const burns = { [rule.longWindow]: burnRate(long * total, total, OBJECTIVE[sli]), [rule.shortWindow]: burnRate(short * total, total, OBJECTIVE[sli]) };
            const appFires = firingBurnAlerts(burns).some((a) => a.name === rule.name);
            expect(appFires, `${burnAlertName(sli, rule)} at ${long} / ${short}`).toBe(promFires);
          }
        }
      }
    }
  });
});
