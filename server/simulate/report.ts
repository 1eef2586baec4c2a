import type { TrafficStats, TrafficSummary } from "./traffic";

// What the simulator prints: a one-line progress bar on a terminal (redrawn at most every 100 ms,
// or a plain line every 10 s when the output is not a terminal), and the final totals.

export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** One progress line: the bar shrinks to fit `columns`. */
export function formatProgress(stats: TrafficStats, columns = 100): string {
  const share = stats.plannedRequests > 0 ? Math.min(1, stats.requests / stats.plannedRequests) : 1;
  const seconds = stats.elapsedMs / 1000;
  const rate = seconds > 0 ? stats.requests / seconds : 0;
  const left = rate > 0 ? Math.max(0, (stats.plannedRequests - stats.requests) / rate) : NaN;
  const text = [
    `${String(Math.round(share * 100)).padStart(3)}% ${fmt(stats.requests)}/${fmt(stats.plannedRequests)} requests`,
    `${fmt(stats.events.sent)} events`,
    `${fmt(stats.errors)} errors`,
    `${rate.toFixed(1)}/s`,
    ...(Number.isFinite(left) ? [`${Math.ceil(left)}s left`] : []),
  ].join(" · ");
  const width = Math.max(8, Math.min(30, columns - 1 - text.length - 3));
  const filled = Math.round(share * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${text}`;
}

export function createProgressBar(output: ProgressOutput, options: { intervalMs?: number } = {}) {
  const tty = output.isTTY === true;
  const interval = options.intervalMs ?? (tty ? 100 : 10_000);
  let last = -Infinity;
  let latest: TrafficStats | null = null;
  let drawn = false;
  const draw = (stats: TrafficStats) => {
    if (tty) {
      const columns = output.columns || 100;
      output.write(`\r${formatProgress(stats, columns).slice(0, columns - 1)}\x1b[K`);
    } else output.write(`${formatProgress(stats)}\n`);
    drawn = true;
  };
  return {
    update(stats: TrafficStats) {
      latest = stats;
      const now = performance.now();
      if (now - last >= interval) {
        last = now;
        draw(stats);
      }
    },
    /** Draws the final state and ends the line. */
    stop() {
      if (latest) draw(latest);
      if (tty && drawn) output.write("\n");
    },
    /** Prints a message above the bar. */
    log(message: string) {
      if (tty && drawn) output.write("\r\x1b[K");
      output.write(`${message}\n`);
      if (tty && latest) draw(latest);
    },
  };
}

const pct = (num: number, den: number) => (den > 0 ? `${((100 * num) / den).toFixed(2)}%` : "–");

export function formatSummary(summary: TrafficSummary): string {
  const lines = [
    `sent ${summary.requests} rerank requests in ${(summary.elapsedMs / 1000).toFixed(1)} s (${summary.responses} answered, ${summary.fallbacks} by a fallback), ` +
      `${summary.events.sent} events (${summary.events.accepted} accepted, ${summary.events.duplicates} duplicates, ${summary.events.rejected} rejected), ${summary.errors} errors`,
  ];
  if (summary.stoppedBecause) lines.push(`stopped early: ${summary.stoppedBecause}`);
  const rows = Object.entries(summary.variants).sort(([a], [b]) => a.localeCompare(b));
  if (rows.length > 0) {
    const width = Math.max(7, ...rows.map(([k]) => k.length));
    lines.push(`${"variant".padEnd(width)}  ${"requests".padStart(8)}  ${"impr.".padStart(8)}  ${"clicks".padStart(7)}  ${"CTR".padStart(7)}  ${"purchases".padStart(9)}  ${"revenue".padStart(10)}`);
    for (const [key, v] of rows) {
      lines.push(`${key.padEnd(width)}  ${String(v.requests).padStart(8)}  ${String(v.impressions).padStart(8)}  ${String(v.clicks).padStart(7)}  ${pct(v.clicks, v.impressions).padStart(7)}  ${String(v.purchases).padStart(9)}  ${v.revenue.toFixed(2).padStart(10)}`);
    }
  }
  for (const il of summary.interleaving) {
    const wins = Object.entries(il.wins).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(", ");
    lines.push(`interleaving ${il.experiment}: wins ${wins || "none yet"}; ${il.ties} ties, ${il.noClicks} requests without clicks`);
  }
  if (rows.length === 1 && rows[0]![0] === "(no experiment)") {
    lines.push("no experiment answered on this surface: start one in the console (Experiments) to compare two models.");
  }
  return lines.join("\n");
}
