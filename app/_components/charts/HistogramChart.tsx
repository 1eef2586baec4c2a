"use client";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

const COLORS = ["#4c6ef5", "#f59f00"];

export interface Bin {
  from: number;
  to: number;
  count: number;
}

/** One or two histograms on the same bins (e.g. the serving model's scores next to the candidate's). */
export function HistogramChart({ series, digits = 1, height = 200 }: { series: Array<{ name: string; bins: Bin[] }>; digits?: number; height?: number }) {
  const first = series[0]?.bins ?? [];
  const rows = first.map((bin, i) => {
    const row: Record<string, number | string> = { label: `${bin.from.toFixed(digits)}–${bin.to.toFixed(digits)}` };
    for (const s of series) row[s.name] = s.bins[i]?.count ?? 0;
    return row;
  });
  return (
    <ResponsiveContainer width="100%" height={height}>
      <BarChart data={rows} margin={{ left: 0, right: 8, top: 8, bottom: 0 }} barGap={0}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" fontSize={10} interval="preserveStartEnd" />
        <YAxis allowDecimals={false} fontSize={11} width={36} />
        <Tooltip />
        {series.length > 1 && <Legend />}
        {series.map((s, i) => (
          <Bar key={s.name} dataKey={s.name} fill={COLORS[i % COLORS.length]} fillOpacity={series.length > 1 ? 0.75 : 1} isAnimationActive={false} />
        ))}
      </BarChart>
    </ResponsiveContainer>
  );
}
