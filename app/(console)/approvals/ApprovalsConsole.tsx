"use client";
import { Badge, Button, Card, Group, Loader, SegmentedControl, Stack, Switch, Table, Text, Textarea, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useMe, usePermission } from "@/app/_auth/AccessProvider";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { ConfirmChangeDialog } from "@/app/_components/ConfirmChangeDialog";
import { useTRPC } from "@/app/_trpc/client";

type Status = "pending" | "applied" | "rejected" | "cancelled" | "failed";
const STATUS_COLOR: Record<Status, string> = { pending: "yellow", applied: "teal", rejected: "red", cancelled: "gray", failed: "red" };
const KIND_LABEL = { alias_move: "alias move", canary_start: "canary start", canary_promote: "canary promotion", experiment_ship: "ship", experiment_start: "experiment start", experiment_restart: "experiment restart", surface_stage2: "stage 2" } as const;

export function ApprovalsConsole() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useMe();
  const [status, setStatus] = useState<"pending" | "all">("pending");
  const list = useQuery({ ...trpc.approvals.list.queryOptions({ status: status === "pending" ? "pending" : undefined, limit: 100 }), refetchInterval: 10_000 });
  const [deciding, setDeciding] = useState<{ id: string; summary: string; approve: boolean } | null>(null);
  const [comment, setComment] = useState("");
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.approvals.pathKey() });
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const decide = useMutation(trpc.approvals.decide.mutationOptions({
    onSuccess: (r) => {
      setDeciding(null);
      setComment("");
      const warning = "warning" in r ? r.warning : undefined;
      notifications.show({ color: r.status === "failed" ? "red" : warning ? "yellow" : "teal", message: r.status === "failed" ? `Approved, but applying failed: ${r.error}` : warning ? `Request ${r.status}; ${warning}` : `Request ${r.status}` });
      void refresh();
    },
    // Refused (a 409: stale, decided by someone else meanwhile): the request is failed or decided now; the
    // list shows it at once and the dialog closes. Other errors (a 400 naming the comment) keep it open.
    onError: (e) => {
      onError(e);
      void refresh();
      if (e.data?.code === "CONFLICT") setDeciding(null);
    },
  }));
  const cancel = useMutation(trpc.approvals.cancel.mutationOptions({ onSuccess: () => void refresh(), onError }));

  return (
    <Stack>
      <Group justify="space-between">
        <SegmentedControl value={status} onChange={(v) => setStatus(v as "pending" | "all")} data={[{ value: "pending", label: "Pending" }, { value: "all", label: "All" }]} />
      </Group>
      <Card withBorder p={0}>
        {!list.data ? <Loader m="md" /> : list.data.length === 0 ? <Text c="dimmed" p="md">No {status === "pending" ? "pending " : ""}requests.</Text> : (
          <Table.ScrollContainer minWidth={760}>
            <Table verticalSpacing="sm" data-testid="approvals-table">
              <Table.Thead>
                <Table.Tr><Table.Th>Change</Table.Th><Table.Th>Requested</Table.Th><Table.Th>Status</Table.Th><Table.Th /></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.map((r) => {
                  const own = r.requestedBy.id === me?.id;
                  return (
                    <Table.Tr key={r.id} data-testid="approval-row">
                      <Table.Td>
                        <Group gap={6}><Badge size="sm" variant="light">{KIND_LABEL[r.kind]}</Badge><Text size="sm" fw={500} style={{ whiteSpace: "pre-line" }} data-testid="approval-summary">{r.summary}</Text></Group>
                        <Text size="xs" c="dimmed">why: {r.reason}</Text>
                        {/* Another change since (a competing request approved first, a rollback) broke what it pinned: approving it would be refused.
                            In the first column, which a phone shows without scrolling the table. */}
                        {r.stale && <Text size="xs" c="orange.9" fw={500} mt={4} data-testid="approval-stale">Cannot be approved now: {r.stale}</Text>}
                      </Table.Td>
                      <Table.Td><Text size="xs">{r.requestedBy.email}</Text><Text size="xs" c="dimmed">{new Date(r.createdAt).toLocaleString()}</Text></Table.Td>
                      <Table.Td miw={120}>
                        <Badge color={STATUS_COLOR[r.status]} variant="light" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>{r.status}</Badge>
                        {r.decidedBy && <Text size="xs" c="dimmed">by {r.decidedBy.email}{r.decisionComment ? `: ${r.decisionComment}` : ""}</Text>}
                        {r.error && <Text size="xs" c="red">{r.error}</Text>}
                      </Table.Td>
                      <Table.Td>
                        {r.status === "pending" && (own ? (
                          <Stack gap={2} align="flex-end">
                            <Tooltip label="Another person with the permission must decide your request"><Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>awaiting another person</Text></Tooltip>
                            <Button size="xs" variant="subtle" color="gray" loading={cancel.isPending} onClick={() => cancel.mutate({ id: r.id })}>Cancel</Button>
                          </Stack>
                        ) : (
                          <Group gap={4} justify="flex-end" wrap="nowrap">
                            <GuardedButton permission="changes.request" size="xs" color="teal" disabled={!!r.stale} onClick={() => setDeciding({ id: r.id, summary: r.summary, approve: true })}>Approve…</GuardedButton>
                            <GuardedButton permission="changes.request" size="xs" variant="light" color="red" onClick={() => setDeciding({ id: r.id, summary: r.summary, approve: false })}>Reject…</GuardedButton>
                          </Group>
                        ))}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
      <SurfaceApprovals />
      {deciding && (
        <ConfirmChangeDialog
          title={deciding.approve ? "Approve and apply" : "Reject the request"}
          // A restart's summary has a line per change (pre-line keeps them).
          changes={(deciding.approve ? [deciding.summary, "applied at once, in every replica within a second"] : [`nothing changes: ${deciding.summary} is not applied`]).map((line, i) => <span key={i} style={{ whiteSpace: "pre-line" }}>{line}</span>)}
          confirmLabel={deciding.approve ? "Approve and apply" : "Reject"}
          color={deciding.approve ? "teal" : "red"}
          pending={decide.isPending}
          onClose={() => setDeciding(null)}
          onConfirm={(reason) => decide.mutate({ id: deciding.id, approve: deciding.approve, comment: [reason, comment].filter(Boolean).join(" — ") })}
        >
          <Textarea label="Comment for the requester (optional)" value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} />
        </ConfirmChangeDialog>
      )}
    </Stack>
  );
}

/** Which surfaces require approval; admins turn it on or off (audited, with a reason). */
function SurfaceApprovals() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const surfaces = useQuery(trpc.surfaces.list.queryOptions());
  const access = usePermission("settings.write");
  const [toggle, setToggle] = useState<{ key: string; required: boolean } | null>(null);
  const set = useMutation(trpc.approvals.setRequired.mutationOptions({
    onSuccess: (r) => {
      setToggle(null);
      notifications.show({ color: "teal", message: `${r.key}: approvals ${r.requireApproval ? "required" : "no longer required"}` });
      void queryClient.invalidateQueries({ queryKey: trpc.surfaces.list.queryKey() });
    },
    onError: (e) => notifications.show({ color: "red", message: e.message }),
  }));
  return (
    <Card withBorder padding="md">
      <Title order={5} mb="xs">Surfaces that require approval</Title>
      <Stack gap="xs">
        {(surfaces.data ?? []).map((s) => (
          <Tooltip key={s.key} label={access.reason} disabled={access.allowed}>
            <Switch
              label={`${s.name} (${s.key})`}
              checked={s.requireApproval}
              disabled={!access.allowed}
              onChange={(e) => setToggle({ key: s.key, required: e.currentTarget.checked })}
              data-testid={`approval-switch-${s.key}`}
            />
          </Tooltip>
        ))}
      </Stack>
      {toggle && (
        <ConfirmChangeDialog
          title={`${toggle.required ? "Require" : "Stop requiring"} approvals on ${toggle.key}`}
          changes={[toggle.required
            ? `${toggle.key}: alias moves, canary starts and ships become requests another person approves`
            : `${toggle.key}: those changes apply at once again`]}
          confirmLabel={toggle.required ? "Require approvals" : "Stop requiring"}
          pending={set.isPending}
          onClose={() => setToggle(null)}
          onConfirm={(reason) => set.mutate({ surface: toggle.key, required: toggle.required, reason })}
        />
      )}
    </Card>
  );
}
