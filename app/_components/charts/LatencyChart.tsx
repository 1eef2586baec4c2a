"use client";
import { CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

/** p95/p99 latency per time bucket against the surface's p99 target, with the fallback rate on a second axis. */
export function LatencyChart({ data, targetMs }: { data: Array<{ ts: Date | string; p95: number; p99: number; fallbackRate: number }>; targetMs: number }) {
  const rows = data.map((d) => ({
    time: new Date(d.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
    p95: Math.round(d.p95 * 100) / 100,
    p99: Math.round(d.p99 * 100) / 100,
    fallback: Math.round(d.fallbackRate * 1000) / 10,
  }));
  return (
    <ResponsiveContainer width="100%" height={180}>
      <ComposedChart data={rows} margin={{ left: 0, right: 8, top: 8, bottom: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="time" fontSize={10} />
        <YAxis yAxisId="ms" unit=" ms" fontSize={10} width={56} />
        <YAxis yAxisId="pct" orientation="right" unit="%" fontSize={10} width={40} domain={[0, 100]} />
        <Tooltip />
        <Legend />
        <ReferenceLine yAxisId="ms" y={targetMs} stroke="#fa5252" strokeDasharray="4 4" label={{ value: `p99 target ${targetMs} ms`, fontSize: 10, position: "insideTopRight" }} />
        <Line yAxisId="ms" dataKey="p95" name="p95" stroke="#4c6ef5" dot={false} isAnimationActive={false} />
        <Line yAxisId="ms" dataKey="p99" name="p99" stroke="#f59f00" dot={false} isAnimationActive={false} />
        <Line yAxisId="pct" dataKey="fallback" name="fallback %" stroke="#fa5252" dot={false} isAnimationActive={false} />
      </ComposedChart>
    </ResponsiveContainer>
  );
}
