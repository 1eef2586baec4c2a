"use client";
import { ConfirmChangeDialog } from "../../../_components/ConfirmChangeDialog";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Badge, Card, Group, NumberInput, Select, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import type { AppRouter } from "@/server/routers/_app";
import { RolloutStatusBadge } from "../../../_components/RolloutStatusBadge";
import { useTRPC } from "../../../_trpc/client";

type Rollout = inferRouterOutputs<AppRouter>["rollouts"]["list"][number];

const rate = (requests: number, fallbacks: number) => (requests ? `${((fallbacks / requests) * 100).toFixed(1)}%` : "—");
const p99 = (v: number | null) => (v === null ? "—" : `${v.toFixed(2)} ms`);

/** A surface's canary rollout: the running one with its live figures and Abort, else the last outcome and Start. */
export function RolloutStrip({ surface, modelName, servingVersion, rollout }: { surface: string; modelName: string | null; servingVersion: number | null; rollout: Rollout | undefined }) {
  const [modal, setModal] = useState<"start" | "abort" | null>(null);
  if (!modelName) return null;
  const running = rollout?.status === "running" ? rollout : undefined;
  return (
    <Card withBorder padding="xs" mt="sm" bg="var(--mantine-color-gray-0)" data-testid={`rollout-${surface}`}>
      <Group justify="space-between" gap="xs">
        {running ? (
          <Stack gap={2}>
            <Group gap="xs">
              <Badge color="blue" variant="filled">canary {running.percent}%</Badge>
              <Text size="sm">{running.model} v{running.fromVersion ?? "—"} → <b>v{running.toVersion}</b> · steps {running.steps.join(" → ")} → promote</Text>
            </Group>
            {running.live && (
              <Text size="xs" c="dimmed" data-testid="rollout-live">
                this step: canary {running.live.canary.requests} requests, fallbacks {rate(running.live.canary.requests, running.live.canary.fallbacks)}, p99 {p99(running.live.canary.p99)} · current {running.live.baseline.requests} requests, fallbacks {rate(running.live.baseline.requests, running.live.baseline.fallbacks)}, p99 {p99(running.live.baseline.p99)}
                {running.latest ? ` · analysis: ${running.latest.decision} (${running.latest.reasons[0]})` : " · analysis: waiting for the first tick"}
              </Text>
            )}
          </Stack>
        ) : (
          <Group gap="xs">
            <Text size="sm" c="dimmed">No canary running.</Text>
            {rollout && (
              <Text size="xs" c="dimmed">
                Last: v{rollout.toVersion} <RolloutStatusBadge status={rollout.status} size="xs" />{" "}
                {rollout.history.at(-1)?.reasons[0] ?? ""}
              </Text>
            )}
          </Group>
        )}
        {running ? (
          <GuardedButton permission="canary.abort" size="xs" color="red" variant="light" onClick={() => setModal("abort")}>Abort canary</GuardedButton>
        ) : (
          <GuardedButton permission="canary.start" size="xs" variant="light" onClick={() => setModal("start")}>Start canary…</GuardedButton>
        )}
      </Group>
      {modal === "start" && <StartCanaryModal surface={surface} modelName={modelName} servingVersion={servingVersion} onClose={() => setModal(null)} />}
      {modal === "abort" && <AbortCanaryModal surface={surface} onClose={() => setModal(null)} />}
    </Card>
  );
}

function useDone(onClose: () => void) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return {
    onSuccess: (message: string) => {
      notifications.show({ color: "teal", message });
      onClose();
      void queryClient.invalidateQueries({ queryKey: trpc.rollouts.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.oncall.pathKey() });
    },
    onError: (e: { message: string }) => notifications.show({ color: "red", message: e.message }),
  };
}

/** The canary start flow (approvals included); the Shadow page opens it on a candidate's version (`initialVersion`). */
export function StartCanaryModal({ surface, modelName, servingVersion, initialVersion, onClose }: { surface: string; modelName: string; servingVersion: number | null; initialVersion?: number | null; onClose: () => void }) {
  const trpc = useTRPC();
  const model = useQuery(trpc.models.get.queryOptions({ name: modelName }));
  const surfaceRow = useQuery(trpc.surfaces.get.queryOptions({ key: surface }));
  const [version, setVersion] = useState<string | null>(initialVersion ? String(initialVersion) : null);
  const [steps, setSteps] = useState("1, 5, 25, 50");
  const [minRequests, setMinRequests] = useState<number>(200);
  const done = useDone(onClose);
  const start = useMutation(trpc.rollouts.start.mutationOptions({ onSuccess: (r) => done.onSuccess(`Canary started on ${surface} at ${r.currentPercent}%`), onError: done.onError }));
  const request = useMutation(trpc.approvals.request.mutationOptions({ onSuccess: (r) => done.onSuccess(`Approval requested: ${r.summary}`), onError: done.onError }));
  const parsedSteps = steps.split(",").map((s) => Number(s.trim())).filter((n) => !Number.isNaN(n));
  const versions = (model.data?.versions ?? []).filter((v) => v.version !== servingVersion).map((v) => ({ value: String(v.version), label: `v${v.version}` }));
  const needsApproval = surfaceRow.data?.requireApproval ?? false;
  const rollout = { surface, version: Number(version), steps: parsedSteps, minRequests };
  return (
    <ConfirmChangeDialog
      title={`Start a canary on ${surface}`}
      changes={[
        version ? `${modelName} v${version} gets a sticky, growing share of ${surface}'s traffic that no experiment takes: ${parsedSteps.join(" → ")} %` : "pick the version to roll out",
        `then the serving alias moves from v${servingVersion ?? "?"} to v${version ?? "?"} (promotion); any failed step rolls back at once`,
      ]}
      warning={needsApproval ? `${surface} requires approval: this files a request that another ML engineer approves before the canary starts.` : undefined}
      confirmLabel={needsApproval ? "Request approval" : "Start canary"}
      pending={start.isPending || request.isPending}
      onClose={onClose}
      onConfirm={(reason) => (needsApproval ? request.mutate({ change: { kind: "canary_start", rollout }, reason }) : start.mutate({ ...rollout, reason }))}
    >
      <Select label="Version" data={versions} value={version} onChange={setVersion} placeholder={model.isLoading ? "loading…" : "pick a version"} />
      <TextInput label="Steps (% of traffic)" value={steps} onChange={(e) => setSteps(e.currentTarget.value)} />
      <NumberInput label="Requests per arm before each step is judged" value={minRequests} onChange={(v) => setMinRequests(Number(v))} min={10} />
    </ConfirmChangeDialog>
  );
}

function AbortCanaryModal({ surface, onClose }: { surface: string; onClose: () => void }) {
  const trpc = useTRPC();
  const done = useDone(onClose);
  const abort = useMutation(trpc.rollouts.abort.mutationOptions({ onSuccess: () => done.onSuccess(`Canary aborted on ${surface}`), onError: done.onError }));
  return (
    <ConfirmChangeDialog
      title={`Abort the canary on ${surface}`}
      changes={[`${surface}: all traffic returns to the current version at once`, "every replica within a second"]}
      confirmLabel="Abort canary"
      color="red"
      pending={abort.isPending}
      onClose={onClose}
      onConfirm={(reason) => abort.mutate({ surface, reason })}
    />
  );
}
