"use client";
import { Text } from "@mantine/core";
import { useElementSize } from "@mantine/hooks";
import { CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { isolatedRows, labelled, rowsWithGaps, timeDomain, timeTicks, type LatencyRow } from "./latencyChartRows";

export interface ChartMarker {
  ts: Date | string;
  kind: "deploy" | "rollback" | "kill_switch" | "canary";
  label: string;
}

const MARKER_COLOR: Record<ChartMarker["kind"], string> = { deploy: "#7950f2", rollback: "#fd7e14", kill_switch: "#e03131", canary: "#1098ad" };
const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/**
 * p95/p99 latency per time bucket against the surface's p99 target, with the fallback rate on a
 * second axis, and a vertical line at each deploy marker (alias move, rollback, kill switch, canary
 * outcome) so that a spike can be read against what changed. Time is a numeric axis (ms since the
 * epoch) so markers sit at their own minute, not at the nearest bucket; it spans `window` (ms since
 * the epoch: the hours asked for), so the first bucket of a quiet surface sits at its own time, not
 * alone in the middle, drawn as a dot (a line needs two points), with a note that it is the only one.
 */
export function LatencyChart({ data, targetMs, markers = [], window }: {
  data: Array<{ ts: Date | string; p95: number; p99: number; fallbackRate: number }>;
  targetMs: number;
  markers?: ChartMarker[];
  window?: { from: number; to: number };
}) {
  // Buckets without traffic are gaps in the lines (a null row), not diagonals across them.
  const rows = rowsWithGaps(data.map((d) => ({ t: new Date(d.ts).getTime(), p95: d.p95, p99: d.p99, fallbackRate: d.fallbackRate })));
  const times = [...rows.map((r) => r.t), ...markers.map((m) => new Date(m.ts).getTime())];
  const domain = timeDomain(times, window);
  const withTraffic = rows.filter((r) => r.p99 !== null).length;
  // Labels need about LABEL_PX of the plot's width; on a phone fewer markers get one.
  const { ref, width } = useElementSize();
  const plotPx = Math.max(100, width - 110);
  const lines = labelled(markers.map((m) => ({ ...m, t: new Date(m.ts).getTime() })), ((domain[1] - domain[0]) * LABEL_PX) / plotPx);
  return (
    <div ref={ref} data-testid="latency-chart" data-markers={lines.length} data-marker-labels={lines.filter((m) => m.showLabel).map((m) => m.mergedLabel).join(" | ")} data-gaps={rows.filter((r) => r.p99 === null).length}>
      <ResponsiveContainer width="100%" height={200}>
        <ComposedChart data={rows} margin={{ left: 0, right: 8, top: 16, bottom: 0 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="t" type="number" scale="time" domain={domain} ticks={timeTicks(domain, width < 500 ? 3 : 6)} tickFormatter={clock} fontSize={10} />
          <YAxis yAxisId="ms" unit=" ms" fontSize={10} width={56} />
          <YAxis yAxisId="pct" orientation="right" unit="%" fontSize={10} width={40} domain={[0, 100]} />
          <Tooltip labelFormatter={(t) => clock(Number(t))} />
          <Legend />
          <ReferenceLine yAxisId="ms" y={targetMs} stroke="#fa5252" strokeDasharray="4 4" label={{ value: `p99 target ${targetMs} ms`, fontSize: 10, position: "insideTopRight" }} />
          {lines.map((m, i) => (
            <ReferenceLine
              key={`${m.t}-${i}`}
              yAxisId="ms"
              x={m.t}
              stroke={MARKER_COLOR[m.kind]}
              strokeWidth={1.5}
              className="deploy-marker"
              // Markers closer than a label's width share one merged label ("kill switch on → kill switch off");
              // labels alternate heights, and one in the right half sits on its line's left, inside the chart.
              label={m.showLabel ? { value: m.mergedLabel, fontSize: 10, fill: MARKER_COLOR[m.kind], position: labelPosition(m.slot, (m.t - domain[0]) / (domain[1] - domain[0] || 1)) } : undefined}
            />
          ))}
          <Line yAxisId="ms" dataKey="p95" name="p95" stroke="#4c6ef5" dot={dotsWhereAlone(rows, "p95", "#4c6ef5")} connectNulls={false} isAnimationActive={false} />
          <Line yAxisId="ms" dataKey="p99" name="p99" stroke="#f59f00" dot={dotsWhereAlone(rows, "p99", "#f59f00")} connectNulls={false} isAnimationActive={false} />
          <Line yAxisId="pct" dataKey="fallback" name="fallback %" stroke="#fa5252" dot={dotsWhereAlone(rows, "fallback", "#fa5252")} connectNulls={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
      {withTraffic === 1 && (
        <Text size="xs" c="dimmed" data-testid="chart-one-point">
          One point so far, at {clock(rows.find((r) => r.p99 !== null)!.t)}: the lines fill in as more buckets with traffic pass.
        </Text>
      )}
      {lines.length > 0 && (
        <Text size="xs" c="dimmed" data-testid="chart-markers">
          Lines mark changes: {lines.slice(-RECENT_MARKERS).reverse().map((m) => `${clock(m.t)} ${m.label}`).join(" · ")}
          {lines.length > RECENT_MARKERS ? ` · and ${lines.length - RECENT_MARKERS} earlier` : ""}
        </Text>
      )}
    </div>
  );
}

/** A Line's `dot`: a dot on each point with no neighbour to draw a line to (isolatedRows), nothing elsewhere. */
function dotsWhereAlone(rows: LatencyRow[], key: "p95" | "p99" | "fallback", color: string) {
  const alone = isolatedRows(rows, key);
  if (alone.size === 0) return false;
  const LoneDot = (props: { cx?: number; cy?: number; index?: number }) => {
    const { cx, cy, index = -1 } = props;
    return alone.has(index) && cx !== undefined && cy !== undefined
      ? <circle key={`${key}-${index}`} cx={cx} cy={cy} r={3.5} fill={color} stroke={color} data-testid="chart-lone-point" />
      : <g key={`${key}-${index}`} />;
  };
  return LoneDot;
}

const labelPosition = (i: number, x: number) => `inside${i % 2 === 0 ? "Top" : "Bottom"}${x > 0.5 ? "Right" : "Left"}` as const;

/** Pixels a marker's label needs: markers closer than this share one merged label (labels alternate top and bottom). */
const LABEL_PX = 90;
/** Changes listed in words under the chart, newest first. */
const RECENT_MARKERS = 5;
