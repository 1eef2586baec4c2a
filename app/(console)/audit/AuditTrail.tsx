"use client";
import { ActionIcon, Alert, Badge, Button, Card, Code, Group, Loader, Select, SimpleGrid, Stack, Table, Text, TextInput } from "@mantine/core";
import { IconChevronDown, IconChevronRight, IconDownload } from "@tabler/icons-react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { Fragment, useEffect, useMemo, useState } from "react";
import type { AuditAction } from "@/server/domain/audit/actions";
import type { AppRouter } from "@/server/routers/_app";
import { AuditSentence } from "../../_components/AuditSentence";
import { useTRPC } from "../../_trpc/client";

type Entry = inferRouterOutputs<AppRouter>["audit"]["list"]["entries"][number];

/** The filter as it sits in the URL: times as ISO instants, empty strings for "any". */
export interface AuditFilterState {
  actor: string;
  action: string;
  surface: string;
  from: string;
  to: string;
}

const KIND_LABEL: Record<string, string> = { api_key: "API key", system: "system" };

/** ISO instant → the value of a datetime-local input (the browser's time zone), and back. */
const toLocalInput = (iso: string) => {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (local: string) => (local ? new Date(local).toISOString() : "");

function queryString(f: AuditFilterState): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) params.set(k, v);
  return params.toString();
}

export function AuditTrail({ initial }: { initial: AuditFilterState }) {
  const trpc = useTRPC();
  const [filter, setFilter] = useState<AuditFilterState>(initial);
  const set = (key: keyof AuditFilterState) => (value: string | null) => setFilter((f) => ({ ...f, [key]: value ?? "" }));
  const facets = useQuery(trpc.audit.facets.queryOptions());
  const input = useMemo(
    () => ({
      actor: filter.actor || undefined,
      action: (filter.action || undefined) as AuditAction | undefined,
      surface: filter.surface || undefined,
      from: filter.from ? new Date(filter.from) : undefined,
      to: filter.to ? new Date(filter.to) : undefined,
    }),
    [filter],
  );
  const list = useInfiniteQuery(trpc.audit.list.infiniteQueryOptions({ filter: input, limit: 50 }, { getNextPageParam: (last) => last.nextCursor }));
  const qs = queryString(filter);
  // Keep the filter in the URL, so a filtered view can be shared and survives a reload.
  useEffect(() => {
    window.history.replaceState(null, "", qs ? `/audit?${qs}` : "/audit");
  }, [qs]);
  const entries = list.data?.pages.flatMap((p) => p.entries) ?? [];
  const anyFilter = Object.values(filter).some(Boolean);

  return (
    <Stack>
      <Card withBorder padding="md">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 5 }} spacing="sm">
          <Select label="Actor" placeholder="anyone" searchable clearable value={filter.actor || null} onChange={set("actor")}
            data={(facets.data?.actors ?? []).map((a) => ({ value: a.name, label: KIND_LABEL[a.kind] ? `${a.name} (${KIND_LABEL[a.kind]})` : a.name }))} />
          <Select label="Action" placeholder="any action" searchable clearable value={filter.action || null} onChange={set("action")}
            data={(facets.data?.actions ?? []).map((a) => ({ value: a.name, label: a.title }))} />
          <Select label="Surface" placeholder="any surface" clearable value={filter.surface || null} onChange={set("surface")}
            data={(facets.data?.surfaces ?? []).map((s) => ({ value: s.key, label: s.key }))} />
          <TextInput label="From" type="datetime-local" value={toLocalInput(filter.from)} onChange={(e) => set("from")(fromLocalInput(e.currentTarget.value))} />
          <TextInput label="To" type="datetime-local" value={toLocalInput(filter.to)} onChange={(e) => set("to")(fromLocalInput(e.currentTarget.value))} />
        </SimpleGrid>
        <Group justify="space-between" mt="sm">
          <Text size="sm" c="dimmed">Newest first.{anyFilter ? " Filtered." : ""}</Text>
          <Group gap="xs">
            {anyFilter && <Button variant="subtle" size="xs" onClick={() => setFilter({ actor: "", action: "", surface: "", from: "", to: "" })}>Clear filters</Button>}
            <Button component="a" href={`/api/v1/audit.csv${qs ? `?${qs}` : ""}`} download variant="light" size="xs" leftSection={<IconDownload size={14} />}>
              Export CSV
            </Button>
          </Group>
        </Group>
      </Card>

      {list.error ? (
        <Alert color="red" title="Could not load the audit trail">{list.error.message}</Alert>
      ) : !list.data ? (
        <Loader />
      ) : entries.length === 0 ? (
        <Card withBorder padding="lg"><Text c="dimmed">{anyFilter ? "No entries match these filters." : "Nothing has been recorded yet."}</Text></Card>
      ) : (
        <Card withBorder padding={0}>
          <Table.ScrollContainer minWidth={300}>
            <Table verticalSpacing="sm" data-testid="audit-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={36} />
                  <Table.Th>What happened</Table.Th>
                  <Table.Th visibleFrom="sm">Action</Table.Th>
                  <Table.Th visibleFrom="sm" w={170}>When</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {entries.map((e) => <EntryRow key={e.id} entry={e} />)}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      )}
      {list.hasNextPage && (
        <Group justify="center">
          <Button variant="default" loading={list.isFetchingNextPage} onClick={() => list.fetchNextPage()}>Load older entries</Button>
        </Group>
      )}
    </Stack>
  );
}

function EntryRow({ entry: e }: { entry: Entry }) {
  const [open, setOpen] = useState(false);
  const when = new Date(e.ts);
  return (
    <Fragment>
      <Table.Tr data-testid="audit-entry">
        <Table.Td>
          <ActionIcon variant="subtle" color="gray" onClick={() => setOpen((o) => !o)} aria-expanded={open} aria-label={open ? "Hide details" : "Show details"}>
            {open ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
          </ActionIcon>
        </Table.Td>
        <Table.Td>
          <Group gap={6} wrap="nowrap" align="flex-start">
            <AuditSentence size="sm" parts={e.description.parts} data-testid="audit-sentence" />
            {KIND_LABEL[e.actor.kind] && <Badge size="xs" variant="outline" color="gray" style={{ flexShrink: 0 }}>{KIND_LABEL[e.actor.kind]}</Badge>}
          </Group>
          {e.reason && <Text size="xs" c="dimmed" mt={2} data-testid="audit-reason">Reason: {e.reason}</Text>}
          <Text size="xs" c="dimmed" hiddenFrom="sm" mt={2}>{when.toLocaleString()} · {e.title}</Text>
        </Table.Td>
        <Table.Td visibleFrom="sm"><Badge variant="light" size="sm" title={e.action}>{e.title}</Badge></Table.Td>
        <Table.Td visibleFrom="sm"><Text size="xs" title={when.toISOString()}>{when.toLocaleString()}</Text></Table.Td>
      </Table.Tr>
      {open && (
        <Table.Tr data-testid="audit-details">
          <Table.Td />
          <Table.Td colSpan={3}>
            <Stack gap="xs">
              {e.description.details.length > 0 ? (
                <Table withTableBorder withColumnBorders verticalSpacing={4} fz="xs" maw={720}>
                  <Table.Thead><Table.Tr><Table.Th>Field</Table.Th><Table.Th>Before</Table.Th><Table.Th>After</Table.Th></Table.Tr></Table.Thead>
                  <Table.Tbody>
                    {e.description.details.map((d) => (
                      <Table.Tr key={d.field}>
                        <Table.Td>{d.field}</Table.Td>
                        <Table.Td style={{ wordBreak: "break-word" }}>{d.before ?? <Text span c="dimmed" inherit>—</Text>}</Table.Td>
                        <Table.Td style={{ wordBreak: "break-word" }}>{d.after ?? <Text span c="dimmed" inherit>—</Text>}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              ) : (
                <Text size="xs" c="dimmed">No field-level changes recorded.</Text>
              )}
              <Text size="xs" c="dimmed">
                Entry {e.id} · <Code fz="xs">{e.action}</Code> on {e.subject.kind.replace("_", " ")} {e.subject.label}
                {e.surfaces.length > 0 && <> · surfaces {e.surfaces.join(", ")}</>}
                {" · "}{e.actor.name} ({e.actor.kind === "anonymous" ? "not signed in" : e.actor.kind.replace("_", " ")}{e.actor.id ? ` ${e.actor.id}` : ""})
                {e.requestId && <> · request {e.requestId}</>}
                {e.clientAddress && <> · from {e.clientAddress}</>}
                {" · "}{when.toISOString()}
              </Text>
            </Stack>
          </Table.Td>
        </Table.Tr>
      )}
    </Fragment>
  );
}
