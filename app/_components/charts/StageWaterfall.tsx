"use client";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

// The response's timings in the pipeline's order; any stage not known here goes after them.
const STAGE_ORDER = ["resolve", "features", "score", "rescore", "constraints"];
const stageRank = (stage: string) => (STAGE_ORDER.includes(stage) ? STAGE_ORDER.indexOf(stage) : STAGE_ORDER.length);

/**
 * A response's (or logged request's) timings as waterfall bars, in the pipeline's order, without
 * the total. On a cascade surface (a `rescore` timing) the two scoring stages are named for what
 * they are: "stage 1" (the surface's model over every candidate) and "stage 2" (the rescore of the top).
 */
export function waterfallStages(timings: Record<string, unknown>): Array<{ stage: string; ms: number }> {
  const cascade = timings.rescore !== undefined;
  const label = (stage: string) => (cascade && stage === "score" ? "stage 1" : stage === "rescore" ? "stage 2" : stage);
  return Object.entries(timings)
    .filter(([stage, ms]) => stage !== "total" && ms !== undefined)
    .sort(([a], [b]) => stageRank(a) - stageRank(b))
    .map(([stage, ms]) => ({ stage: label(stage), ms: Number(ms) }));
}

/** One request's pipeline stages as a waterfall: each bar starts where the previous stage ended. */
export function StageWaterfall({ stages }: { stages: Array<{ stage: string; ms: number }> }) {
  const data = stages.map(({ stage, ms }, i) => ({ stage, ms, offset: stages.slice(0, i).reduce((sum, s) => sum + s.ms, 0) }));
  return (
    <ResponsiveContainer width="100%" height={40 + stages.length * 34}>
      <BarChart data={data} layout="vertical" margin={{ left: 8, right: 24, top: 4, bottom: 4 }}>
        <CartesianGrid strokeDasharray="3 3" horizontal={false} />
        <XAxis type="number" unit=" ms" tickFormatter={(v: number) => v.toFixed(2)} fontSize={12} />
        <YAxis type="category" dataKey="stage" width={90} fontSize={12} />
        <Tooltip formatter={(value, name) => (name === "offset" ? [null, null] : [`${Number(value).toFixed(3)} ms`, "duration"])} />
        <Bar dataKey="offset" stackId="t" fill="transparent" isAnimationActive={false} />
        <Bar dataKey="ms" stackId="t" fill="var(--mantine-color-indigo-6)" radius={3} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
