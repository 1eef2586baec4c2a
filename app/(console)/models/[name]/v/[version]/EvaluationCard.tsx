"use client";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Alert, Card, Group, Select, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "../../../../../_trpc/client";

interface LetorResult { file: string; rows: number; queries: number; ndcg: Record<string, number>; mrr: number; scoringMs: number }
interface IpsResult {
  surface: string; days: number; estimate: number; ci95: [number, number]; loggedCtr: number; requests: number; impressions: number;
  effectiveSampleSize: number; clippedShare: number;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const when = (d: Date | string) => new Date(d).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });

/**
 * Offline evaluation of this version: LETOR test file (NDCG, MRR) and counterfactual CTR on logs
 * (IPS). Every run is stored with the version; the card shows the latest and the earlier runs.
 */
export function EvaluationCard({ name, version, featureCount, surfaces }: { name: string; version: number; featureCount: number; surfaces: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const stored = useQuery(trpc.models.evaluations.queryOptions({ name, version }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.models.evaluations.queryKey({ name, version }) });
  const letor = useMutation(trpc.models.evaluateLetor.mutationOptions({ onSuccess: refresh }));
  const ips = useMutation(trpc.models.evaluateCounterfactual.mutationOptions({ onSuccess: refresh }));
  const [surface, setSurface] = useState<string | null>(surfaces.includes("search") ? "search" : surfaces[0] ?? null);
  const letorRuns = stored.data?.letor ?? [];
  const ipsRuns = stored.data?.counterfactual ?? [];
  const latestLetor = letorRuns[0];
  const latestIps = ipsRuns[0];
  const l = latestLetor?.result as unknown as LetorResult | undefined;
  const c = latestIps?.result as unknown as IpsResult | undefined;
  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="sm">Offline evaluation</Title>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Stack gap="xs">
          <Text size="sm">Ranking quality on the labelled LETOR test file (50 queries; NDCG as trec_eval and LightGBM compute it).</Text>
          <Group><GuardedButton permission="models.write" variant="light" onClick={() => letor.mutate({ name, version })} loading={letor.isPending} disabled={featureCount !== 300}>Evaluate on LETOR test</GuardedButton></Group>
          {featureCount !== 300 && <Text size="xs" c="dimmed">Needs a 300-feature model (this one takes {featureCount}).</Text>}
          {letor.error && <Alert color="red">{letor.error.message}</Alert>}
          {l && latestLetor && (
            <>
              <Table data-testid="letor-evaluation">
                <Table.Tbody>
                  {Object.entries(l.ndcg).map(([k, v]) => <Table.Tr key={k}><Table.Td>NDCG@{k}</Table.Td><Table.Td>{v.toFixed(4)}</Table.Td></Table.Tr>)}
                  <Table.Tr><Table.Td>MRR</Table.Td><Table.Td>{l.mrr.toFixed(4)}</Table.Td></Table.Tr>
                  <Table.Tr><Table.Td>rows · queries</Table.Td><Table.Td>{l.rows} · {l.queries} ({l.scoringMs.toFixed(1)} ms)</Table.Td></Table.Tr>
                </Table.Tbody>
              </Table>
              <Text size="xs" c="dimmed">Run {when(latestLetor.createdAt)} by {latestLetor.createdBy}{letorRuns.length > 1 ? ` · ${letorRuns.length - 1} earlier run${letorRuns.length > 2 ? "s" : ""}` : ""}.</Text>
            </>
          )}
        </Stack>
        <Stack gap="xs">
          <Text size="sm">Counterfactual CTR on logged traffic: the items each logged request showed, re-ranked by this version, with clicks weighted by position propensities 1/position (clipped, inverse propensity scoring).</Text>
          <Group>
            <Select aria-label="surface to evaluate on" data={surfaces} value={surface} onChange={setSurface} w={160} />
            <GuardedButton permission="models.write" variant="light" disabled={!surface} onClick={() => surface && ips.mutate({ name, version, surface, days: 7, eta: 1 })} loading={ips.isPending}>Estimate CTR</GuardedButton>
          </Group>
          {ips.error && <Alert color="red">{ips.error.message}</Alert>}
          {c && latestIps && (
            <>
              <Text size="sm" data-testid="ips-evaluation">
                On {c.surface} (last {c.days} days): estimated CTR {pct(c.estimate)} (95% CI {pct(c.ci95[0])} to {pct(c.ci95[1])}) vs {pct(c.loggedCtr)} as logged, over {c.requests.toLocaleString()} requests and {c.impressions.toLocaleString()} impressions; effective sample size {Math.round(c.effectiveSampleSize).toLocaleString()}, {(c.clippedShare * 100).toFixed(1)}% of weights clipped.
              </Text>
              <Text size="xs" c="dimmed">Run {when(latestIps.createdAt)} by {latestIps.createdBy}.</Text>
            </>
          )}
          {ipsRuns.length > 1 && (
            <Table data-testid="ips-history">
              <Table.Thead><Table.Tr><Table.Th>Earlier runs</Table.Th><Table.Th>Surface</Table.Th><Table.Th>Estimate (95% CI)</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {ipsRuns.slice(1).map((run) => {
                  const r = run.result as unknown as IpsResult;
                  return <Table.Tr key={run.id}><Table.Td>{when(run.createdAt)}</Table.Td><Table.Td>{r.surface}</Table.Td><Table.Td>{pct(r.estimate)} ({pct(r.ci95[0])}–{pct(r.ci95[1])})</Table.Td></Table.Tr>;
                })}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      </SimpleGrid>
    </Card>
  );
}
