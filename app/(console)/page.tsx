import { Badge, Card, Stack, Table, TableScrollContainer, TableTbody, TableTd, TableTh, TableThead, TableTr, Text, Title } from "@mantine/core";
import { serverCaller } from "@/server/caller";
import { PageHeader } from "../_components/PageHeader";
import { SystemStatusCard } from "../_components/SystemStatusCard";
import { stage2ConfigSchema } from "@/server/surfaces/stage2.schema";
import { WrappingBadge } from "../_components/WrappingBadge";
import { Stage2Cell } from "./Stage2Editor";

export default async function OverviewPage() {
  const caller = await serverCaller();
  const [health, surfaces] = await Promise.all([caller.system.health(), caller.surfaces.list()]);
  return (
    <Stack>
      <PageHeader title="Overview" subtitle="Surfaces served by this console and the health of the service." />
      <SystemStatusCard initial={health} />
      <Card withBorder padding="lg">
        <Title order={4} mb="sm">Surfaces</Title>
        {surfaces.length === 0 ? (
          <Text c="dimmed">No surfaces yet. <code>npm run db:seed</code> creates the demo surfaces.</Text>
        ) : (
          <>
          {/* The table scrolls sideways below its minimum width (phones): say so, as the scroll bar only shows once scrolled. */}
          <Text size="xs" c="dimmed" hiddenFrom="md" mb={4} data-testid="surfaces-scroll-cue">Scroll the table sideways for more columns →</Text>
          <TableScrollContainer minWidth={820}>
            <Table striped data-testid="surfaces-table">
              <TableThead>
                <TableTr>
                  <TableTh>Surface</TableTh><TableTh>Model</TableTh><TableTh>Alias</TableTh>
                  <TableTh>Budget</TableTh><TableTh style={{ whiteSpace: "nowrap" }}>Top k</TableTh><TableTh w="26%">Stage 2</TableTh><TableTh>Scoring</TableTh>
                </TableTr>
              </TableThead>
              <TableTbody>
                {surfaces.map((s) => (
                  <TableTr key={s.id}>
                    <TableTd><Text fw={600}>{s.name}</Text><Text size="xs" c="dimmed">{s.key}</Text></TableTd>
                    <TableTd>{s.model?.name ?? <Text span c="dimmed">none yet</Text>}</TableTd>
                    <TableTd>{s.modelAlias}</TableTd>
                    <TableTd style={{ whiteSpace: "nowrap" }}>{s.timeoutMs} ms</TableTd>
                    <TableTd>{s.defaultTopK}</TableTd>
                    <TableTd><Stage2Cell surface={s.key} stage2={stage2ConfigSchema.safeParse(s.stage2).data ?? null} requireApproval={s.requireApproval} /></TableTd>
                    <TableTd>{s.killSwitch ? <WrappingBadge color="red" tt="uppercase">kill switch on</WrappingBadge> : <Badge color="teal" variant="light" miw="max-content">model</Badge>}</TableTd>
                  </TableTr>
                ))}
              </TableTbody>
            </Table>
          </TableScrollContainer>
          </>
        )}
      </Card>
    </Stack>
  );
}
