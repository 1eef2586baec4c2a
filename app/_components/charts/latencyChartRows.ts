// Pure helpers of LatencyChart: the rows it draws (a gap where a bucket had no traffic) and which
// marker lines carry a label (close markers share one merged label).

export interface LatencyRow {
  t: number;
  p95: number | null;
  p99: number | null;
  fallback: number | null;
}

/**
 * Chart rows from the series' buckets (ms since the epoch, sorted), with a row of nulls inside
 * every run of empty buckets, so each line breaks there instead of running straight across a
 * stretch with no traffic. The bucket is the smallest step between two points (5 minutes or an hour
 * as server/oncall/service.ts buckets them); a step over 1.5 buckets is a gap.
 */
export function rowsWithGaps(points: Array<{ t: number; p95: number; p99: number; fallbackRate: number }>): LatencyRow[] {
  const steps = points.slice(1).map((p, i) => p.t - points[i]!.t).filter((s) => s > 0);
  const bucket = steps.length > 0 ? Math.min(...steps) : Infinity;
  const rows: LatencyRow[] = [];
  points.forEach((p, i) => {
    const previous = points[i - 1];
    if (previous && p.t - previous.t > 1.5 * bucket) rows.push({ t: previous.t + bucket, p95: null, p99: null, fallback: null });
    rows.push({ t: p.t, p95: Math.round(p.p95 * 100) / 100, p99: Math.round(p.p99 * 100) / 100, fallback: Math.round(p.fallbackRate * 1000) / 10 });
  });
  return rows;
}

/**
 * The indexes of rows whose `key` has a value while both neighbours have none (or are missing): a
 * bucket with traffic between empty ones, or the window's only point. A line draws nothing there
 * (it needs two points), so the chart marks each with a dot.
 */
export function isolatedRows(rows: readonly LatencyRow[], key: "p95" | "p99" | "fallback"): Set<number> {
  const has = (i: number) => rows[i] !== undefined && rows[i]![key] !== null;
  return new Set(rows.flatMap((_, i) => (has(i) && !has(i - 1) && !has(i + 1) ? [i] : [])));
}

/**
 * The time axis's span: the whole window asked for (`window`: ms since the epoch), stretched to any
 * point or marker outside it (a bucket stamped at its end, a replica's fast clock). Without a window,
 * the data's own span. One point no longer sits alone in the middle of a domain of zero width.
 */
export function timeDomain(times: readonly number[], window?: { from: number; to: number }): [number, number] {
  const all = window ? [window.from, window.to, ...times] : [...times];
  return all.length > 0 ? [Math.min(...all), Math.max(...all)] : [0, 1];
}

/** Tick steps of the time axis, in minutes: the smallest that gives at most `count` ticks is taken. */
const TICK_MINUTES = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

/**
 * Ticks of the time axis over `domain` (ms since the epoch): whole multiples of a round step (5 min,
 * 10 min, 1 h …, in UTC minutes) inside it, at most `count`. The chart's own ticks marked only the
 * data's points: over a window with one point, one tick.
 */
export function timeTicks(domain: [number, number], count = 6): number[] {
  const span = domain[1] - domain[0];
  if (!(span > 0)) return [domain[0]];
  const minute = 60_000;
  const step = (TICK_MINUTES.find((m) => span / (m * minute) <= count) ?? Math.ceil(span / (count * 1440 * minute)) * 1440) * minute;
  const ticks: number[] = [];
  for (let t = Math.ceil(domain[0] / step) * step; t <= domain[1]; t += step) ticks.push(t);
  return ticks;
}

/**
 * Groups markers closer than `gap` ms to their group's newest (newest first): the newest marker of a
 * group carries one label for the group, oldest change first — "kill switch on → kill switch off"
 * for two, "a → … → z (n changes)" for more, so a label stays short — and the others draw their
 * line without one. `slot`: 0, 1, 0, … over the labelled markers, oldest first, for alternating
 * label heights (neighbouring labels never share a row).
 */
export function labelled<M extends { t: number; label: string }>(markers: M[], gap: number): Array<M & { showLabel: boolean; mergedLabel: string; slot: number }> {
  const newestFirst = [...markers].sort((a, b) => b.t - a.t);
  const groups: M[][] = [];
  for (const m of newestFirst) {
    const group = groups.at(-1);
    if (group && group[0]!.t - m.t < gap) group.push(m);
    else groups.push([m]);
  }
  const heads = groups.length;
  return groups.flatMap((group, g) => {
    const oldestFirst = [...group].reverse();
    const merged = oldestFirst.length <= 2 ? oldestFirst.map((m) => m.label).join(" → ") : `${oldestFirst[0]!.label} → … → ${oldestFirst.at(-1)!.label} (${oldestFirst.length} changes)`;
    return group.map((m, i) => ({ ...m, showLabel: i === 0, mergedLabel: i === 0 ? merged : m.label, slot: (heads - 1 - g) % 2 }));
  }).reverse();
}
