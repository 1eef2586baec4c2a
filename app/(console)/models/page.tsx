import { Badge, Card, Group, Stack, Table, TableScrollContainer, TableTbody, TableTd, TableTh, TableThead, TableTr } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { EmptyState } from "../../_components/EmptyState";
import { AnchorLink } from "../../_components/AnchorLink";
import { PageHeader } from "../../_components/PageHeader";
import { RegisterModelButton } from "./RegisterModelButton";

export const metadata: Metadata = { title: "Models" };

export default async function ModelsPage() {
  const caller = await serverCaller();
  const [models, surfaces] = await Promise.all([caller.models.list(), caller.surfaces.list()]);
  return (
    <Stack>
      <Group justify="space-between" align="flex-start">
        <PageHeader title="Models" subtitle="The registry: versions, aliases (production, canary, shadow), lineage and offline metrics." />
        <RegisterModelButton surfaces={surfaces.map((s) => s.key)} />
      </Group>
      {models.length === 0 ? (
        <EmptyState
          title="No models registered yet"
          description="Registered models appear here with their versions side by side, the aliases that point at them and where each is live. Every upload is loaded in onnxruntime and its signature checked against its feature spec before it is stored."
          steps={[
            { text: "Train the built-in rankers on the LETOR sample:", command: "npm run models:train" },
            { text: "Register a model, then upload an ONNX file (or a LightGBM / XGBoost model) with its feature spec." },
            { text: "Point the production alias of a surface's model at a version." },
          ]}
        />
      ) : (
        <Card withBorder>
          <TableScrollContainer minWidth={640}>
            <Table striped>
              <TableThead><TableTr><TableTh>Model</TableTh><TableTh>Surface</TableTh><TableTh>Versions</TableTh><TableTh>Aliases</TableTh><TableTh>Owner</TableTh></TableTr></TableThead>
              <TableTbody>
                {models.map((m) => (
                  <TableTr key={m.id}>
                    <TableTd><AnchorLink href={`/models/${m.name}`} fw={600}>{m.name}</AnchorLink></TableTd><TableTd>{m.surface ?? "—"}</TableTd><TableTd>{m.versions}</TableTd>
                    <TableTd><Group gap={4}>{m.aliases.map((a) => <Badge key={a.name} variant="light">{a.name} → v{a.version}</Badge>)}</Group></TableTd>
                    <TableTd>{m.owner}</TableTd>
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
