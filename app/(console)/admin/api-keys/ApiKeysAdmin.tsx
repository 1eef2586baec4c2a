"use client";
import { Alert, Badge, Button, Card, Checkbox, Code, CopyButton, Group, Loader, Modal, MultiSelect, NumberInput, SegmentedControl, Stack, Table, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconKey } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ROLE_LABELS, ROLES, type Role } from "@/server/domain/access/permissions";
import { describeRateLimit } from "@/server/domain/admission/rateLimit";
import { usePermission } from "../../../_auth/AccessProvider";
import { ConfirmChangeDialog } from "../../../_components/ConfirmChangeDialog";
import { useTRPC } from "../../../_trpc/client";

interface Draft {
  kind: "serving" | "automation";
  name: string;
  surfaces: string[];
  roles: Role[];
  /** Days until expiry; empty: never. */
  expiresInDays: string;
  limit: LimitDraft;
}

/** A serving key's rate limit as typed: requests per second (empty: no limit) and burst (empty: one second's worth). */
interface LimitDraft {
  rate: number | string;
  burst: number | string;
}

const limitOf = (d: LimitDraft) => (d.rate === "" ? null : { rate: Number(d.rate), burst: d.burst === "" ? null : Number(d.burst) });
const limitWords = (limit: { rate: number; burst: number | null } | null) => (limit ? describeRateLimit(limit) : "no limit of its own");

/** The rate and burst fields of a serving key (creating one, or changing its limit). */
function LimitFields({ value, onChange }: { value: LimitDraft; onChange: (next: LimitDraft) => void }) {
  return (
    <Group grow align="flex-end">
      <NumberInput label="Rate limit" description="Requests per second (rerank and events, all workers); empty: none"
        min={0.01} max={100_000} decimalScale={2} value={value.rate} onChange={(rate) => onChange({ ...value, rate })} data-testid="rate-limit-rate" />
      <NumberInput label="Burst" description="Requests at once; empty: one second's worth" min={1} max={100_000} allowDecimal={false}
        disabled={value.rate === ""} value={value.burst} onChange={(burst) => onChange({ ...value, burst })} data-testid="rate-limit-burst" />
    </Group>
  );
}

const when = (d: Date | string | null) => (d ? new Date(d).toLocaleString() : "never");

export function ApiKeysAdmin() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const access = usePermission("keys.manage");
  const keys = useQuery({ ...trpc.apiKeys.list.queryOptions(), enabled: access.allowed });
  const surfaces = useQuery({ ...trpc.surfaces.list.queryOptions(), enabled: access.allowed });
  const [draft, setDraft] = useState<Draft | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const [limiting, setLimiting] = useState<{ id: string; name: string; was: { rate: number; burst: number | null } | null; draft: LimitDraft } | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.apiKeys.list.queryKey() });
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const create = useMutation(trpc.apiKeys.create.mutationOptions({ onSuccess: (r) => { setDraft(null); setCreated({ name: r.apiKey.name, key: r.key }); void refresh(); }, onError }));
  // A 409 (the limit changed since the dialog opened): the dialog closes and the list reloads, so the person looks again.
  const setLimit = useMutation(trpc.apiKeys.setRateLimit.mutationOptions({
    onSuccess: (k) => { setLimiting(null); notifications.show({ color: "teal", message: `${k.name}: ${limitWords(k.rateLimit === null ? null : { rate: k.rateLimit, burst: k.rateBurst })}` }); void refresh(); },
    onError: (e) => { onError(e); if (e.data?.code === "CONFLICT") { setLimiting(null); void refresh(); } },
  }));
  const revoke = useMutation(trpc.apiKeys.revoke.mutationOptions({ onSuccess: (k) => { setRevoking(null); notifications.show({ color: "teal", message: `${k.name} revoked` }); void refresh(); }, onError }));

  if (!access.allowed) return <Alert color="gray">{access.reason}</Alert>;
  if (!keys.data) return <Loader />;

  const submit = (d: Draft) => {
    const expiresAt = d.expiresInDays ? new Date(Date.now() + Number(d.expiresInDays) * 86_400_000) : null;
    create.mutate(d.kind === "serving" ? { kind: "serving", name: d.name, surfaces: d.surfaces, expiresAt, rateLimit: limitOf(d.limit) } : { kind: "automation", name: d.name, roles: d.roles, expiresAt });
  };

  return (
    <Stack>
      <Group justify="flex-end">
        <Button leftSection={<IconKey size={16} />} onClick={() => setDraft({ kind: "serving", name: "", surfaces: [], roles: ["ml_engineer"], expiresInDays: "", limit: { rate: "", burst: "" } })}>Create a key</Button>
      </Group>
      <Card withBorder p={0}>
        <Table.ScrollContainer minWidth={900}>
          <Table verticalSpacing="sm" striped data-testid="keys-table">
            <Table.Thead>
              <Table.Tr><Table.Th>Key</Table.Th><Table.Th>Scope</Table.Th><Table.Th>Rate limit</Table.Th><Table.Th>Created</Table.Th><Table.Th>Expires</Table.Th><Table.Th>Last used</Table.Th><Table.Th /></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.data.map((k) => (
                <Table.Tr key={k.id} data-testid={`key-row-${k.name}`} style={k.revokedAt ? { opacity: 0.55 } : undefined}>
                  <Table.Td><Text size="sm" fw={500}>{k.name}</Text><Code>{k.prefix}…</Code></Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={k.kind === "serving" ? "blue" : "grape"} size="sm" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>{k.kind}</Badge>{" "}
                    <Text span size="xs">{k.kind === "serving" ? (k.surfaces.length ? k.surfaces.join(", ") : "every surface") : k.roles.map((r) => ROLE_LABELS[r]).join(", ")}</Text>
                  </Table.Td>
                  <Table.Td data-testid={`key-limit-${k.name}`}>
                    {k.kind === "serving" ? (
                      <Stack gap={2} align="flex-start">
                        <Text size="xs">{k.rateLimit === null ? "none" : describeRateLimit({ rate: k.rateLimit, burst: k.rateBurst })}</Text>
                        {!k.revokedAt && (
                          <Button size="compact-xs" variant="subtle" px={0} onClick={() => setLimiting({ id: k.id, name: k.name, was: k.rateLimit === null ? null : { rate: k.rateLimit, burst: k.rateBurst }, draft: { rate: k.rateLimit ?? "", burst: k.rateBurst ?? "" } })}>Change…</Button>
                        )}
                      </Stack>
                    ) : <Text size="xs" c="dimmed">—</Text>}
                  </Table.Td>
                  <Table.Td><Text size="xs">{when(k.createdAt)}</Text><Text size="xs" c="dimmed">by {k.createdBy.email}</Text></Table.Td>
                  <Table.Td><Text size="xs">{when(k.expiresAt)}</Text></Table.Td>
                  <Table.Td><Text size="xs">{when(k.lastUsedAt)}</Text></Table.Td>
                  <Table.Td>
                    {k.revokedAt ? <Badge color="red" variant="light" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>revoked</Badge> : (
                      <Button size="xs" variant="subtle" color="red" onClick={() => setRevoking({ id: k.id, name: k.name })}>Revoke…</Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Card>

      {draft && (
        <Modal opened onClose={() => setDraft(null)} title="Create an API key">
          <Stack>
            <SegmentedControl value={draft.kind} onChange={(v) => setDraft({ ...draft, kind: v as Draft["kind"] })}
              data={[{ value: "serving", label: "Serving" }, { value: "automation", label: "Automation" }]} />
            <TextInput label="Name" description="Who uses it: a service or a pipeline" required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.currentTarget.value })} />
            {draft.kind === "serving" ? (
              <MultiSelect label="Surfaces" description="Empty: every surface" data={(surfaces.data ?? []).map((s) => s.key)} value={draft.surfaces}
                onChange={(surfaces) => setDraft({ ...draft, surfaces })} clearable />
            ) : (
              <Checkbox.Group label="Acts with the roles" value={draft.roles} onChange={(v) => setDraft({ ...draft, roles: v as Role[] })}>
                <Group gap="sm" mt={4}>{ROLES.map((r) => <Checkbox key={r} value={r} label={ROLE_LABELS[r]} />)}</Group>
              </Checkbox.Group>
            )}
            {draft.kind === "serving" && <LimitFields value={draft.limit} onChange={(limit) => setDraft({ ...draft, limit })} />}
            <TextInput label="Expires in (days)" description="Empty: never" inputMode="numeric" value={draft.expiresInDays}
              onChange={(e) => setDraft({ ...draft, expiresInDays: e.currentTarget.value.replace(/\D/g, "") })} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setDraft(null)}>Cancel</Button>
              <Button loading={create.isPending} disabled={!draft.name || (draft.kind === "automation" && draft.roles.length === 0)} onClick={() => submit(draft)}>Create</Button>
            </Group>
          </Stack>
        </Modal>
      )}
      {created && (
        <Modal opened onClose={() => setCreated(null)} title={`Key "${created.name}" created`}>
          <Stack>
            <Text size="sm">Copy it now: it is shown only once, and only its hash is stored.</Text>
            <Group wrap="nowrap">
              <Code block style={{ flex: 1, wordBreak: "break-all" }} data-testid="new-api-key">{created.key}</Code>
              <CopyButton value={created.key}>{({ copied, copy }) => <Button onClick={copy} variant="light">{copied ? "Copied" : "Copy"}</Button>}</CopyButton>
            </Group>
            <Group justify="flex-end"><Button onClick={() => setCreated(null)}>Done</Button></Group>
          </Stack>
        </Modal>
      )}
      {limiting && (
        <ConfirmChangeDialog
          title={`Rate limit of "${limiting.name}"`}
          changes={[`"${limiting.name}": ${limitWords(limiting.was)} → ${limitWords(limitOf(limiting.draft))}, in every replica within a second`]}
          warning="Requests over the limit are refused (429, with Retry-After) and do nothing; the caller's other requests are served."
          confirmLabel="Set limit"
          pending={setLimit.isPending}
          onClose={() => setLimiting(null)}
          onConfirm={(reason) => setLimit.mutate({ id: limiting.id, rateLimit: limitOf(limiting.draft), expectRateLimit: limiting.was, reason })}
        >
          <LimitFields value={limiting.draft} onChange={(draft) => setLimiting({ ...limiting, draft })} />
        </ConfirmChangeDialog>
      )}
      {revoking && (
        <ConfirmChangeDialog
          title={`Revoke "${revoking.name}"`}
          changes={[`every request with "${revoking.name}" is refused (401) from its next request, in every replica`]}
          warning="Callers using this key stop being served. A revoked key cannot be restored; create a new one instead."
          confirmLabel="Revoke"
          color="red"
          pending={revoke.isPending}
          onClose={() => setRevoking(null)}
          onConfirm={(reason) => revoke.mutate({ id: revoking.id, reason })}
        />
      )}
    </Stack>
  );
}
