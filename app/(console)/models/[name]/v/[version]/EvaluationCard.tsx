"use client";
import { Alert, Button, Card, Group, Select, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../../../../../_trpc/client";

/** Offline evaluation of this version: LETOR test file (NDCG, MRR) and counterfactual CTR on logs (IPS). */
export function EvaluationCard({ name, version, featureCount, surfaces }: { name: string; version: number; featureCount: number; surfaces: string[] }) {
  const trpc = useTRPC();
  const letor = useMutation(trpc.models.evaluateLetor.mutationOptions());
  const ips = useMutation(trpc.models.evaluateCounterfactual.mutationOptions());
  const [surface, setSurface] = useState<string | null>(surfaces.includes("search") ? "search" : surfaces[0] ?? null);
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="sm">Offline evaluation</Title>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Stack gap="xs">
          <Text size="sm">Ranking quality on the labelled LETOR test file (50 queries; NDCG as trec_eval and LightGBM compute it).</Text>
          <Group><Button variant="light" onClick={() => letor.mutate({ name, version })} loading={letor.isPending} disabled={featureCount !== 300}>Evaluate on LETOR test</Button></Group>
          {featureCount !== 300 && <Text size="xs" c="dimmed">Needs a 300-feature model (this one takes {featureCount}).</Text>}
          {letor.error && <Alert color="red">{letor.error.message}</Alert>}
          {letor.data && (
            <Table data-testid="letor-evaluation">
              <Table.Tbody>
                {Object.entries(letor.data.ndcg).map(([k, v]) => <Table.Tr key={k}><Table.Td>NDCG@{k}</Table.Td><Table.Td>{v.toFixed(4)}</Table.Td></Table.Tr>)}
                <Table.Tr><Table.Td>MRR</Table.Td><Table.Td>{letor.data.mrr.toFixed(4)}</Table.Td></Table.Tr>
                <Table.Tr><Table.Td>rows · queries</Table.Td><Table.Td>{letor.data.rows} · {letor.data.queries} ({letor.data.scoringMs.toFixed(1)} ms)</Table.Td></Table.Tr>
              </Table.Tbody>
            </Table>
          )}
        </Stack>
        <Stack gap="xs">
          <Text size="sm">Counterfactual CTR on logged traffic: the items each logged request showed, re-ranked by this version, with clicks weighted by position propensities 1/position (clipped, inverse propensity scoring).</Text>
          <Group>
            <Select aria-label="surface to evaluate on" data={surfaces} value={surface} onChange={setSurface} w={160} />
            <Button variant="light" disabled={!surface} onClick={() => surface && ips.mutate({ name, version, surface, days: 7, eta: 1 })} loading={ips.isPending}>Estimate CTR</Button>
          </Group>
          {ips.error && <Alert color="red">{ips.error.message}</Alert>}
          {ips.data && (
            <Text size="sm" data-testid="ips-evaluation">
              Estimated CTR {pct(ips.data.estimate)} (95% CI {pct(ips.data.ci95[0])} to {pct(ips.data.ci95[1])}) vs {pct(ips.data.loggedCtr)} as logged, over {ips.data.requests.toLocaleString()} requests and {ips.data.impressions.toLocaleString()} impressions; effective sample size {Math.round(ips.data.effectiveSampleSize).toLocaleString()}, {(ips.data.clippedShare * 100).toFixed(1)}% of weights clipped.
            </Text>
          )}
        </Stack>
      </SimpleGrid>
    </Card>
  );
}
