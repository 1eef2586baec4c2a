"use client";
import { Badge, Group, Stack, Text, Tooltip } from "@mantine/core";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/routers/_app";

type Rollout = inferRouterOutputs<AppRouter>["rollouts"]["list"][number];
type Metric = Rollout["history"][number]["metrics"][number];

// Long verdicts wrap inside their badge on narrow screens instead of being cut off.
const WRAPPING = { root: { height: "auto", maxWidth: "100%", paddingBlock: 2 }, label: { whiteSpace: "normal", overflow: "visible" } } as const;
const CLASS_COLOR = { high: "orange", low: "orange", pass: "teal", nodata: "gray" } as const;
const DECISION_COLOR: Record<string, string> = { advance: "teal", promote: "teal", manual_promote: "blue", fail: "red", wait: "gray", pause: "orange" };

function value(m: Metric, v: number | null) {
  if (v === null) return "—";
  return m.metric === "latency" ? `${v.toFixed(2)} ms` : `${(v * 100).toFixed(2)}%`;
}

/** One metric's verdict as a badge: red when it failed the step; the reason (estimate, interval, tolerance) on hover and below on narrow screens. */
export function MetricVerdictBadge({ metric: m }: { metric: Metric }) {
  const color = m.failed ? "red" : CLASS_COLOR[m.classification];
  return (
    <Tooltip label={m.reason} multiline maw={420} withArrow>
      <Badge color={color} variant={m.failed ? "filled" : "light"} tt="none" data-testid={`verdict-${m.metric}`} styles={WRAPPING}>
        {m.label}: {m.classification === "nodata" ? (m.notRequired ? "no data — not required (the surface sends no outcome events)" : "no data") : m.classification} · {value(m, m.canary)} vs {value(m, m.baseline)}
      </Badge>
    </Tooltip>
  );
}

/** The judged steps of a rollout, each with its decision and every metric's verdict. */
export function RolloutSteps({ rollout }: { rollout: Rollout }) {
  if (rollout.history.length === 0) return null;
  return (
    <Stack gap={6} mt="xs" data-testid="rollout-steps">
      {rollout.history.map((s) => (
        <Stack key={s.step} gap={2} data-testid={`rollout-step-${s.step}`}>
          <Group gap="xs" wrap="wrap">
            <Text size="xs" fw={600}>step {s.step + 1} · {s.percent}%</Text>
            <Badge size="sm" color={DECISION_COLOR[s.decision] ?? "gray"} variant="light" tt="none">{s.decision.replace("_", " ")}</Badge>
            <Text size="xs" c="dimmed">{s.canaryRequests} canary / {s.baselineRequests} baseline requests · {new Date(s.judgedAt).toLocaleString()} by {s.judgedBy}</Text>
          </Group>
          <Group gap={4} wrap="wrap">
            {s.metrics.map((m) => <MetricVerdictBadge key={m.metric} metric={m} />)}
          </Group>
          {s.decision === "fail" && <Text size="xs" c="red">{s.reasons.join("; ")}</Text>}
          {s.metrics.some((m) => m.notRequired) && <Text size="xs" c="dimmed" data-testid="not-required">{s.metrics.filter((m) => m.notRequired).map((m) => m.reason).join("; ")}</Text>}
        </Stack>
      ))}
    </Stack>
  );
}
