import { Alert, Anchor, Badge, Card, Code, Group, SimpleGrid, Stack, Table, TableScrollContainer, TableTbody, TableTd, TableTh, TableThead, TableTr, Text, Title, ScrollAreaAutosize } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { readOrNotFound, versionOrNotFound } from "../../../../../_server/readOrNotFound";
import { AnchorLink } from "../../../../../_components/AnchorLink";
import { PageHeader } from "../../../../../_components/PageHeader";
import { EvaluationCard } from "./EvaluationCard";

export async function generateMetadata({ params }: { params: Promise<{ name: string; version: string }> }): Promise<Metadata> {
  const { name, version } = await params;
  return { title: `${name} v${version}` };
}

export default async function VersionCardPage({ params }: { params: Promise<{ name: string; version: string }> }) {
  const { name, version } = await params;
  const number = versionOrNotFound(version);
  const caller = await serverCaller();
  const [card, surfaces] = await Promise.all([readOrNotFound(caller.models.version({ name, version: number })), caller.surfaces.list()]);
  const metrics = Object.entries(card.metrics);
  // Written by the upload only (SERVER_METADATA_KEYS); read defensively all the same: a page must not fail on a stored value.
  const stored = (card.metadata as { uploadWarnings?: unknown }).uploadWarnings;
  const uploadWarnings = Array.isArray(stored) ? stored.filter((w): w is string => typeof w === "string") : [];
  return (
    <Stack>
      <PageHeader title={`${card.model.name} v${card.version}`} subtitle={`${card.source} · ${(card.sizeBytes / 1024).toFixed(1)} KiB · created ${card.createdAt.toISOString().slice(0, 16).replace("T", " ")} by ${card.createdBy}`} />
      {uploadWarnings.length > 0 && (
        <Alert color="yellow" title="Features no row of the feature store carried at upload" data-testid="upload-warnings">
          {uploadWarnings.map((w) => <Text size="sm" key={w}>{w}</Text>)}
        </Alert>
      )}
      <Group gap="xs" data-testid="version-aliases">
        {card.aliases.map((a) => <Badge key={a} size="lg" variant="light">{a}</Badge>)}
        {card.crossEncoder && <Badge size="lg" color="grape" variant="outline" data-testid="version-kind">cross-encoder</Badge>}
        <Anchor href={`/api/v1/models/${card.model.name}/versions/${card.version}/artifact`}>{card.format === "cross-encoder" ? "Download bundle (.tar)" : "Download ONNX"}</Anchor>
      </Group>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Offline metrics</Title>
          {metrics.length === 0 ? <Text c="dimmed" size="sm">No metrics recorded for this version.</Text> : (
            <Table data-testid="version-metrics"><TableTbody>{metrics.map(([k, v]) => <TableTr key={k}><TableTd>{k}</TableTd><TableTd>{Number(v).toFixed(4)}</TableTd></TableTr>)}</TableTbody></Table>
          )}
        </Card>
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Where it is live</Title>
          {card.live.length === 0 && card.experiments.length === 0 ? <Text c="dimmed" size="sm">Not serving any surface or experiment.</Text> : (
            <Stack gap={4}>
              {card.live.map((l) => <Text key={`${l.surface}-${l.role}`} size="sm">{l.surface}: {l.role} (alias {l.alias})</Text>)}
              {card.experiments.map((e) => <Text key={e.experiment} size="sm">experiment {e.name}: variant {e.variant} ({e.status})</Text>)}
            </Stack>
          )}
          <Title order={5} mt="md" mb="sm">Lineage</Title>
          <Group gap={6}>
            <Badge>v{card.version}</Badge>
            {card.lineage.map((p) => <Group key={p.id} gap={6}><Text size="sm">←</Text><AnchorLink href={`/models/${p.modelName}/v/${p.version}`}>{p.modelName === card.model.name ? `v${p.version}` : `${p.modelName} v${p.version}`}</AnchorLink></Group>)}
            {card.lineage.length === 0 && <Text size="sm" c="dimmed">no parent</Text>}
          </Group>
          <Text size="xs" c="dimmed" mt="md" style={{ wordBreak: "break-all" }}>sha256 {card.sha256} · input {card.inputName} · output {card.outputName}</Text>
        </Card>
      </SimpleGrid>
      {card.crossEncoder ? <CrossEncoderCard config={card.crossEncoder} /> : card.format === "cross-encoder" ? null : (
        <>
        <EvaluationCard name={card.model.name} version={card.version} featureCount={card.featureSpec.length} surfaces={surfaces.map((s) => s.key)} />
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Feature spec ({card.featureSpec.length})</Title>
          <ScrollAreaAutosize mah={520} type="auto">
          <TableScrollContainer minWidth={640}>
            <Table striped stickyHeader data-testid="feature-spec">
              <TableThead><TableTr><TableTh>#</TableTh><TableTh>Feature</TableTh><TableTh>Source</TableTh><TableTh>Default</TableTh><TableTh>Fresh for</TableTh><TableTh>Expected mean ± std</TableTh></TableTr></TableThead>
              <TableTbody>
                {card.featureSpec.map((f, i) => (
                  <TableTr key={f.name}>
                    <TableTd>{i}</TableTd>
                    <TableTd><Text size="sm" fw={500}>{f.name}</Text>{f.description && <Text size="xs" c="dimmed">{f.description}</Text>}</TableTd>
                    <TableTd>{f.source}</TableTd><TableTd>{f.default}</TableTd>
                    <TableTd>{f.freshnessSeconds ? `${Math.round(f.freshnessSeconds / 3600)} h` : "—"}</TableTd>
                    <TableTd>{f.distribution ? `${f.distribution.mean.toFixed(3)} ± ${f.distribution.std.toFixed(3)}` : "—"}</TableTd>
                  </TableTr>
                ))}
              </TableTbody>
            </Table>
          </TableScrollContainer>
          </ScrollAreaAutosize>
        </Card>
        </>
      )}
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Metadata</Title>
        <Code block>{JSON.stringify(card.metadata, null, 2)}</Code>
      </Card>
    </Stack>
  );
}

/** A cross-encoder version's config, as its upload checked it: what it reads and how much of it. */
function CrossEncoderCard({ config }: { config: NonNullable<Awaited<ReturnType<Awaited<ReturnType<typeof serverCaller>>["models"]["version"]>>["crossEncoder"]> }) {
  const rows: Array<[string, string]> = [
    ["Scores", "(query, document text) pairs: one logit per pair, in the cross-encoder worker pool"],
    ["Max sequence length", `${config.maxLength} tokens per pair, special tokens included (longer documents are truncated and counted)`],
    ["Text fields", config.textFields.join(", ")],
    ["Model inputs", config.inputs.join(", ")],
    ["Output", config.output ?? "the first output"],
    ["Tokenizer", `${config.tokenizerTokens} tokens${config.vocabSize !== undefined ? ` · embedding ${config.vocabSize} rows` : ""}`],
  ];
  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="sm">Cross-encoder</Title>
      <TableScrollContainer minWidth={320}>
        <Table data-testid="cross-encoder-config"><TableTbody>{rows.map(([k, v]) => <TableTr key={k}><TableTd fw={500} style={{ whiteSpace: "nowrap" }}>{k}</TableTd><TableTd>{v}</TableTd></TableTr>)}</TableTbody></Table>
      </TableScrollContainer>
    </Card>
  );
}
