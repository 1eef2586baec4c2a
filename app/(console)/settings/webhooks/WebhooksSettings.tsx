"use client";
import { Alert, Badge, Button, Card, Checkbox, Code, CopyButton, Group, Loader, Menu, Modal, SegmentedControl, Select, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconDots, IconSend, IconWebhook } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { WEBHOOK_EVENT_KIND_NAMES, WEBHOOK_EVENT_KINDS, WEBHOOK_FORMATS, type WebhookEventKind, type WebhookFormat } from "@/server/domain/webhooks/events";
import { usePermission } from "../../../_auth/AccessProvider";
import { EmptyState } from "../../../_components/EmptyState";
import { useTRPC } from "../../../_trpc/client";

interface Draft {
  /** Absent: a new endpoint. */
  id?: string;
  name: string;
  /** Blank when editing: the URL stays as it is (it is shown masked). */
  url: string;
  maskedUrl?: string;
  format: WebhookFormat;
  eventKinds: WebhookEventKind[];
  enabled: boolean;
  /** Editing: the endpoint as the dialog showed it when opened (URL masked, with the list's id of the whole URL); the save applies only while it is still so. */
  shown?: { name: string; url: string; urlId: string; format: WebhookFormat; eventKinds: WebhookEventKind[]; enabled: boolean };
}

const NEW: Draft = { name: "", url: "", format: "standard", eventKinds: [...WEBHOOK_EVENT_KIND_NAMES].filter((k) => k !== "alias.moved"), enabled: true };
const when = (d: Date | string | null) => (d ? new Date(d).toLocaleString() : "—");
// Badges keep their words at 390 px.
const badgeStyles = { root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } } as const;

function StatusBadge({ status, error }: { status: number | null; error: string | null }) {
  if (status !== null && status >= 200 && status < 300) return <Badge color="teal" variant="light" styles={badgeStyles}>{status}</Badge>;
  return <Badge color="red" variant="light" styles={badgeStyles} title={error ?? undefined}>{status ?? "no answer"}</Badge>;
}

export function WebhooksSettings() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const access = usePermission("settings.write");
  const endpoints = useQuery({ ...trpc.webhooks.list.queryOptions(), enabled: access.allowed, refetchInterval: 5000 });
  const [filter, setFilter] = useState<string | null>(null);
  const deliveries = useQuery({ ...trpc.webhooks.deliveries.queryOptions({ endpointId: filter ?? undefined, limit: 100 }), enabled: access.allowed, refetchInterval: 2000 });
  const [draft, setDraft] = useState<Draft | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.webhooks.deliveries.queryKey() });
  };
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const create = useMutation(trpc.webhooks.create.mutationOptions({ onSuccess: (r) => { setDraft(null); setSecret({ name: r.name, secret: r.secret }); refresh(); }, onError }));
  // A 409 (the endpoint changed since the edit dialog opened): the dialog closes and the list reloads, so the person looks again.
  const update = useMutation(trpc.webhooks.update.mutationOptions({
    onSuccess: (r) => { setDraft(null); notifications.show({ color: "teal", message: `${r.name} saved` }); refresh(); },
    onError: (e) => { onError(e); if (e.data?.code === "CONFLICT") { setDraft(null); refresh(); } },
  }));
  const remove = useMutation(trpc.webhooks.remove.mutationOptions({ onSuccess: (r) => { setDeleting(null); notifications.show({ color: "teal", message: `${r.name} deleted` }); refresh(); }, onError }));
  const rotate = useMutation(trpc.webhooks.rotateSecret.mutationOptions({ onError }));
  const sendTest = useMutation(trpc.webhooks.sendTest.mutationOptions({ onSuccess: () => { notifications.show({ color: "teal", message: "Test message queued: its delivery appears in the log below" }); refresh(); }, onError }));

  if (!access.allowed) return <Alert color="gray">{access.reason}</Alert>;
  if (!endpoints.data) return <Loader />;

  const save = (d: Draft) => {
    if (!d.id) create.mutate({ name: d.name, url: d.url, format: d.format, eventKinds: d.eventKinds, enabled: d.enabled });
    else update.mutate({ id: d.id, name: d.name, ...(d.url ? { url: d.url } : {}), format: d.format, eventKinds: d.eventKinds, enabled: d.enabled, expectBefore: d.shown });
  };
  // The switch sets one field to what it says: pressed over a newer change it lands where it was pressed to (nothing else is overwritten).
  const setEnabled = (id: string, enabled: boolean) => update.mutate({ id, enabled });

  return (
    <Stack gap="xl">
      <Stack>
        <Group justify="space-between">
          <Title order={4}>Endpoints</Title>
          <Button leftSection={<IconWebhook size={16} />} onClick={() => setDraft({ ...NEW })}>Add a webhook</Button>
        </Group>
        {endpoints.data.length === 0 ? (
          <EmptyState
            title="No webhooks yet"
            description="Add one to hear about canaries, rollbacks, kill switches, ships and sample-ratio alarms in your chat or incident tool."
            steps={[
              { text: "Press Add a webhook, give the receiver's URL and choose the events (a Slack incoming webhook takes the Slack-compatible format)" },
              { text: "Copy the signing secret shown once, into the receiver's Standard Webhooks verification" },
              { text: "Press Send test: the delivery appears in the log below" },
            ]}
          />
        ) : (
          // Cards rather than a table: every endpoint's levers stay in reach at 390 px.
          <Stack gap="sm" data-testid="webhooks-list">
            {endpoints.data.map((e) => (
              <Card key={e.id} withBorder padding="md" data-testid={`webhook-row-${e.name}`}>
                <Group justify="space-between" align="flex-start" gap="sm">
                  <Stack gap={4} style={{ flex: "1 1 320px", minWidth: 0 }}>
                    <Group gap={6}>
                      <Text fw={600}>{e.name}</Text>
                      <Badge size="xs" variant="outline" styles={badgeStyles}>{e.format === "slack" ? "Slack" : "Standard Webhooks"}</Badge>
                      {!e.enabled && <Badge size="xs" color="gray" variant="light" styles={badgeStyles}>disabled</Badge>}
                    </Group>
                    <Text size="xs" ff="monospace" c="dimmed" style={{ wordBreak: "break-all" }}>{e.url}</Text>
                    <Text size="xs">{e.eventKinds.map((k) => WEBHOOK_EVENT_KINDS[k as WebhookEventKind]?.title ?? k).join(" · ")}</Text>
                    <Group gap={6}>
                      <Text size="xs" c="dimmed">Last delivery:</Text>
                      {e.lastDelivery ? <><StatusBadge status={e.lastDelivery.status} error={e.lastDelivery.error} /><Text size="xs" c="dimmed">{when(e.lastDelivery.createdAt)}</Text></> : <Text size="xs" c="dimmed">none yet</Text>}
                    </Group>
                  </Stack>
                  <Group gap="xs" wrap="nowrap">
                    <Switch checked={e.enabled} onChange={(ev) => setEnabled(e.id, ev.currentTarget.checked)} label="Enabled" aria-label={`${e.name} enabled`} />
                    <Button size="xs" variant="light" leftSection={<IconSend size={14} />} loading={sendTest.isPending && sendTest.variables?.id === e.id} onClick={() => sendTest.mutate({ id: e.id })}>Send test</Button>
                    <Menu position="bottom-end" withinPortal>
                      <Menu.Target><Button size="xs" variant="subtle" aria-label={`More for ${e.name}`}><IconDots size={16} /></Button></Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item onClick={() => {
                          const shown = { name: e.name, url: e.url, urlId: e.urlId, format: e.format as WebhookFormat, eventKinds: e.eventKinds as WebhookEventKind[], enabled: e.enabled };
                          setDraft({ id: e.id, name: e.name, url: "", maskedUrl: e.url, format: shown.format, eventKinds: shown.eventKinds, enabled: e.enabled, shown });
                        }}>Edit…</Menu.Item>
                        <Menu.Item onClick={() => rotate.mutate({ id: e.id, expectSecretId: e.secretId }, { onSuccess: (r) => { setSecret({ name: e.name, secret: r.secret }); refresh(); } })}>Rotate the signing secret</Menu.Item>
                        <Menu.Item color="red" onClick={() => setDeleting({ id: e.id, name: e.name })}>Delete…</Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  </Group>
                </Group>
              </Card>
            ))}
          </Stack>
        )}
      </Stack>

      <Stack>
        <Group justify="space-between" align="flex-end">
          <Title order={4}>Delivery log</Title>
          <Select aria-label="Endpoint" placeholder="All endpoints" clearable w={220} value={filter} onChange={setFilter}
            data={endpoints.data.map((e) => ({ value: e.id, label: e.name }))} />
        </Group>
        {/* Narrow screens: one compact card per attempt, every column in view. */}
        <Stack gap="xs" hiddenFrom="sm" data-testid="deliveries-list">
          {(deliveries.data ?? []).map((d) => (
            <Card key={d.id} withBorder padding="sm" data-testid="delivery-item">
              <Group gap={6} wrap="nowrap">
                <StatusBadge status={d.status} error={d.error} />
                <Text size="sm" fw={500}>{d.eventKind}</Text>
                <Text size="xs" c="dimmed">attempt {d.attempt}</Text>
              </Group>
              <Text size="xs" mt={4}>{d.endpoint.name} · {when(d.at)}{d.latencyMs === null ? "" : ` · ${Math.round(d.latencyMs)} ms`}</Text>
              {d.error && <Text size="xs" c="red">{d.error}</Text>}
              {d.responseBody && <Text size="xs" c="dimmed" ff="monospace" lineClamp={2}>{d.responseBody}</Text>}
              {d.nextRetryAt && <Text size="xs">Next retry {when(d.nextRetryAt)}</Text>}
            </Card>
          ))}
          {deliveries.data?.length === 0 && <Text size="sm" c="dimmed">No deliveries yet: press Send test, or wait for the next event.</Text>}
        </Stack>
        <Card withBorder p={0} visibleFrom="sm">
          <Table.ScrollContainer minWidth={980}>
            <Table verticalSpacing="xs" striped data-testid="deliveries-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Time</Table.Th><Table.Th>Event</Table.Th><Table.Th>Endpoint</Table.Th><Table.Th>Attempt</Table.Th><Table.Th>HTTP status</Table.Th>
                  <Table.Th>Latency</Table.Th><Table.Th>Error / response</Table.Th><Table.Th>Next retry</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(deliveries.data ?? []).map((d) => (
                  <Table.Tr key={d.id} data-testid="delivery-row">
                    <Table.Td><Text size="xs">{when(d.at)}</Text></Table.Td>
                    <Table.Td><Text size="xs" fw={500}>{d.eventKind}</Text><Text size="xs" c="dimmed" ff="monospace">{d.eventId}</Text></Table.Td>
                    <Table.Td><Text size="xs">{d.endpoint.name}</Text></Table.Td>
                    <Table.Td><Text size="xs">{d.attempt}</Text></Table.Td>
                    <Table.Td><StatusBadge status={d.status} error={d.error} /></Table.Td>
                    <Table.Td><Text size="xs">{d.latencyMs === null ? "—" : `${Math.round(d.latencyMs)} ms`}</Text></Table.Td>
                    <Table.Td maw={320}>
                      {d.error && <Text size="xs" c="red">{d.error}</Text>}
                      {d.responseBody && <Text size="xs" c="dimmed" ff="monospace" lineClamp={2} title={d.responseBody}>{d.responseBody}</Text>}
                    </Table.Td>
                    <Table.Td><Text size="xs">{d.nextRetryAt ? when(d.nextRetryAt) : "—"}</Text></Table.Td>
                  </Table.Tr>
                ))}
                {deliveries.data?.length === 0 && (
                  <Table.Tr><Table.Td colSpan={8}><Text size="sm" c="dimmed" ta="center" py="sm">No deliveries yet: press Send test, or wait for the next event.</Text></Table.Td></Table.Tr>
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      </Stack>

      {draft && (
        <Modal opened onClose={() => setDraft(null)} title={draft.id ? `Edit "${draft.name}"` : "Add a webhook"} size="lg">
          <Stack>
            <TextInput label="Name" description="Who receives it: a channel, a tool" required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.currentTarget.value })} />
            <TextInput label="URL" required={!draft.id} placeholder={draft.maskedUrl ? `unchanged: ${draft.maskedUrl}` : "https://hooks.example.com/rerank"}
              description={draft.id ? "Leave blank to keep the current URL (shown masked: it may carry a token)" : "http:// or https://; the console POSTs JSON to it"}
              value={draft.url} onChange={(e) => setDraft({ ...draft, url: e.currentTarget.value })} />
            <Stack gap={4}>
              <Text size="sm" fw={500}>Format</Text>
              <SegmentedControl value={draft.format} onChange={(v) => setDraft({ ...draft, format: v as WebhookFormat })}
                data={[{ value: "standard", label: "Standard Webhooks" }, { value: "slack", label: "Slack-compatible" }]} />
              <Text size="xs" c="dimmed">{WEBHOOK_FORMATS[draft.format]}</Text>
            </Stack>
            <Checkbox.Group label="Events" description="What this endpoint hears about" value={draft.eventKinds} onChange={(v) => setDraft({ ...draft, eventKinds: v as WebhookEventKind[] })}>
              <Stack gap={6} mt={6}>
                {WEBHOOK_EVENT_KIND_NAMES.map((k) => <Checkbox key={k} value={k} label={WEBHOOK_EVENT_KINDS[k].title} description={WEBHOOK_EVENT_KINDS[k].what} />)}
              </Stack>
            </Checkbox.Group>
            <Switch label="Enabled" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.currentTarget.checked })} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setDraft(null)}>Cancel</Button>
              <Button loading={create.isPending || update.isPending} disabled={!draft.name.trim() || (!draft.id && !draft.url.trim()) || draft.eventKinds.length === 0} onClick={() => save(draft)}>
                {draft.id ? "Save" : "Add"}
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
      {secret && (
        <Modal opened onClose={() => setSecret(null)} title={`Signing secret of "${secret.name}"`}>
          <Stack>
            <Text size="sm">Copy it now: it is shown only once. Receivers check the webhook-id, webhook-timestamp and webhook-signature headers with it, using any Standard Webhooks library.</Text>
            <Group wrap="nowrap">
              <Code block style={{ flex: 1, whiteSpace: "pre-wrap", wordBreak: "break-all" }} data-testid="new-webhook-secret">{secret.secret}</Code>
              <CopyButton value={secret.secret}>{({ copied, copy }) => <Button onClick={copy} variant="light">{copied ? "Copied" : "Copy"}</Button>}</CopyButton>
            </Group>
            <Group justify="flex-end"><Button onClick={() => setSecret(null)}>Done</Button></Group>
          </Stack>
        </Modal>
      )}
      {deleting && (
        <Modal opened onClose={() => setDeleting(null)} title={`Delete "${deleting.name}"`}>
          <Stack>
            <Text size="sm">It stops receiving events at once, and its delivery log is deleted with it. Deliveries still queued for it are skipped.</Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setDeleting(null)}>Cancel</Button>
              <Button color="red" loading={remove.isPending} onClick={() => remove.mutate({ id: deleting.id })}>Delete</Button>
            </Group>
          </Stack>
        </Modal>
      )}
    </Stack>
  );
}
