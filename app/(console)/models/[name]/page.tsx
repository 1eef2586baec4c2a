import { Badge, Card, Group, Stack, Table, TableScrollContainer, TableTbody, TableTd, TableTh, TableThead, TableTr, Text, Title } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { readOrNotFound } from "../../../_server/readOrNotFound";
import { AnchorLink } from "../../../_components/AnchorLink";
import { PageHeader } from "../../../_components/PageHeader";
import { SetAliasCard, UploadVersionCard } from "./ModelActions";

export async function generateMetadata({ params }: { params: Promise<{ name: string }> }): Promise<Metadata> {
  return { title: (await params).name };
}

const fmt = (v: number | undefined) => (v === undefined ? "—" : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4));

export default async function ModelPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  const caller = await serverCaller();
  const model = await readOrNotFound(caller.models.get({ name }));
  const latest = model.versions[0];
  const latestCard = latest ? await caller.models.version({ name, version: latest.version }) : null;
  const metricKeys = [...new Set(model.versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  return (
    <Stack>
      <PageHeader title={model.name} subtitle={`${model.description || "No description"} · owner ${model.owner}${model.surface ? ` · surface ${model.surface}` : ""}`} />
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Aliases</Title>
        {model.aliases.length === 0 ? <Text c="dimmed" size="sm">No alias points at a version yet.</Text> : (
          <Group gap="xs" data-testid="aliases">
            {model.aliases.map((a) => (
              <Badge key={a.name} size="lg" variant="light" data-testid={`alias-${a.name}`}>{a.name} → v{a.version}</Badge>
            ))}
          </Group>
        )}
      </Card>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Versions</Title>
        <TableScrollContainer minWidth={720}>
          <Table striped data-testid="versions-table">
            <TableThead>
              <TableTr>
                <TableTh>Version</TableTh><TableTh>Kind</TableTh><TableTh>Source</TableTh><TableTh>Parent</TableTh><TableTh>Aliases</TableTh>
                {metricKeys.map((k) => <TableTh key={k}>{k}</TableTh>)}
                <TableTh>Size</TableTh><TableTh>Created</TableTh>
              </TableTr>
            </TableThead>
            <TableTbody>
              {model.versions.map((v) => (
                <TableTr key={v.id}>
                  <TableTd><AnchorLink href={`/models/${model.name}/v/${v.version}`} fw={600}>v{v.version}</AnchorLink></TableTd>
                  <TableTd><Text size="sm" c={v.format === "cross-encoder" ? "grape" : undefined} style={{ whiteSpace: "nowrap" }} data-testid={`kind-v${v.version}`}>{v.format === "cross-encoder" ? "cross-encoder" : "tabular"}</Text></TableTd>
                  <TableTd>{v.source}</TableTd>
                  <TableTd>{v.parentVersion ? `v${v.parentVersion}` : "—"}</TableTd>
                  <TableTd><Group gap={4}>{v.aliases.map((a) => <Badge key={a} size="sm" variant="light">{a}</Badge>)}</Group></TableTd>
                  {metricKeys.map((k) => <TableTd key={k}>{fmt(v.metrics[k])}</TableTd>)}
                  <TableTd>{(v.sizeBytes / 1024).toFixed(1)} KiB</TableTd>
                  <TableTd>{v.createdAt.toISOString().slice(0, 16).replace("T", " ")}</TableTd>
                </TableTr>
              ))}
            </TableTbody>
          </Table>
        </TableScrollContainer>
      </Card>
      {model.versions.length > 0 && <SetAliasCard modelName={model.name} versions={model.versions.map((v) => ({ id: v.id, version: v.version }))} aliases={model.aliases} />}
      <UploadVersionCard
        modelName={model.name}
        versions={model.versions.map((v) => v.version)}
        defaultFormat={model.versions[0]?.format === "cross-encoder" ? "cross-encoder" : "onnx"}
        defaultSpec={JSON.stringify(latestCard?.featureSpec ?? [{ name: "retrieval_score", source: "candidate", type: "float", default: 0 }], null, 2)}
      />
    </Stack>
  );
}
