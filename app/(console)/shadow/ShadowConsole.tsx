"use client";
import { usePermission } from "@/app/_auth/AccessProvider";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { ConfirmChangeDialog } from "@/app/_components/ConfirmChangeDialog";
import { Alert, Button, Card, Code, Flex, Group, Loader, NumberInput, Paper, SegmentedControl, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import Link from "next/link";
import { hrefs } from "@/server/domain/audit/subject";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import { percentOfShare, shareOfPercent } from "@/server/domain/percent";
import type { AppRouter } from "@/server/routers/_app";
import { HistogramChart } from "../../_components/charts/HistogramChart";
import { SurfacePicker } from "../../_components/SurfacePicker";
import { useTRPC } from "../../_trpc/client";
import { IdList, PromoteToCanaryButton } from "./ShadowLists";

const WINDOWS = [
  { value: "1", label: "1 h" },
  { value: "24", label: "24 h" },
  { value: "168", label: "7 d" },
];
const fixed = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : "—");
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : "—");

export function ShadowConsole({ surfaces, initialSurface }: { surfaces: Array<{ key: string; name: string }>; initialSurface: string | null }) {
  const [surface, setSurface] = useState(initialSurface);
  const [hours, setHours] = useState("24");
  const [versionId, setVersionId] = useState<string | null>(null);
  if (!surface) return <Alert color="gray">No surfaces yet: a shadow compares a candidate on a surface&apos;s traffic.</Alert>;
  return (
    <Stack>
      {/* Below `sm` the surface select takes the row and the window goes under it (beside it, the select was ~185 px at 390 px and cut the names). */}
      <Flex justify="space-between" wrap={{ base: "wrap", sm: "nowrap" }} align="flex-start" gap="sm">
        <SurfacePicker label="Surface" surfaces={surfaces} value={surface} onChange={(v) => { setSurface(v); setVersionId(null); }} />
        <SegmentedControl aria-label="Window" data={WINDOWS} value={hours} onChange={setHours} style={{ flexShrink: 0 }} />
      </Flex>
      <SurfaceShadow surface={surface} hours={Number(hours)} versionId={versionId} onVersion={setVersionId} />
    </Stack>
  );
}

function SurfaceShadow({ surface, hours, versionId, onVersion }: { surface: string; hours: number; versionId: string | null; onVersion: (id: string | null) => void }) {
  const trpc = useTRPC();
  const overview = useQuery({ ...trpc.shadow.overview.queryOptions({ surface, hours, ...(versionId ? { versionId } : {}) }), refetchInterval: 10_000 });
  if (!overview.data) return overview.error ? <Alert color="red">{overview.error.message}</Alert> : <Loader />;
  const o = overview.data;
  const selected = o.selected;
  return (
    <Stack>
      {/* Keyed by the stored config: the form starts from it again whenever it changes. */}
      <ShadowConfig key={`${o.surface.key}|${o.surface.shadowAlias}|${o.surface.sampleRate}`} overview={o} />
      {o.versions.length === 0 || !selected ? (
        <Alert color="gray" title={`No mirrored requests on ${o.surface.name} in the last ${hours} h`} data-testid="shadow-empty">
          {o.surface.shadowAlias
            ? "Requests to this surface are mirrored as they arrive; comparisons appear here within seconds of the first sampled request."
            : "Choose a candidate alias and a sample rate above to start mirroring."}
        </Alert>
      ) : (
        <>
          {o.versions.length > 1 && (
            <Select
              label="Candidate"
              w={320}
              data={o.versions.map((v) => ({ value: v.versionId, label: `${v.label} · ${v.records.toLocaleString()} requests` }))}
              value={selected.versionId}
              onChange={(v) => onVersion(v)}
              allowDeselect={false}
            />
          )}
          <Group justify="space-between" gap="xs">
            <Text size="sm">Candidate <b>{selected.label}</b> against what <Code>{o.surface.servingAlias}</Code> served.</Text>
            <PromoteToCanaryButton
              surface={o.surface.key}
              modelName={o.surface.modelName}
              serving={o.aliases.find((a) => a.alias === o.surface.servingAlias) ?? null}
              candidateVersion={selected.version}
            />
          </Group>
          <Comparison surface={surface} hours={hours} selected={selected} servingAlias={o.surface.servingAlias} />
        </>
      )}
    </Stack>
  );
}

type Overview = inferRouterOutputs<AppRouter>["shadow"]["overview"];

function ShadowConfig({ overview }: { overview: Overview }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const s = overview.surface;
  const [alias, setAlias] = useState<string>(s.shadowAlias ?? "off");
  const [rate, setRate] = useState<number>(percentOfShare(s.sampleRate));
  const [reason, setReason] = useState("");
  const [confirming, setConfirming] = useState(false);
  const save = useMutation(
    trpc.shadow.configure.mutationOptions({
      onSuccess: (r) => {
        notifications.show({ color: "teal", message: r.shadowAlias ? `Mirroring ${percentOfShare(r.shadowSampleRate)}% of ${r.key} to ${r.shadowAlias}` : `Mirroring stopped on ${r.key}` });
        setReason("");
        setConfirming(false);
        return queryClient.invalidateQueries({ queryKey: trpc.shadow.overview.queryKey() });
      },
      onError: (e) => notifications.show({ color: "red", message: e.message }),
    }),
  );
  const current = overview.aliases.find((a) => a.alias === s.shadowAlias);
  // Above half of the traffic a mirror costs real capacity: that goes through the confirm dialog.
  const wide = alias !== "off" && rate > 50;
  // Pinned to the mirroring this form started from (it starts again from the stored one when that changes).
  const submit = (why: string) => save.mutate({
    surface: s.key, alias: alias === "off" ? null : alias, sampleRate: alias === "off" ? 0 : shareOfPercent(rate), ...(why.trim() ? { reason: why.trim() } : {}),
    expectBefore: { alias: s.shadowAlias, sampleRate: s.sampleRate },
  });
  const options = [{ value: "off", label: "off (no mirroring)" }, ...overview.aliases.filter((a) => a.alias !== s.servingAlias).map((a) => ({ value: a.alias, label: `${a.alias} → v${a.version}` }))];
  return (
    <Card withBorder padding="md">
      <Group justify="space-between" align="flex-end">
        <Stack gap={4}>
          <Title order={5}>Mirroring</Title>
          <Text size="sm" data-testid="shadow-status">
            {s.modelName === null
              ? "This surface has no model."
              : current
                ? <>Serving <Code>{s.servingAlias}</Code>; <b>{percentOfShare(s.sampleRate)}%</b> of requests also scored by <Code>{current.alias}</Code> ({s.modelName} v{current.version}).</>
                : <>Serving <Code>{s.servingAlias}</Code>; no shadow.</>}
          </Text>
        </Stack>
        <Group align="flex-end" gap="xs">
          <Select label="Shadow alias" data={options} value={alias} onChange={(v) => setAlias(v ?? "off")} w={190} allowDeselect={false} disabled={s.modelName === null} />
          <NumberInput label="Sample rate (%)" value={rate} onChange={(v) => setRate(Number(v))} min={0} max={100} step={5} decimalScale={4} w={130} disabled={alias === "off"} />
          <TextInput label="Reason (audit log)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} w={220} placeholder="why this change" />
          <GuardedButton permission="shadow.write" onClick={() => (wide ? setConfirming(true) : submit(reason))} loading={save.isPending}>
            Save
          </GuardedButton>
        </Group>
      </Group>
      {confirming && (
        <ConfirmChangeDialog
          title={`Mirror ${rate}% of ${s.key}`}
          changes={[
            `${s.key}: ${rate}% of requests also scored by ${alias} (${s.modelName} v${overview.aliases.find((a) => a.alias === alias)?.version ?? "?"}), up from ${percentOfShare(s.sampleRate)}%`,
            "a mirror costs about as much as the request it copies: expect lower throughput and a higher p50 at this rate",
          ]}
          confirmLabel="Mirror"
          color="orange"
          pending={save.isPending}
          onClose={() => setConfirming(false)}
          onConfirm={submit}
        />
      )}
    </Card>
  );
}

function Stat({ label, value, detail, testId }: { label: string; value: string; detail?: string; testId?: string }) {
  return (
    <Card withBorder padding="sm">
      {/* Not upper-cased: τ and ρ would turn into Τ and Ρ, which read as T and P. */}
      <Text size="xs" c="dimmed" fw={600}>{label}</Text>
      <Text fw={700} size="lg" data-testid={testId}>{value}</Text>
      {detail && <Text size="xs" c="dimmed">{detail}</Text>}
    </Card>
  );
}

function Comparison({ surface, hours, selected, servingAlias }: { surface: string; hours: number; selected: NonNullable<Overview["selected"]>; servingAlias: string }) {
  const m = selected.summary;
  return (
    <Stack>
      <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }}>
        <Stat label="Mirrored requests" value={selected.recordsInWindow.toLocaleString()} detail={m.records < selected.recordsInWindow ? `statistics over the newest ${m.records.toLocaleString()}` : `last ${hours} h`} testId="shadow-records" />
        <Stat label="Candidate errors" value={m.errors.toLocaleString()} detail={m.records ? `${((m.errors / m.records) * 100).toFixed(1)}% of mirrored` : undefined} testId="shadow-errors" />
        <Stat label="Overlap@10" value={fixed(m.overlapAt10.mean)} detail={`median ${fixed(m.overlapAt10.p50, 2)} · p10 ${fixed(m.overlapAt10.p10, 2)}`} testId="shadow-overlap" />
        <Stat label="Rank-biased overlap" value={fixed(m.rbo.mean)} detail={`p = 0.9, top-weighted · median ${fixed(m.rbo.p50, 2)}`} testId="shadow-rbo" />
        <Stat label="Kendall τ" value={fixed(m.kendallTau.p50)} detail={`median of full orderings · mean ${fixed(m.kendallTau.mean)}`} testId="shadow-kendall" />
        <Stat label="Spearman ρ" value={fixed(m.spearmanRho.p50)} detail={`median · p10 ${fixed(m.spearmanRho.p10, 2)}`} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder padding="md">
          <Title order={6}>Overlap@10 with the served list</Title>
          <Text size="xs" c="dimmed" mb="xs">Share of the served top 10 the candidate would also have shown, per request.</Text>
          <HistogramChart series={[{ name: "requests", bins: m.overlapAt10.histogram }]} />
        </Card>
        <Card withBorder padding="md">
          <Title order={6}>Kendall τ of the full orderings</Title>
          <Text size="xs" c="dimmed" mb="xs">All candidates as each model ordered them: 1 identical, 0 unrelated, −1 reversed.</Text>
          <HistogramChart series={[{ name: "requests", bins: m.kendallTau.histogram }]} />
        </Card>
        <Card withBorder padding="md">
          <Title order={6}>Scores of the top k</Title>
          <Text size="xs" c="dimmed" mb="xs">Served items ({servingAlias}) next to the candidate&apos;s top k, on one axis. Means {fixed(m.scores.primaryMean)} vs {fixed(m.scores.shadowMean)}.</Text>
          <HistogramChart series={[{ name: servingAlias, bins: m.scores.primary }, { name: "candidate", bins: m.scores.shadow }]} digits={2} />
        </Card>
      </SimpleGrid>
      <Card withBorder padding="md">
        <Title order={6} mb="xs">Scoring latency</Title>
        <Table data-testid="shadow-latency" withTableBorder={false}>
          <Table.Thead><Table.Tr><Table.Th>model</Table.Th><Table.Th>p50</Table.Th><Table.Th>p95</Table.Th><Table.Th>p99</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>
            <Table.Tr><Table.Td>serving ({servingAlias}): the request&apos;s score stage</Table.Td><Table.Td>{ms(m.latencyMs.primary.p50)}</Table.Td><Table.Td>{ms(m.latencyMs.primary.p95)}</Table.Td><Table.Td>{ms(m.latencyMs.primary.p99)}</Table.Td></Table.Tr>
            <Table.Tr><Table.Td>candidate ({selected.label}): features and run, off the hot path</Table.Td><Table.Td>{ms(m.latencyMs.shadow.p50)}</Table.Td><Table.Td>{ms(m.latencyMs.shadow.p95)}</Table.Td><Table.Td>{ms(m.latencyMs.shadow.p99)}</Table.Td></Table.Tr>
          </Table.Tbody>
        </Table>
      </Card>
      <Disagreements surface={surface} hours={hours} versionId={selected.versionId} />
    </Stack>
  );
}

function Disagreements({ surface, hours, versionId }: { surface: string; hours: number; versionId: string }) {
  const trpc = useTRPC();
  const access = usePermission("requests.read");
  const rows = useQuery({ ...trpc.shadow.disagreements.queryOptions({ surface, hours, versionId, limit: 8 }), refetchInterval: 10_000, enabled: access.allowed });
  return (
    <Card withBorder padding="md">
      <Title order={6}>Where they disagree most</Title>
      <Text size="xs" c="dimmed" mb="xs">Compared requests, lowest overlap first; the candidate&apos;s newest errors are listed apart below. Items in only one of the two lists are highlighted. Open a request to see both lists side by side with the features behind the largest moves.</Text>
      {!access.allowed ? (
        <Text size="sm" c="dimmed" data-testid="shadow-disagreements-denied">{access.reason}: the requests behind the disagreements are request data.</Text>
      ) : rows.error ? (
        <Text size="sm" c="red">{rows.error.message}</Text>
      ) : !rows.data ? (
        <Loader size="sm" />
      ) : (
        <Stack gap="xs">
          <Stack gap="xs" data-testid="shadow-disagreements">
            {rows.data.disagreements.length === 0 && <Text size="sm" c="dimmed" data-testid="shadow-no-comparisons">No compared request in this window{rows.data.recentErrors.length > 0 ? ": every mirrored run failed (below)" : ""}.</Text>}
            {rows.data.disagreements.map((r) => <DisagreementRow key={`${r.requestId}:${new Date(r.ts).getTime()}:${r.owner}`} row={r} versionId={versionId} testId="shadow-disagreement" />)}
          </Stack>
          {rows.data.recentErrors.length > 0 && (
            <Stack gap="xs" data-testid="shadow-recent-errors">
              <Text size="xs" fw={600} c="red">Newest candidate errors (failed runs before refusals of an open circuit; the overview counts them)</Text>
              {rows.data.recentErrors.map((r) => <DisagreementRow key={`${r.requestId}:${new Date(r.ts).getTime()}:${r.owner}`} row={r} versionId={versionId} testId="shadow-error-row" />)}
            </Stack>
          )}
        </Stack>
      )}
    </Card>
  );
}

type DisagreementData = inferRouterOutputs<AppRouter>["shadow"]["disagreements"]["disagreements"][number];

function DisagreementRow({ row: r, versionId, testId }: { row: DisagreementData; versionId: string; testId: string }) {
  const served = new Set(r.primary.map((i) => i.id));
  const shadow = new Set(r.shadow.map((i) => i.id));
  return (
    <Paper withBorder p="xs" data-testid={testId}>
      <Group justify="space-between" gap="xs" mb={6}>
        <Stack gap={0} style={{ minWidth: 0 }}>
          <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }} data-testid="disagreement-request">{r.requestId}</Text>
          <Text size="xs" c="dimmed">
            {new Date(r.ts).toLocaleTimeString()} · overlap@10 {r.overlapAt10 === null ? "—" : r.overlapAt10.toFixed(1)} · RBO {r.rbo === null ? "—" : r.rbo.toFixed(2)} · τ {r.kendallTau === null ? "—" : r.kendallTau.toFixed(2)}
          </Text>
        </Stack>
        <Group gap={6}>
          <Button size="compact-xs" variant="light" component={Link} href={hrefs.shadowComparison(r.requestId, versionId, r.ts, r.owner)} data-testid="open-comparison">Side by side</Button>
          <Button size="compact-xs" variant="default" component={Link} href={hrefs.request(r.requestId, r.ts, r.owner)} data-testid="open-debug">Debug</Button>
        </Group>
      </Group>
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs">
        <Stack gap={2}><Text size="xs" c="dimmed">served top 10</Text><IdList ids={r.primary.map((i) => i.id)} other={shadow} /></Stack>
        <Stack gap={2}>
          <Text size="xs" c="dimmed">candidate top 10</Text>
          {r.error ? <Text size="xs" c="red" data-testid="disagreement-error">{r.error}</Text> : <IdList ids={r.shadow.map((i) => i.id)} other={served} />}
        </Stack>
      </SimpleGrid>
    </Paper>
  );
}
