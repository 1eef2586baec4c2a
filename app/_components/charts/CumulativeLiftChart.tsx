"use client";
import { Area, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

const COLORS = ["#4c6ef5", "#12b886", "#f59f00", "#e64980"];

/** Cumulative relative lift of each treatment over control, by hour or by day, with its 95% band. */
export function CumulativeLiftChart({ data, variants }: { data: Array<Record<string, number | string>>; variants: string[] }) {
  const rows = data.map((d) => {
    const row: Record<string, number | string | [number, number]> = { hour: String(d.hour).slice(5, 16).replace("T", " ") };
    for (const v of variants) {
      if (typeof d[`${v}_lift`] === "number") {
        row[`${v}`] = Number(d[`${v}_lift`]) * 100;
        row[`${v}_band`] = [Number(d[`${v}_lo`]) * 100, Number(d[`${v}_hi`]) * 100];
      }
    }
    return row;
  });
  return (
    <ResponsiveContainer width="100%" height={260}>
      <ComposedChart data={rows} margin={{ left: 0, right: 16, top: 8, bottom: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="hour" fontSize={11} />
        <YAxis unit="%" fontSize={11} />
        <Tooltip formatter={(value) => (Array.isArray(value) ? `${Number(value[0]).toFixed(1)}% to ${Number(value[1]).toFixed(1)}%` : `${Number(value).toFixed(2)}%`)} />
        <Legend />
        {variants.map((v, i) => (
          <Area key={`${v}_band`} dataKey={`${v}_band`} name={`${v} 95% band`} stroke="none" fill={COLORS[i % COLORS.length]} fillOpacity={0.15} isAnimationActive={false} />
        ))}
        {variants.map((v, i) => (
          <Line key={v} dataKey={v} name={`${v} lift`} stroke={COLORS[i % COLORS.length]} dot={false} strokeWidth={2} isAnimationActive={false} />
        ))}
      </ComposedChart>
    </ResponsiveContainer>
  );
}
