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
