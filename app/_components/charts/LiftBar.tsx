/** A confidence interval drawn against zero: the bar spans [lo, hi], the tick marks the estimate. */
export function LiftBar({ lo, hi, estimate, range, good }: { lo: number; hi: number; estimate: number; range: number; good: boolean | null }) {
  const scale = (v: number) => `${50 + (Math.max(-range, Math.min(range, v)) / range) * 50}%`;
  const color = good === null ? "var(--mantine-color-gray-5)" : good ? "var(--mantine-color-teal-6)" : "var(--mantine-color-red-6)";
  return (
    <div style={{ position: "relative", height: 14, minWidth: 140, background: "var(--mantine-color-gray-1)", borderRadius: 4 }} aria-label={`95% CI ${lo} to ${hi}`}>
      <div style={{ position: "absolute", left: "50%", top: 0, bottom: 0, width: 1, background: "var(--mantine-color-gray-6)" }} />
      <div style={{ position: "absolute", left: scale(lo), width: `calc(${scale(hi)} - ${scale(lo)})`, top: 4, height: 6, background: color, borderRadius: 3, opacity: 0.6 }} />
      <div style={{ position: "absolute", left: scale(estimate), top: 1, height: 12, width: 2, background: color }} />
    </div>
  );
}
