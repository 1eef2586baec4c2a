"use client";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Alert, Button, Group, Modal, NumberInput, Select, SimpleGrid, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { Stage2Config } from "@/server/surfaces/stage2.schema";
import { WrappingBadge } from "../_components/WrappingBadge";
import { useTRPC } from "../_trpc/client";

// Stage 2 of a surface's cascade, shown in the Overview's surfaces table and edited in a dialog: a
// registry model and alias that rescore the top `rerankCount` of the surface's model within
// `budgetMs`. The server validates (model and alias exist, bounds) and audits every change. On a
// surface that requires approval the dialog files a `surface_stage2` change request instead.

export function Stage2Cell({ surface, stage2, requireApproval = false }: { surface: string; stage2: Stage2Config | null; requireApproval?: boolean }) {
  const [editing, setEditing] = useState(false);
  return (
    <Group gap={4} align="center" data-testid={`stage2-${surface}`}>
      {stage2 ? (
        <WrappingBadge color="grape" variant="light">{stage2.model} {stage2.alias} · top {stage2.rerankCount} · {stage2.budgetMs} ms</WrappingBadge>
      ) : (
        <Text size="sm" c="dimmed">none</Text>
      )}
      <GuardedButton permission="models.write" size="compact-xs" variant="subtle" style={{ flexShrink: 0 }} onClick={() => setEditing(true)} aria-label={`Edit stage 2 of ${surface}`}>
        Edit
      </GuardedButton>
      {editing && <Stage2Dialog surface={surface} current={stage2} requireApproval={requireApproval} onClose={() => setEditing(false)} />}
    </Group>
  );
}

function Stage2Dialog({ surface, current, requireApproval, onClose }: { surface: string; current: Stage2Config | null; requireApproval: boolean; onClose: () => void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const models = useQuery(trpc.models.list.queryOptions());
  const [model, setModel] = useState(current?.model ?? null);
  const [alias, setAlias] = useState(current?.alias ?? "production");
  const [rerankCount, setRerankCount] = useState<number>(current?.rerankCount ?? 20);
  const [budgetMs, setBudgetMs] = useState<number>(current?.budgetMs ?? 50);
  const [reason, setReason] = useState("");
  const save = useMutation(
    trpc.surfaces.configureStage2.mutationOptions({
      onSuccess: (r) => {
        notifications.show({ color: "teal", message: r.stage2 ? `${r.key}: stage 2 is ${r.stage2.model} ${r.stage2.alias} over the top ${r.stage2.rerankCount}` : `${r.key}: stage 2 removed` });
        void queryClient.invalidateQueries({ queryKey: trpc.surfaces.lastStage2Change.queryKey({ surface }) });
        onClose();
        router.refresh();
      },
      onError: (e) => notifications.show({ color: "red", message: e.message }),
    }),
  );
  const request = useMutation(
    trpc.approvals.request.mutationOptions({
      onSuccess: (r) => {
        notifications.show({ color: "teal", message: `Approval requested: ${r.summary}` });
        onClose();
      },
      onError: (e) => notifications.show({ color: "red", message: e.message }),
    }),
  );
  // Read afresh each time the dialog opens: what Restore undoes must be the newest change.
  const last = useQuery({ ...trpc.surfaces.lastStage2Change.queryOptions({ surface }), refetchOnMount: "always" });
  const aliases = models.data?.find((m) => m.name === model)?.aliases ?? [];
  const ready = model !== null && alias !== "" && reason.trim().length >= 3;
  const pending = save.isPending || request.isPending;
  const submit = (stage2: Stage2Config | null) =>
    requireApproval
      ? request.mutate({ change: { kind: "surface_stage2", surface, stage2, expectBefore: current }, reason: reason.trim() })
      : save.mutate({ surface, stage2, reason: reason.trim(), expectBefore: current });
  // The newest audited change can be undone when stage 2 is still what it left (as this page shows it too).
  // Not while the newest change is being read again (the cache may hold an older one).
  const undoable = last.data && !last.isFetching && last.data.current && sameStage2(last.data.after, current) ? last.data : null;
  return (
    <Modal opened onClose={onClose} title={`Stage 2 of ${surface}`} size="lg">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Stage 1 (the surface&apos;s model) scores every candidate; stage 2 rescores the top of its order. Items stage 2 rescored are served first, in its
          order, above every other item. Over its budget or failing, stage 1&apos;s order serves, marked in the response.
        </Text>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Select label="Model" placeholder="a registry model" searchable data={(models.data ?? []).map((m) => m.name)} value={model} onChange={setModel} data-testid="stage2-model" />
          <Select label="Alias" data={aliases.map((a) => ({ value: a.name, label: `${a.name} (v${a.version})` }))} value={alias} onChange={(v) => setAlias(v ?? "")} disabled={!model} />
          <NumberInput label="Rerank count" description="how many of stage 1's top to rescore" min={1} max={1000} value={rerankCount} onChange={(v) => setRerankCount(Number(v) || 1)} />
          <NumberInput label="Budget (ms)" description="stage 2's wall time, at most" min={1} max={10_000} value={budgetMs} onChange={(v) => setBudgetMs(Number(v) || 1)} />
        </SimpleGrid>
        {last.data && (
          <Alert color="gray" py="xs" data-testid="stage2-last-change">
            <Group justify="space-between" gap="xs" wrap="wrap">
              <Text size="sm" style={{ minWidth: 0, flex: "1 1 16rem" }}>
                Last change: {stage2Text(last.data.before)} → {stage2Text(last.data.after)}, by {last.data.actor}, {new Date(last.data.at).toLocaleString()}
                {last.data.reason ? ` (“${last.data.reason}”)` : ""}.{undoable ? "" : " Stage 2 has changed since it was read: reopen to undo."}
              </Text>
              {undoable && (
                <Button size="compact-sm" variant="light" disabled={reason.trim().length < 3} loading={pending} onClick={() => submit(undoable.before)} data-testid="stage2-restore">
                  {requireApproval ? "Request restore" : "Restore"} {undoable.before ? "previous" : "(remove stage 2)"}
                </Button>
              )}
            </Group>
          </Alert>
        )}
        {requireApproval && (
          <Alert color="yellow" py="xs" data-testid="stage2-approval">
            {surface} requires approval: stage 2 reorders the top of its ranking, so saving files a request that another ML engineer approves.
          </Alert>
        )}
        <TextInput label="Reason (kept in the audit trail)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} error={reason.length > 0 && reason.trim().length < 3 ? "say why (at least 3 characters)" : undefined} required />
        <Group justify="space-between">
          {current ? <Button variant="subtle" color="red" disabled={reason.trim().length < 3} loading={pending} onClick={() => submit(null)}>{requireApproval ? "Request removal" : "Remove stage 2"}</Button> : <span />}
          <Group>
            <Button variant="default" onClick={onClose}>Cancel</Button>
            <Button disabled={!ready} loading={pending} onClick={() => submit({ model: model!, alias, rerankCount, budgetMs })}>{requireApproval ? "Request approval" : "Save"}</Button>
          </Group>
        </Group>
      </Stack>
    </Modal>
  );
}

/** A stage 2 as the dialog words it: "model alias, top N, B ms", or "none". */
const stage2Text = (c: Stage2Config | null) => (c ? `${c.model} ${c.alias}, top ${c.rerankCount}, ${c.budgetMs} ms` : "none");
const sameStage2 = (a: Stage2Config | null, b: Stage2Config | null) => stage2Text(a) === stage2Text(b);
