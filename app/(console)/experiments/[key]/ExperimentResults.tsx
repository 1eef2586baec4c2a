"use client";
import { Alert, Badge, Button, Card, Group, Loader, Select, SimpleGrid, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { CumulativeLiftChart } from "../../../_components/charts/CumulativeLiftChart";
import { LiftBar } from "../../../_components/charts/LiftBar";
import { useTRPC } from "../../../_trpc/client";

const pct = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)}%`;
const fmtValue = (metric: string, v: number) => (metric === "revenue_per_session" || metric === "clicks_cuped" ? v.toFixed(3) : metric === "ndcg" || metric === "mrr" ? v.toFixed(4) : `${(v * 100).toFixed(2)}%`);
const GUARDRAIL_LABEL: Record<string, string> = {
  ctr: "CTR", conversion: "Conversion", revenue_per_session: "Revenue per unit", ndcg: "NDCG@10 from clicks", mrr: "MRR from clicks", latency_p95: "p95 latency", fallback_rate: "Fallback rate",
};
const STATUS_COLOR: Record<string, string> = { draft: "gray", running: "teal", stopped: "orange", shipped: "indigo" };

export function ExperimentResults({ experimentKey }: { experimentKey: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const results = useQuery({ ...trpc.experiments.results.queryOptions({ key: experimentKey }), refetchInterval: 10_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.experiments.results.queryKey({ key: experimentKey }) });
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const start = useMutation(trpc.experiments.start.mutationOptions({ onSuccess: refresh, onError }));
  const stop = useMutation(trpc.experiments.stop.mutationOptions({ onSuccess: refresh, onError }));
  const ship = useMutation(trpc.experiments.ship.mutationOptions({ onSuccess: refresh, onError }));
  const [shipVariant, setShipVariant] = useState<string | null>(null);
  if (!results.data) return results.error ? <Alert color="red">{results.error.message}</Alert> : <Loader />;
  const r = results.data;
  const e = r.experiment;
  const treatments = r.variants.filter((v) => !v.isControl).map((v) => v.key);

  return (
    <Stack>
      <Group justify="space-between">
        <Group gap="xs">
          <Badge size="lg" color={STATUS_COLOR[e.status]} data-testid="experiment-status">{e.status}</Badge>
          <Badge size="lg" variant="light">{e.kind === "ab" ? "A/B test" : "interleaving"}</Badge>
          <Badge size="lg" variant="outline">phase {e.phase}</Badge>
          <Badge size="lg" variant="outline">{e.analysisMode === "fixed" ? "fixed horizon" : "sequential"}</Badge>
          <Text size="sm" c="dimmed">surface {e.surface}</Text>
        </Group>
        <Group gap="xs">
          {e.status !== "shipped" && <Button component={Link} href={`/experiments/${e.key}/edit`} variant="default">Edit</Button>}
          {(e.status === "draft" || e.status === "stopped") && <Button onClick={() => start.mutate({ key: e.key })} loading={start.isPending}>Start</Button>}
          {e.status === "running" && <Button color="orange" variant="light" onClick={() => stop.mutate({ key: e.key })} loading={stop.isPending}>Stop</Button>}
          {(e.status === "running" || e.status === "stopped") && (
            <Group gap={4}>
              <Select aria-label="variant to ship" placeholder="Variant to ship" data={r.variants.map((v) => v.key)} value={shipVariant} onChange={setShipVariant} w={150} />
              <Button variant="light" disabled={!shipVariant} onClick={() => shipVariant && ship.mutate({ key: e.key, variant: shipVariant })} loading={ship.isPending}>Ship</Button>
            </Group>
          )}
        </Group>
      </Group>
      {e.hypothesis && <Text size="sm"><b>Hypothesis:</b> {e.hypothesis}</Text>}

      {r.srm?.mismatch && (
        <Alert color="red" variant="filled" title="Sample-ratio mismatch: results blocked" data-testid="srm-banner">
          The units per variant ({r.variants.map((v) => `${v.key} ${v.units}`).join(", ")}) do not match the configured weights (χ² = {r.srm.chiSquare.toFixed(1)}, p = {r.srm.pValue.toExponential(2)}). Fix assignment or logging before trusting any number below.
        </Alert>
      )}
      <Alert color={r.srm?.mismatch ? "gray" : "indigo"} title="What you can conclude" data-testid="experiment-summary">{r.summary}</Alert>

      <SimpleGrid cols={{ base: 2, md: 4 }}>
        {r.variants.map((v) => (
          <Card withBorder padding="sm" key={v.key}>
            <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{v.key}{v.isControl ? " (control)" : ""}</Text>
            <Text fw={700} size="lg" data-testid={`units-${v.key}`}>{v.units.toLocaleString()} units</Text>
            <Text size="xs" c="dimmed">{Math.round(v.weight * 100)}% of traffic · {v.name}</Text>
          </Card>
        ))}
      </SimpleGrid>

      {e.kind === "interleaving" && r.interleaving && (
        <Card withBorder padding="lg" data-testid="interleaving-results">
          <Title order={5} mb="sm">Interleaved preference</Title>
          <Text size="sm">{r.interleaving.variantA}: <b>{r.interleaving.winsA}</b> wins · {r.interleaving.variantB}: <b>{r.interleaving.winsB}</b> wins · ties {r.interleaving.ties} · {r.interleaving.requestsWithClicks} requests with clicks of {r.interleaving.requests} served ({r.interleaving.competitive} competitive: the two rankings differed)</Text>
          {r.interleaving.test && <Text size="sm" mt={4}>Share preferring {r.interleaving.variantA}: {(r.interleaving.test.shareA * 100).toFixed(1)}% (95% CI {(r.interleaving.test.ci[0] * 100).toFixed(1)}–{(r.interleaving.test.ci[1] * 100).toFixed(1)}%), sign test p = {r.interleaving.test.pValue.toPrecision(3)}</Text>}
        </Card>
      )}

      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Metrics</Title>
        <Table.ScrollContainer minWidth={860}>
          <Table striped data-testid="metrics-table">
            <Table.Thead>
              <Table.Tr><Table.Th>Metric</Table.Th>{r.variants.map((v) => <Table.Th key={v.key}>{v.key}</Table.Th>)}<Table.Th>Variant</Table.Th><Table.Th>Lift (95% CI)</Table.Th><Table.Th w={160}>Interval</Table.Th><Table.Th>p (Holm)</Table.Th><Table.Th>P(beat control)</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {r.metrics.flatMap((m) => (m.comparisons.length ? m.comparisons : [null]).map((c, ci) => (
                <Table.Tr key={`${m.metric}-${ci}`}>
                  {ci === 0 && <Table.Td rowSpan={Math.max(1, m.comparisons.length)}><Text size="sm" fw={m.metric === e.primaryMetric ? 700 : 400}>{m.label}{m.metric === e.primaryMetric ? " (primary)" : ""}</Text></Table.Td>}
                  {ci === 0 && m.variants.map((v) => <Table.Td key={v.key} rowSpan={Math.max(1, m.comparisons.length)}>{fmtValue(m.metric, v.value)}<Text size="xs" c="dimmed">n {v.n.toLocaleString()}</Text></Table.Td>)}
                  {c ? (
                    <>
                      <Table.Td>{c.variant}</Table.Td>
                      <Table.Td>{pct(c.effect.relative.estimate)} <Text span size="xs" c="dimmed">({pct(c.effect.relative.ci[0])} to {pct(c.effect.relative.ci[1])})</Text></Table.Td>
                      <Table.Td><LiftBar lo={c.effect.relative.ci[0]} hi={c.effect.relative.ci[1]} estimate={c.effect.relative.estimate} range={Math.max(0.05, Math.abs(c.effect.relative.ci[0]), Math.abs(c.effect.relative.ci[1]))} good={c.effect.significant ? (c.effect.relative.estimate > 0) === m.higherIsBetter : null} /></Table.Td>
                      <Table.Td>
                        <Tooltip label={`unadjusted ${c.effect.pValue.toPrecision(3)}`}><span>{c.adjustedPValue.toPrecision(3)}</span></Tooltip>{" "}
                        {c.effect.significant && <Badge size="xs" color={(c.effect.relative.estimate > 0) === m.higherIsBetter ? "teal" : "red"}>significant</Badge>}
                      </Table.Td>
                      <Table.Td>{(c.chanceToBeat * 100).toFixed(1)}%</Table.Td>
                    </>
                  ) : <Table.Td colSpan={5}><Text size="xs" c="dimmed">{e.kind === "interleaving" ? "interleaved traffic is judged by preference, above" : "not enough data to compare yet"}</Text></Table.Td>}
                </Table.Tr>
              )))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>

      {treatments.length > 0 && e.kind === "ab" && (
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Cumulative CTR lift over time</Title>
          {r.timeline.length === 0 ? <Text size="sm" c="dimmed">No impressions yet.</Text> : <CumulativeLiftChart data={r.timeline} variants={treatments} />}
          <Text size="xs" c="dimmed">The band uses an impression-level approximation; the table above uses the unit-level delta method.</Text>
        </Card>
      )}

      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Guardrails</Title>
          {r.guardrails.length === 0 ? <Text size="sm" c="dimmed">None defined.</Text> : r.guardrails.map((g, i) => (
            <Group key={i} gap="xs"><Badge color={g.status === "ok" ? "teal" : g.status === "violated" ? "red" : g.status === "at risk" ? "orange" : "gray"}>{g.status}</Badge><Text size="sm">{GUARDRAIL_LABEL[g.metric] ?? g.metric} must not {g.direction === "increase" ? "rise" : "fall"} by more than {+(g.threshold * 100).toFixed(2)}%</Text></Group>
          ))}
          <Title order={5} mt="md" mb="xs">Sample ratio</Title>
          <Text size="sm">{r.srm ? `χ² ${r.srm.chiSquare.toFixed(2)}, p = ${r.srm.pValue.toPrecision(3)} — ${r.srm.mismatch ? "mismatch" : "consistent with the weights"}` : "not enough data"}</Text>
        </Card>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Latency</Title>
          {r.latency.length === 0 ? <Text size="sm" c="dimmed">No requests yet.</Text> : r.latency.map((l) => <Text size="sm" key={l.variant}>{l.variant}: p50 {l.p50.toFixed(2)} ms · p95 {l.p95.toFixed(2)} ms ({l.requests.toLocaleString()} requests)</Text>)}
        </Card>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Sample size</Title>
          {r.plan ? (
            <Text size="sm">To detect the minimum effect with 80% power: {r.plan.unitsPerVariant.map((u) => u.toLocaleString()).join(" / ")} units per variant{r.plan.days !== null ? `, about ${r.plan.days.toFixed(1)} days at the current traffic` : ""}.</Text>
          ) : <Text size="sm" c="dimmed">Set a minimum detectable effect and collect a baseline to see the plan.</Text>}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
