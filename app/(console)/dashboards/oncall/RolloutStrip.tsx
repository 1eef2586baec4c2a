"use client";
import { Badge, Button, Card, Group, Modal, NumberInput, Select, Stack, Text, TextInput } from "@mantine/core";
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
          <Button size="xs" color="red" variant="light" onClick={() => setModal("abort")}>Abort canary</Button>
        ) : (
          <Button size="xs" variant="light" onClick={() => setModal("start")}>Start canary…</Button>
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

function StartCanaryModal({ surface, modelName, servingVersion, onClose }: { surface: string; modelName: string; servingVersion: number | null; onClose: () => void }) {
  const trpc = useTRPC();
  const model = useQuery(trpc.models.get.queryOptions({ name: modelName }));
  const [version, setVersion] = useState<string | null>(null);
  const [steps, setSteps] = useState("1, 5, 25, 50");
  const [minRequests, setMinRequests] = useState<number>(200);
  const [reason, setReason] = useState("");
  const done = useDone(onClose);
  const start = useMutation(trpc.rollouts.start.mutationOptions({ onSuccess: (r) => done.onSuccess(`Canary started on ${surface} at ${r.currentPercent}%`), onError: done.onError }));
  const parsedSteps = steps.split(",").map((s) => Number(s.trim())).filter((n) => !Number.isNaN(n));
  const versions = (model.data?.versions ?? []).filter((v) => v.version !== servingVersion).map((v) => ({ value: String(v.version), label: `v${v.version}` }));
  return (
    <Modal opened onClose={onClose} title={`Start a canary on ${surface}`}>
      <Stack>
        <Text size="sm">A sticky share of the traffic no experiment takes goes to the version, growing step by step while its fallback rate and p99 stay within tolerance of the current version; after the last step it is promoted, and on a failure it is rolled back at once.</Text>
        <Select label="Version" data={versions} value={version} onChange={setVersion} placeholder={model.isLoading ? "loading…" : "pick a version"} />
        <TextInput label="Steps (% of traffic)" value={steps} onChange={(e) => setSteps(e.currentTarget.value)} />
        <NumberInput label="Requests per arm before each step is judged" value={minRequests} onChange={(v) => setMinRequests(Number(v))} min={10} />
        <TextInput label="Reason (audit log)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button disabled={!version} loading={start.isPending} onClick={() => start.mutate({ surface, version: Number(version), steps: parsedSteps, minRequests, ...(reason ? { reason } : {}) })}>
            Start canary
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function AbortCanaryModal({ surface, onClose }: { surface: string; onClose: () => void }) {
  const trpc = useTRPC();
  const [reason, setReason] = useState("");
  const done = useDone(onClose);
  const abort = useMutation(trpc.rollouts.abort.mutationOptions({ onSuccess: () => done.onSuccess(`Canary aborted on ${surface}`), onError: done.onError }));
  return (
    <Modal opened onClose={onClose} title={`Abort the canary on ${surface}`}>
      <Stack>
        <Text size="sm">All traffic returns to the current version at once, on every replica within a second.</Text>
        <TextInput label="Reason (audit log)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} data-autofocus />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button color="red" disabled={reason.trim().length < 3} loading={abort.isPending} onClick={() => abort.mutate({ surface, reason })}>Abort canary</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
