"use client";
import { Alert, Badge, Card, Group, Loader, SegmentedControl, SimpleGrid, Stack, Table, Text, Title, Tooltip as HelpTip } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { CLICK_THROUGH_DEFINITION, METRIC_CATALOGUE } from "@/server/domain/experiments/metrics";
import { RolloutStatusBadge } from "../../../_components/RolloutStatusBadge";
import { useTRPC } from "../../../_trpc/client";

const PERIODS = [
  { value: "1", label: "1 day" },
  { value: "7", label: "7 days" },
  { value: "28", label: "28 days" },
];
const pct = (v: number | null, digits = 2) => (v === null ? "—" : `${(v * 100).toFixed(digits)}%`);
const money = (v: number | null) => (v === null ? "—" : v.toFixed(2));

function Change({ value, comparable = true }: { value: number | null; comparable?: boolean }) {
  if (!comparable) return <Text span size="xs" c="dimmed">not compared (retention)</Text>;
  if (value === null) return <Text span size="xs" c="dimmed">no earlier figure</Text>;
  const color = value > 0 ? "teal" : value < 0 ? "red" : "dimmed";
  return <Text span size="xs" c={color} fw={600}>{value > 0 ? "▲" : value < 0 ? "▼" : "■"} {(Math.abs(value) * 100).toFixed(1)}% vs previous</Text>;
}

function Kpi({ label, definition, value, change, comparable, testId }: { label: string; definition?: string; value: string; change: number | null; comparable?: boolean; testId?: string }) {
  return (
    <Stack gap={0}>
      {definition ? <HelpTip label={definition} multiline w={260}><Text size="xs" c="dimmed" fw={600}>{label}</Text></HelpTip> : <Text size="xs" c="dimmed" fw={600}>{label}</Text>}
      <Text fw={700} size="lg" data-testid={testId}>{value}</Text>
      <Change value={change} comparable={comparable} />
    </Stack>
  );
}

export function ExecutiveDashboard() {
  const trpc = useTRPC();
  const [days, setDays] = useState("7");
  const overview = useQuery({ ...trpc.executive.overview.queryOptions({ days: Number(days) }), refetchInterval: 30_000 });
  if (!overview.data) return overview.error ? <Alert color="red">{overview.error.message}</Alert> : <Loader />;
  const o = overview.data;
  const keptFrom = new Date(o.coverage.keptFrom).toISOString().slice(0, 10);
  const comparable = o.coverage.previous.complete;
  return (
    <Stack>
      {!comparable && (
        <Alert color="gray" data-testid="exec-coverage">
          The request log is kept from {keptFrom} (RETENTION_DAYS): {o.coverage.current.complete ? `the ${o.days} days before this period are only partly kept, so changes are not shown` : `only part of this period is kept, and none of the one before`}.
        </Alert>
      )}
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          Experiments: {o.experiments.running ?? 0} running · {o.experiments.shipped ?? 0} shipped · {o.experiments.stopped ?? 0} stopped · {o.experiments.draft ?? 0} drafts
        </Text>
        <SegmentedControl aria-label="Period" data={PERIODS} value={days} onChange={setDays} />
      </Group>
      {o.surfaces.map((s) => (
        <Card withBorder padding="md" key={s.key} data-testid={`exec-${s.key}`}>
          <Group justify="space-between" mb="sm">
            <Group gap="xs">
              <Title order={4}>{s.name}</Title>
              {s.serving && <Badge variant="light">{s.serving.model} v{s.serving.version} since {new Date(s.serving.since).toLocaleDateString()}</Badge>}
              {s.killSwitch && <Badge color="red">kill switch on</Badge>}
              {s.rollout?.status === "running" && <Badge color="blue" data-testid="exec-canary">canary v{s.rollout.version} at {s.rollout.percent}%</Badge>}
              {/* A paused canary keeps serving its share: it is no less live than a running one. */}
              {s.rollout?.status === "paused" && <Badge color="orange" data-testid="exec-canary">canary v{s.rollout.version} paused at {s.rollout.percent}%</Badge>}
            </Group>
            <Text size="xs" c="dimmed">last {o.days} {o.days === 1 ? "day" : "days"} against the {o.days} before</Text>
          </Group>
          <SimpleGrid cols={{ base: 2, md: 5 }}>
            <Kpi label="Requests" value={s.current.requests.toLocaleString()} change={s.change.requests} comparable={comparable} testId="kpi-requests" />
            <Kpi label={METRIC_CATALOGUE.ctr.label} definition={CLICK_THROUGH_DEFINITION} value={pct(s.current.ctr)} change={s.change.ctr} comparable={comparable} testId="kpi-ctr" />
            <Kpi label={METRIC_CATALOGUE.conversion.label} definition={METRIC_CATALOGUE.conversion.definition} value={pct(s.current.conversion)} change={s.change.conversion} comparable={comparable} testId="kpi-conversion" />
            <Kpi label={METRIC_CATALOGUE.revenue_per_session.label} definition={METRIC_CATALOGUE.revenue_per_session.definition} value={money(s.current.revenuePerUnit)} change={s.change.revenuePerUnit} comparable={comparable} testId="kpi-rps" />
            <Kpi label="Revenue" value={money(s.current.revenue)} change={null} />
          </SimpleGrid>
          {s.daily.length > 1 && (
            <ResponsiveContainer width="100%" height={170}>
              <LineChart data={s.daily.map((d) => ({ day: new Date(d.day).toLocaleDateString([], { month: "short", day: "numeric" }), ctr: d.ctr === null ? null : Math.round(d.ctr * 10000) / 100, revenue: Math.round(d.revenue * 100) / 100 }))} margin={{ left: 0, right: 8, top: 12 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="day" fontSize={10} />
                <YAxis yAxisId="ctr" unit="%" fontSize={10} width={44} />
                <YAxis yAxisId="rev" orientation="right" fontSize={10} width={52} />
                <Tooltip />
                <Legend />
                <Line yAxisId="ctr" dataKey="ctr" name="CTR %" stroke="#4c6ef5" dot={false} isAnimationActive={false} />
                <Line yAxisId="rev" dataKey="revenue" name="revenue" stroke="#12b886" dot={false} isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          )}
        </Card>
      ))}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder padding="md">
          <Title order={5} mb="xs">Shipped experiments</Title>
          {o.shipped.length === 0 ? <Text size="sm" c="dimmed">Nothing shipped yet.</Text> : (
            <Table data-testid="shipped" verticalSpacing={4}>
              <Table.Thead><Table.Tr><Table.Th>experiment</Table.Th><Table.Th>surface</Table.Th><Table.Th>variant</Table.Th><Table.Th>shipped</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {o.shipped.map((e) => (
                  <Table.Tr key={e.key}><Table.Td><Text size="sm">{e.name}</Text><Text size="xs" c="dimmed">{e.key} · {e.metric}</Text></Table.Td><Table.Td>{e.surface}</Table.Td><Table.Td>{e.variant}</Table.Td><Table.Td><Text size="xs">{e.at ? new Date(e.at).toLocaleDateString() : "—"}</Text></Table.Td></Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Card>
        <Card withBorder padding="md">
          <Title order={5}>Rollouts</Title>
          <Text size="xs" c="dimmed" mb="xs">Every running or paused canary, then the latest ended ones.</Text>
          {o.rollouts.length === 0 ? <Text size="sm" c="dimmed">No canary rollouts yet.</Text> : (
            <Table data-testid="rollouts" verticalSpacing={4}>
              <Table.Thead><Table.Tr><Table.Th>surface</Table.Th><Table.Th>version</Table.Th><Table.Th>status</Table.Th><Table.Th>started</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {o.rollouts.map((r) => (
                  <Table.Tr key={r.id}><Table.Td>{r.surface}</Table.Td><Table.Td>{r.model} v{r.version}</Table.Td><Table.Td><RolloutStatusBadge status={r.status} percent={r.percent} /></Table.Td><Table.Td><Text size="xs">{new Date(r.startedAt).toLocaleString()}</Text></Table.Td></Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
