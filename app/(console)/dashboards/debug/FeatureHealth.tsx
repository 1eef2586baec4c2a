"use client";
import { Alert, Badge, Card, Group, Loader, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { SurfacePicker } from "../../../_components/SurfacePicker";
import { useTRPC } from "../../../_trpc/client";

const LEVEL_COLOR = { stable: "teal", warn: "orange", alert: "red", unknown: "gray" } as const;
const num = (v: number | null | undefined, digits = 3) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const pValue = (p: number | null) => (p === null ? "—" : p < 0.001 ? "< 0.001" : p.toFixed(3));
const age = (s: number) => (s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(0)} min` : s < 172_800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86_400).toFixed(1)} d`);

/** Drift of the serving model's item features against training, and freshness of their stored values. */
export function FeatureHealth({ surfaces }: { surfaces: Array<{ key: string; name: string }> }) {
  const trpc = useTRPC();
  // The same default as the request form above.
  const [surface, setSurface] = useState((surfaces.find((s) => s.key === "search") ?? surfaces[0])!.key);
  const health = useQuery({ ...trpc.debug.featureHealth.queryOptions({ surface, requests: 2000 }), refetchInterval: 30_000 });
  const h = health.data;
  return (
    <Card withBorder padding="md" data-testid="feature-health">
      <Group justify="space-between" mb="xs" gap="xs">
        <Title order={5}>Drift and freshness</Title>
        <SurfacePicker size="xs" label="Surface for drift" surfaces={surfaces} value={surface} onChange={setSurface} />
      </Group>
      {!h ? (
        health.error ? <Alert color="red">{health.error.message}</Alert> : <Loader size="sm" />
      ) : !h.model ? (
        <Text size="sm" c="dimmed">This surface has no serving model.</Text>
      ) : h.sampledRows === 0 && h.requests === 0 ? (
        <Text size="sm" c="dimmed">No requests on {h.surface} yet: drift compares the feature rows {h.model} scores with its training distribution.</Text>
      ) : (
        <>
          <Text size="xs" c="dimmed" mb="xs">
            Drift: a uniform sample of {h.sampledRows.toLocaleString()} of the {h.offeredRows.toLocaleString()} feature rows {h.model} scored in this server process (every candidate, as the model saw it), against the training distribution in its feature spec;
            a level needs a significant shift (χ² test of the binned counts, p &lt; 0.001) of PSI ≥ 0.1 (warn) or ≥ 0.25 (alert), else stable: a sample&apos;s PSI is (bins − 1)/rows on average from noise alone, shown as &quot;noise&quot;; none below 100 rows. Stale: share of the {h.items} items served in the last {h.requests} logged requests whose stored value is past the feature&apos;s limit.
            {h.ages ? ` Stored values are ${age(h.ages.p50)} old at the median, ${age(h.ages.p95)} at p95, ${age(h.ages.max)} at most.` : ""}
          </Text>
          <Table.ScrollContainer minWidth={720}>
            <Table verticalSpacing={4} data-testid="drift-table">
              <Table.Thead>
                <Table.Tr><Table.Th>feature</Table.Th><Table.Th>training mean ± sd</Table.Th><Table.Th>serving mean ± sd</Table.Th><Table.Th>shift (sd)</Table.Th><Table.Th>PSI (noise, p)</Table.Th><Table.Th>stale (limit)</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {h.features.map((f) => (
                  <Table.Tr key={f.feature}>
                    <Table.Td><Text size="sm" ff="monospace">{f.feature}</Text><Text size="xs" c="dimmed">{f.source}</Text></Table.Td>
                    <Table.Td>{f.training ? `${num(f.training.mean)} ± ${num(f.training.std)}` : "—"}</Table.Td>
                    <Table.Td>{f.serving ? `${num(f.serving.mean)} ± ${num(f.serving.std)}` : <Text span size="xs" c="dimmed">not sampled yet</Text>}</Table.Td>
                    <Table.Td>{num(f.serving?.meanShift, 2)}</Table.Td>
                    <Table.Td>{f.serving ? <Badge size="sm" variant="light" color={LEVEL_COLOR[f.serving.level]}>{f.serving.psi === null ? (f.serving.note ?? "no PSI") : `${num(f.serving.psi)} ${f.serving.level}`}</Badge> : "—"}{f.serving?.psi != null ? <Text span size="xs" c="dimmed"> ({num(f.serving.nullPsi)}, p {pValue(f.serving.pValue)})</Text> : null}</Table.Td>
                    <Table.Td>{f.staleShare === null ? "—" : `${(f.staleShare * 100).toFixed(1)}%`}{f.freshnessSeconds ? <Text span size="xs" c="dimmed"> ({age(f.freshnessSeconds)})</Text> : null}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      )}
    </Card>
  );
}
