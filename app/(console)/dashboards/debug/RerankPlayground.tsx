"use client";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import {
  Alert, Anchor, Badge, Card, Checkbox, Code, Group, NumberInput, Select, SimpleGrid, Stack, Table, Text, TextInput, Title,
} from "@mantine/core";
import Link from "next/link";
import { hrefs } from "@/server/domain/audit/subject";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import type { AppRouter } from "@/server/routers/_app";
import { STAGE2_REASON } from "@/server/domain/ranking/stages";
import { StageWaterfall, waterfallStages } from "../../../_components/charts/StageWaterfall";
import { WrappingBadge } from "../../../_components/WrappingBadge";
import { useTRPC } from "../../../_trpc/client";

type Outputs = inferRouterOutputs<AppRouter>;
type Sample = Outputs["catalog"]["sample"];

export function RerankPlayground({ surfaces }: { surfaces: Array<{ key: string; name: string }> }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [surface, setSurface] = useState((surfaces.find((s) => s.key === "search") ?? surfaces[0])?.key ?? "");
  const [query, setQuery] = useState("lamp");
  const [count, setCount] = useState<number>(50);
  const [topK, setTopK] = useState<number>(10);
  const [userKey, setUserKey] = useState("debug-user");
  const [includeBlocked, setIncludeBlocked] = useState(true);
  const [sample, setSample] = useState<Sample>([]);
  // Served like any request; its full scoring rows are always kept, so it opens by id with its features.
  const rank = useMutation(trpc.debug.rerank.mutationOptions());

  async function send() {
    const candidates = await queryClient.fetchQuery(trpc.catalog.sample.queryOptions({ query, count, includeBlocked }));
    setSample(candidates);
    rank.mutate({ surface, topK, userKey: userKey || undefined, context: { query }, candidates: candidates.map((c) => ({ id: c.id, retrievalScore: c.retrievalScore })) });
  }

  const byId = new Map(sample.map((s) => [s.id, s]));
  const result = rank.data;
  return (
    <Stack>
      <Card withBorder padding="lg">
        <Title order={4} mb="sm">Send a test request</Title>
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          <Select label="Surface" data={surfaces.map((s) => ({ value: s.key, label: s.name }))} value={surface} onChange={(v) => setSurface(v ?? "")} allowDeselect={false} />
          <TextInput label="Query (retrieval stand-in)" value={query} onChange={(e) => setQuery(e.currentTarget.value)} />
          <TextInput label="User key" value={userKey} onChange={(e) => setUserKey(e.currentTarget.value)} />
          <NumberInput label="Candidates" min={1} max={1000} value={count} onChange={(v) => setCount(Number(v) || 1)} />
          <NumberInput label="Top k" min={1} max={1000} value={topK} onChange={(v) => setTopK(Number(v) || 1)} />
          <Checkbox mt={{ sm: 30 }} label="Include unsafe items (to see them blocked)" checked={includeBlocked} onChange={(e) => setIncludeBlocked(e.currentTarget.checked)} />
        </SimpleGrid>
        <Group mt="md">
          <GuardedButton permission="rerank.serve" onClick={() => void send()} loading={rank.isPending} disabled={!surface}>Rerank</GuardedButton>
          {sample.length > 0 && <Text size="sm" c="dimmed">{sample.length} candidates retrieved</Text>}
        </Group>
      </Card>

      {rank.error && <Alert color="red" title="The request was refused">{rank.error.message}</Alert>}

      {result && (
        <Stack data-testid="rerank-result">
          <Card withBorder padding="lg">
            <Group justify="space-between" mb="sm">
              <Title order={4}>Response</Title>
              <Group gap="xs">
                {result.modelVersion ? <Badge variant="light">{result.modelVersion.name} v{result.modelVersion.version} ({result.modelVersion.alias})</Badge> : <Badge color="gray">no model</Badge>}
                {result.fallback.used ? <Badge color="orange" data-testid="fallback-badge">fallback: {result.fallback.reason} → {result.fallback.servedBy}</Badge> : <Badge color="teal" variant="light" data-testid="fallback-badge">served by the model</Badge>}
                <Badge color="gray" variant="outline">{result.timings.total.toFixed(2)} ms</Badge>
              </Group>
            </Group>
            <Text size="xs" c="dimmed" mb="xs">
              request id {result.requestId} · <Anchor component={Link} href={hrefs.request(result.requestId)} size="xs" data-testid="open-sent-request">open it as logged, with the features the model saw</Anchor>
            </Text>
            {/* Under an interleaving experiment each arm ran its own stage 2: one line per arm. */}
            {result.stage2Arms
              ? Object.entries(result.stage2Arms).map(([arm, stage2]) => <Stage2Summary key={arm} arm={arm} stage2={stage2} />)
              : result.stage2 && <Stage2Summary stage2={result.stage2} />}
            <StageWaterfall stages={waterfallStages(result.timings)} />
          </Card>
          <Card withBorder padding="lg">
            <Title order={5} mb="sm">Served items</Title>
            <Table.ScrollContainer minWidth={720}>
              <Table striped data-testid="served-items">
                <Table.Thead>
                  <Table.Tr><Table.Th>#</Table.Th><Table.Th>Item</Table.Th><Table.Th>Category</Table.Th><Table.Th>Provider</Table.Th><Table.Th>Score</Table.Th>{result.stage2 && <Table.Th>Stage</Table.Th>}<Table.Th>Reasons</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {result.items.map((item) => (
                    <Table.Tr key={item.id}>
                      <Table.Td>{item.position}</Table.Td>
                      <Table.Td><Text size="sm" fw={500}>{byId.get(item.id)?.title ?? item.id}</Text><Text size="xs" c="dimmed">{item.id}</Text></Table.Td>
                      <Table.Td>{byId.get(item.id)?.category ?? "—"}</Table.Td>
                      <Table.Td>{byId.get(item.id)?.providerGroup ?? "—"}</Table.Td>
                      <Table.Td>{item.score.toFixed(4)}</Table.Td>
                      {result.stage2 && (
                        <Table.Td data-testid="item-stage">
                          {item.reasons.includes(STAGE2_REASON) ? <Badge size="xs" color="grape">stage 2</Badge> : <Badge size="xs" color="gray" variant="outline">stage 1</Badge>}
                        </Table.Td>
                      )}
                      <Table.Td><Group gap={4}>{item.reasons.filter((r) => r !== STAGE2_REASON).map((r) => <Badge key={r} size="xs" variant="light">{r}</Badge>)}</Group></Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Card>
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Card withBorder padding="lg">
              <Title order={5} mb="sm">Removed ({result.removed.length})</Title>
              {result.removed.length === 0 ? <Text c="dimmed" size="sm">Nothing was filtered.</Text> : (
                <Stack gap={4} data-testid="removed-items">
                  {result.removed.map((r) => <Text key={r.id} size="sm">{byId.get(r.id)?.title ?? r.id} <Badge size="xs" color="red" variant="light">{r.reason}</Badge></Text>)}
                </Stack>
              )}
            </Card>
            <Card withBorder padding="lg">
              <Title order={5} mb="sm">Constraints and features</Title>
              <Text size="sm">Category caps: {result.constraints.capsFeasible ? "held" : "infeasible (not enough other categories)"}</Text>
              {result.constraints.floors.map((f) => (
                <Text size="sm" key={`${f.field}=${f.group}`}>Exposure floor {f.field}={f.group}: {f.achieved}/{f.required} {f.feasible ? "met" : "not feasible"}</Text>
              ))}
              <Text size="sm">Defaulted feature values: {result.features.defaulted}, stale: {result.features.stale}, unknown candidates: {result.features.unknownCandidates}</Text>
            </Card>
          </SimpleGrid>
          <Card withBorder padding="lg">
            <Title order={5} mb="sm">Raw response</Title>
            <Code block style={{ maxHeight: 320, overflow: "auto" }}>{JSON.stringify(result, null, 2)}</Code>
          </Card>
        </Stack>
      )}
    </Stack>
  );
}

type Stage2 = NonNullable<Outputs["debug"]["rerank"]["stage2"]>;

/**
 * What stage 2 of the surface's cascade did: which model rescored how many of stage 1's top, or why
 * stage 1's order served. `arm`: the interleaving arm whose stage 2 this is (absent with one arm).
 */
function Stage2Summary({ stage2, arm }: { stage2: Stage2; arm?: string }) {
  const model = stage2.model ? `${stage2.model.name} v${stage2.model.version} (${stage2.model.alias})` : "its model";
  const label = arm ? `stage 2 of ${arm}` : "stage 2";
  return (
    <Group gap="xs" mb="xs" data-testid="stage2-summary" data-arm={arm}>
      {stage2.status === "served" ? (
        <WrappingBadge color="grape" variant="light" data-testid="stage2-status">{label}: {model} rescored the top {stage2.reranked.length}</WrappingBadge>
      ) : (
        <WrappingBadge color="orange" data-testid="stage2-status">{label} {stage2.status}{stage2.reason ? ` (${stage2.reason})` : ""}: {arm ? `${arm}'s stage-1 order` : "stage 1's order"} served</WrappingBadge>
      )}
      <Text size="xs" c="dimmed">
        rerank count {stage2.rerankCount} · stage 2 took {stage2.ms.toFixed(2)} ms{stage2.truncated ? ` · ${stage2.truncated} documents truncated` : ""}
      </Text>
    </Group>
  );
}
