import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Badge, Card, Group, Stack, Table, TableScrollContainer, TableTbody, TableTd, TableTh, TableThead, TableTr } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { EmptyState } from "../../_components/EmptyState";
import { AnchorLink } from "../../_components/AnchorLink";
import { PageHeader } from "../../_components/PageHeader";

export const metadata: Metadata = { title: "Experiments" };

export default async function ExperimentsPage() {
  const experiments = await (await serverCaller()).experiments.list();
  return (
    <Stack>
      <Group justify="space-between" align="flex-start">
        <PageHeader title="Experiments" subtitle="A/B and interleaving experiments over model versions and configs, with honest statistics." />
        <GuardedButton permission="experiments.write" href="/experiments/new">New experiment</GuardedButton>
      </Group>
      {experiments.length === 0 ? (
        <EmptyState
          title="No experiments yet"
          description="Each experiment you define appears here with its surface, status, variants and traffic split; its results page shows CTR, revenue per session, NDCG/MRR and latency per variant with confidence intervals, sample-ratio checks and sequential tests."
          steps={[
            { text: "Register at least two model versions on the Models page (or use the demo models)." },
            { text: "Create an experiment on a surface (New experiment), pick the variants and the traffic split, then start it." },
            { text: "Send traffic, or let the simulator do it:", command: "npm run simulate" },
          ]}
        />
      ) : (
        <Card withBorder>
          <TableScrollContainer minWidth={640}>
            <Table striped>
              <TableThead><TableTr><TableTh>Experiment</TableTh><TableTh>Surface</TableTh><TableTh>Kind</TableTh><TableTh>Status</TableTh><TableTh>Variants</TableTh><TableTh>Owner</TableTh></TableTr></TableThead>
              <TableTbody>
                {experiments.map((e) => (
                  <TableTr key={e.id}>
                    <TableTd><AnchorLink href={`/experiments/${e.key}`} fw={600}>{e.name}</AnchorLink></TableTd><TableTd>{e.surface.key}</TableTd><TableTd>{e.kind}</TableTd>
                    <TableTd><Badge variant="light">{e.status}</Badge></TableTd><TableTd>{e.variants.map((v) => `${v.key} ${Math.round(v.weight * 100)}%`).join(" / ")}</TableTd><TableTd>{e.owner}</TableTd>
                  </TableTr>
                ))}
              </TableTbody>
            </Table>
          </TableScrollContainer>
        </Card>
      )}
    </Stack>
  );
}
