"use client";
import { Alert, Badge, Button, Card, Group, Loader, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import type { AppRouter } from "@/server/routers/_app";
import { hrefs } from "@/server/domain/audit/subject";
import { FeatureValue } from "../../../_components/FeatureValue";
import { useTRPC } from "../../../_trpc/client";
import { PromoteToCanaryButton, SideBySide } from "../ShadowLists";

type Comparison = inferRouterOutputs<AppRouter>["shadow"]["comparison"];
const fixed = (v: number | null, digits = 3) => (v === null || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const ms = (v: number | null) => (v === null ? "—" : `${v.toFixed(2)} ms`);

/**
 * `at` and `owner` name the exact row (links from the Shadow page); without them, the newest of the id.
 * `initial`: the comparison as the page read it (a stored row: not read again).
 */
export function ShadowComparisonView({ requestId, versionId, at, owner, initial }: { requestId: string; versionId: string; at: string | null; owner: string | null; initial?: Comparison }) {
  const trpc = useTRPC();
  const comparison = useQuery({ ...trpc.shadow.comparison.queryOptions({ requestId, versionId, ...(at ? { ts: at } : {}), ...(at && owner !== null ? { owner } : {}) }), ...(initial ? { initialData: initial, staleTime: Infinity } : {}) });
  if (comparison.error) return <Alert color="red" title="Cannot open this comparison">{comparison.error.message}</Alert>;
  if (!comparison.data) return <Loader />;
  const c = comparison.data;
  return (
    <Stack data-testid="shadow-comparison">
      <Card withBorder padding="md">
        <Group justify="space-between" align="flex-start" gap="sm">
          <Stack gap={2} style={{ minWidth: 0 }}>
            <Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }} data-testid="comparison-request">{c.requestId}</Text>
            <Text size="xs" c="dimmed">{new Date(c.ts).toLocaleString()} · surface {c.surface} · served by {c.serving.label ?? "—"} · candidate {c.candidate.label}</Text>
          </Stack>
          <Group gap="xs">
            <Button size="xs" variant="default" component={Link} href={hrefs.shadow(c.surface)}>Back to Shadow</Button>
            <Button size="xs" variant="light" component={Link} href={hrefs.request(c.requestId, c.ts, c.owner)} data-testid="comparison-debug">Open in Debug</Button>
            <PromoteToCanaryButton surface={c.surface} modelName={c.candidate.modelName} serving={c.servingNowId && c.servingNow !== null ? { versionId: c.servingNowId, version: c.servingNow } : null} candidateVersion={c.candidate.version} />
          </Group>
        </Group>
        <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }} mt="sm" spacing="xs">
          <Figure label="overlap@10" value={fixed(c.overlapAt10, 2)} />
          <Figure label="rank-biased overlap" value={fixed(c.rbo)} testId="comparison-rbo" />
          <Figure label="Kendall τ (all candidates)" value={fixed(c.kendallTau)} />
          <Figure label="Spearman ρ" value={fixed(c.spearmanRho)} />
          <Figure label="serving score stage" value={ms(c.primaryLatencyMs)} />
          <Figure label="candidate, off the hot path" value={ms(c.shadowLatencyMs)} />
        </SimpleGrid>
      </Card>
      {c.error ? (
        <Alert color="red" title="The candidate failed on this request">{c.error}</Alert>
      ) : (
        <Card withBorder padding="md">
          <Title order={5} mb="xs">Both lists</Title>
          <SideBySide served={c.primary} candidate={c.shadow} servedLabel={c.serving.label ?? "serving"} candidateLabel={c.candidate.label} />
        </Card>
      )}
      <LargestMoves comparison={c} />
    </Stack>
  );
}

function Figure({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">{label}</Text>
      <Text fw={600} data-testid={testId}>{value}</Text>
    </Stack>
  );
}

/** The items the models disagree about most, one column each, with the features both models saw for them. */
function LargestMoves({ comparison: c }: { comparison: Comparison }) {
  if (c.error) return null;
  if (!c.moves) {
    return <Alert color="gray" title="No features recorded for this comparison">It was recorded before the Shadow page kept the features behind its largest moves.</Alert>;
  }
  const names = [...new Set(c.moves.flatMap((m) => Object.keys(m.features)))];
  return (
    <Card withBorder padding="md">
      <Title order={5}>Features behind the largest moves</Title>
      <Text size="xs" c="dimmed" mb="xs">
        The items either side showed whose rank differs most between the two models (ranks in each model&apos;s ordering of all candidates, before constraints), and the feature values the models got for them. ↑n: the candidate ranks the item n places higher than the serving model; * marks a value that fell back to the spec&apos;s default.
      </Text>
      <Table.ScrollContainer minWidth={150 + 105 * c.moves.length}>
        <Table data-testid="moves-table" withColumnBorders verticalSpacing={4} fz="xs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>item</Table.Th>
              {c.moves.map((m) => (
                <Table.Th key={m.id}>
                  <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>{m.id}</Text>
                  <Badge size="xs" variant="light" color={m.move > 0 ? "teal" : m.move < 0 ? "red" : "gray"} tt="none" title="how many places the candidate moved the item">
                    {m.move > 0 ? `↑${m.move}` : m.move < 0 ? `↓${-m.move}` : "="}
                  </Badge>
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            <Table.Tr>
              <Table.Td><Text size="xs" fw={600}>rank: serving → candidate</Text></Table.Td>
              {c.moves.map((m) => <Table.Td key={m.id}>{m.primaryRank} → {m.shadowRank}</Table.Td>)}
            </Table.Tr>
            <Table.Tr>
              <Table.Td><Text size="xs" fw={600}>score: serving / candidate</Text></Table.Td>
              {c.moves.map((m) => <Table.Td key={m.id}>{m.primaryScore.toFixed(3)} / {m.shadowScore.toFixed(3)}</Table.Td>)}
            </Table.Tr>
            {names.map((name) => (
              <Table.Tr key={name}>
                <Table.Td><Text size="xs" ff="monospace">{name}</Text></Table.Td>
                {c.moves!.map((m) => <Table.Td key={m.id}><FeatureValue value={m.features[name]} defaulted={m.defaulted.includes(name)} /></Table.Td>)}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Card>
  );
}
