"use client";
import { ConfirmChangeDialog } from "../../../_components/ConfirmChangeDialog";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Anchor, Badge, Card, Group, NumberInput, Select, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useState } from "react";
import type { AppRouter } from "@/server/routers/_app";
import { RolloutStatusBadge } from "../../../_components/RolloutStatusBadge";
import { useTRPC } from "../../../_trpc/client";
import { MetricVerdictBadge, RolloutSteps } from "./RolloutSteps";
import { describeReach, RANKING_ROLES } from "@/server/domain/rollouts/aliasReach";

type Rollout = inferRouterOutputs<AppRouter>["rollouts"]["list"][number];

const rate = (events: number, trials: number) => (trials ? `${((events / trials) * 100).toFixed(1)}%` : "—");

type Lever = "start" | "abort" | "pause" | "resume" | "promote" | "retry";

/** The version the surface's serving alias points at, as the page showed it (null: unset): a canary's baseline. */
export type ServingShown = { versionId: string; version: number } | null;

/**
 * An open lever dialog with what the page showed when it was pressed. The page's queries refresh
 * every 5 s; the dialog renders and sends this copy, so a rollout or baseline that changed meanwhile
 * is refused by the server (409) instead of acted on unseen (as ServingHistory's `rollbackTo.read`).
 */
type OpenLever = { lever: "start"; serving: ServingShown } | { lever: Exclude<Lever, "start">; rollout: Rollout; serving: ServingShown };

/**
 * A surface's canary rollout: the running (or paused) one with its live figures, the judge's
 * latest verdicts, every judged step and its levers (pause, resume, promote now, abort); else the
 * last outcome with Retry and Start.
 */
export function RolloutStrip({ surface, modelName, serving, rollout }: { surface: string; modelName: string | null; serving: ServingShown; rollout: Rollout | undefined }) {
  const [open, setOpen] = useState<OpenLever | null>(null);
  if (!modelName) return null;
  // Copied at the press: the rollout the button was shown on, and the baseline shown beside it.
  const press = (lever: Exclude<Lever, "start">, shown: Rollout) => () => setOpen({ lever, rollout: shown, serving });
  const active = rollout && (rollout.status === "running" || rollout.status === "paused") ? rollout : undefined;
  return (
    <Card withBorder padding="xs" mt="sm" bg="var(--mantine-color-gray-0)" data-testid={`rollout-${surface}`}>
      <Group justify="space-between" gap="xs" align="flex-start">
        {active ? (
          <Stack gap={2} style={{ flex: "1 1 320px", minWidth: 0 }}>
            <Group gap="xs">
              <Badge color={active.status === "paused" ? "orange" : "blue"} variant="filled">canary {active.percent}%{active.status === "paused" ? " · paused" : ""}</Badge>
              <Text size="sm">{active.model} v{active.fromVersion ?? "—"} → <b>v{active.toVersion}</b> · step {active.step + 1} of {active.steps.length} ({active.steps.join(" → ")} % of the traffic not in an experiment, then promote)</Text>
            </Group>
            {active.live && (
              <Text size="xs" c="dimmed" data-testid="rollout-live">
                this step: canary {active.live.canary.requests} requests, fallbacks {rate(active.live.canary.fallbacks, active.live.canary.requests)}, CTR {rate(active.live.canary.clicks, active.live.canary.impressions)} ·
                baseline {active.live.baseline.requests} requests, fallbacks {rate(active.live.baseline.fallbacks, active.live.baseline.requests)}, CTR {rate(active.live.baseline.clicks, active.live.baseline.impressions)}
                {active.status === "paused" ? " · analysis paused" : active.latest ? ` · waiting: ${active.latest.reasons[0]}` : " · waiting for the first judge"}
              </Text>
            )}
            {active.stepDeadlineAt && (
              <Text size="xs" c={active.status === "paused" && active.latest?.decision === "pause" ? "orange.8" : "dimmed"} data-testid="rollout-deadline">
                {active.status === "paused" && active.latest?.decision === "pause"
                  ? active.latest.reasons[0]
                  : `step deadline ${new Date(active.stepDeadlineAt).toLocaleString()} (${active.policy?.stepDeadlineMinutes ?? "?"} min per step): past it, latency and fallbacks without ${active.policy?.minRequests ?? "?"} requests per arm, or CTR without its ${active.policy?.minImpressions.toLocaleString() ?? "?"} impressions per arm where the surface sends outcome events, pause the canary for on-call`}
              </Text>
            )}
            {active.latest && active.latest.step === active.step && (
              <Group gap={4} wrap="wrap">{active.latest.metrics.map((m) => <MetricVerdictBadge key={m.metric} metric={m} />)}</Group>
            )}
          </Stack>
        ) : (
          <Stack gap={2} style={{ flex: "1 1 320px", minWidth: 0 }}>
            <Text size="sm" c="dimmed">No canary running.</Text>
            {rollout && (
              <Text size="xs" c="dimmed" data-testid="rollout-last">
                Last: v{rollout.toVersion} <RolloutStatusBadge status={rollout.status} size="xs" /> {rollout.history.at(-1)?.reasons[0] ?? ""}
              </Text>
            )}
          </Stack>
        )}
        <Group gap={6}>
          {active?.status === "running" && <GuardedButton permission="canary.abort" size="xs" variant="default" onClick={press("pause", active)}>Pause</GuardedButton>}
          {active?.status === "paused" && <GuardedButton permission="canary.resume" size="xs" variant="default" onClick={press("resume", active)}>Resume</GuardedButton>}
          {active && <GuardedButton permission="canary.promote" size="xs" variant="light" color="teal" onClick={press("promote", active)}>Promote now</GuardedButton>}
          {active && <GuardedButton permission="canary.abort" size="xs" color="red" variant="light" onClick={press("abort", active)}>Abort canary</GuardedButton>}
          {!active && rollout && (rollout.status === "rolled_back" || rollout.status === "aborted") && (
            <GuardedButton permission="canary.start" size="xs" variant="default" onClick={press("retry", rollout)}>Retry v{rollout.toVersion}</GuardedButton>
          )}
          {!active && <GuardedButton permission="canary.start" size="xs" variant="light" onClick={() => setOpen({ lever: "start", serving })}>Start canary…</GuardedButton>}
          <Anchor component={Link} href={`/history?surface=${encodeURIComponent(surface)}`} size="xs">Serving history →</Anchor>
        </Group>
      </Group>
      {rollout && <RolloutSteps rollout={rollout} />}
      {open?.lever === "start" && <StartCanaryModal surface={surface} modelName={modelName} serving={open.serving} onClose={() => setOpen(null)} />}
      {open && open.lever !== "start" && <RolloutLeverModal lever={open.lever} rollout={open.rollout} serving={open.serving} onClose={() => setOpen(null)} />}
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

/**
 * The canary start flow (approvals included); the Shadow page opens it on a candidate's version (`initialVersion`).
 * `serving`: the serving version the page showed when the button was pressed (null: unset); the dialog names it as the
 * baseline and sends its id as `expectFromVersionId` (a start or request over a baseline moved since is a 409).
 */
export function StartCanaryModal({ surface, modelName, serving: pressed, initialVersion, onClose }: { surface: string; modelName: string; serving: ServingShown; initialVersion?: number | null; onClose: () => void }) {
  // Kept from the first render, should a caller pass a live query's value: the dialog acts on what it showed.
  const [serving] = useState(pressed);
  const servingVersion = serving?.version ?? null;
  const trpc = useTRPC();
  const model = useQuery(trpc.models.get.queryOptions({ name: modelName }));
  const surfaceRow = useQuery(trpc.surfaces.get.queryOptions({ key: surface }));
  const [version, setVersion] = useState<string | null>(initialVersion ? String(initialVersion) : null);
  const [steps, setSteps] = useState("1, 5, 25, 50");
  const [minRequests, setMinRequests] = useState<number>(500);
  const done = useDone(onClose);
  const start = useMutation(trpc.rollouts.start.mutationOptions({ onSuccess: (r) => done.onSuccess(`Canary started on ${surface} at ${r.currentPercent}%`), onError: done.onError }));
  const request = useMutation(trpc.approvals.request.mutationOptions({ onSuccess: (r) => done.onSuccess(`Approval requested: ${r.summary}`), onError: done.onError }));
  const parsedSteps = steps.split(",").map((s) => Number(s.trim())).filter((n) => !Number.isNaN(n));
  const versions = (model.data?.versions ?? []).filter((v) => v.version !== servingVersion).map((v) => ({ value: String(v.version), label: `v${v.version}` }));
  const needsApproval = surfaceRow.data?.requireApproval ?? false;
  const rollout = { surface, version: Number(version), steps: parsedSteps, minRequests, expectFromVersionId: serving?.versionId ?? null };
  return (
    <ConfirmChangeDialog
      title={`Start a canary on ${surface}`}
      changes={[
        version ? `${modelName} v${version} gets a sticky, growing share of ${surface}'s traffic that no experiment takes: ${parsedSteps.join(" → ")} %` : "pick the version to roll out",
        `each step is judged against ${servingVersion === null ? "the serving alias, unset now" : `v${servingVersion}, serving now`}; then the serving alias moves from ${servingVersion === null ? "unset" : `v${servingVersion}`} to v${version ?? "?"} (promotion); any failed step rolls back at once`,
      ]}
      warning={needsApproval ? `${surface} requires approval: this files a request that another ML engineer approves before the canary starts.` : undefined}
      confirmLabel={needsApproval ? "Request approval" : "Start canary"}
      pending={start.isPending || request.isPending}
      onClose={onClose}
      onConfirm={(reason) => (needsApproval ? request.mutate({ change: { kind: "canary_start", rollout }, reason }) : start.mutate({ ...rollout, reason }))}
    >
      <Select label="Version" data={versions} value={version} onChange={setVersion} placeholder={model.isLoading ? "loading…" : "pick a version"} />
      <TextInput label="Steps (% of traffic not in an experiment)" value={steps} onChange={(e) => setSteps(e.currentTarget.value)} />
      <NumberInput label="Requests per arm before each step is judged" value={minRequests} onChange={(v) => setMinRequests(Number(v))} min={100} />
    </ConfirmChangeDialog>
  );
}

/** The approval sentence of the Promote dialog: only a start that was approved covers its promotion. */
function promotionApproval(r: Rollout): string {
  const covered = r.approvedFor.filter((k) => r.reach.some((x) => x.key === k));
  // As the server checks it (promotionNeedingApproval): a guarded surface the move reaches in a role that ranks its traffic.
  const guarded = r.reach.filter((x) => x.requireApproval && !r.approvedFor.includes(x.key) && x.roles.some((role) => RANKING_ROLES.includes(role))).map((x) => x.key);
  if (covered.length > 0) {
    return `no second approval: the approved canary start already covers this promotion on ${covered.join(", ")} (as Argo Rollouts' promote --full)`
      + (guarded.length ? `; ${guarded.join(", ")} requires approval the start did not cover: it needs a canary_promote request (this dialog then offers to file it)` : ", unless it reaches a surface guarded since");
  }
  if (guarded.length) return `the canary's start was not approved, and ${guarded.join(", ")} requires approval: promoting needs a canary_promote request another person approves (this dialog then offers to file it)`;
  return "no approval needed: the canary's start was not approved, and no surface this promotion reaches requires approval";
}

const LEVERS: Record<Exclude<Lever, "start">, { title: string; label: string; color: string; effect: (r: Rollout, serving: ServingShown) => string[] }> = {
  pause: { title: "Pause the canary on", label: "Pause", color: "orange", effect: (r: Rollout) => [`${r.surface}: the canary keeps ${r.percent}% of the traffic not in an experiment; no step is judged until you resume`] },
  resume: { title: "Resume the canary on", label: "Resume", color: "blue", effect: (r: Rollout) => [`${r.surface}: the judge resumes step ${r.step + 1} (${r.percent}% of the traffic not in an experiment)`] },
  promote: {
    title: "Promote the canary on", label: "Promote now", color: "teal",
    effect: (r: Rollout) => [
      `${r.model} ${r.alias}: v${r.fromVersion ?? "?"} → v${r.toVersion}, skipping the remaining steps`,
      // The promotion moves the alias, so every surface it reaches changes, not only this one.
      `surfaces affected: ${describeReach(r.reach.length ? r.reach : [{ key: r.surface, roles: ["serving"] }])}`,
      `the canary alias canary@${r.surface} is cleared (other surfaces' canaries are untouched); every replica within a second`,
      promotionApproval(r),
    ],
  },
  abort: { title: "Abort the canary on", label: "Abort canary", color: "red", effect: (r: Rollout) => [`${r.surface}: all traffic returns to v${r.fromVersion ?? "?"} at once`, `the canary alias canary@${r.surface} is cleared; every replica within a second`] },
  retry: {
    title: "Retry the canary on", label: "Retry", color: "blue",
    // A tolerance or minimum of the old rollout outside today's bounds is brought to the bound (the stricter side): each is named.
    effect: (r: Rollout, serving: ServingShown) => [
      `a new canary of ${r.model} v${r.toVersion} on ${r.surface}: ${r.steps.join(" → ")} % of the traffic not in an experiment, the same tolerances${r.retryPolicyAdjusted.length ? ", except where today's bounds are stricter:" : ""}`,
      ...r.retryPolicyAdjusted,
      // The new canary's baseline is what serves now, not the old rollout's: named, and sent as the pin.
      `each step is judged against ${r.model} ${r.alias} ${serving ? `v${serving.version}` : "unset"} (serving now); then ${r.alias} moves from ${serving ? `v${serving.version}` : "unset"} to v${r.toVersion} (promotion)`,
    ],
  },
};

/** A lever's dialog on `rollout` as the page showed it at the press (never the refreshed one): it names it and sends its id; a retry sends `serving` as its baseline pin. */
function RolloutLeverModal({ lever, rollout, serving, onClose }: { lever: Exclude<Lever, "start">; rollout: Rollout; serving: ServingShown; onClose: () => void }) {
  const trpc = useTRPC();
  const done = useDone(onClose);
  const spec = LEVERS[lever];
  const ok = () => done.onSuccess(`${spec.label}: ${rollout.surface}`);
  const options = { onSuccess: ok, onError: done.onError };
  // A promotion that reaches a surface whose approval the canary's start did not cover is refused
  // (409 naming canary_promote): the dialog then files that request instead.
  const [approvalNeeded, setApprovalNeeded] = useState<string | null>(null);
  const pause = useMutation(trpc.rollouts.pause.mutationOptions(options));
  const resume = useMutation(trpc.rollouts.resume.mutationOptions(options));
  const promote = useMutation(trpc.rollouts.promote.mutationOptions({
    onSuccess: ok,
    onError: (e) => (/canary_promote/.test(e.message) ? setApprovalNeeded(e.message) : done.onError(e)),
  }));
  const request = useMutation(trpc.approvals.request.mutationOptions({ onSuccess: (r) => done.onSuccess(`Approval requested: ${r.summary}`), onError: done.onError }));
  const abort = useMutation(trpc.rollouts.abort.mutationOptions({
    onSuccess: (r) => (r.alreadyAborted
      ? done.onSuccess(`Already aborted: the canary on ${rollout.surface} was aborted by ${r.alreadyAborted.by} at ${new Date(r.alreadyAborted.at).toLocaleString()}${r.alreadyAborted.runningNow ? `; ${r.alreadyAborted.runningNow}` : ""}`)
      : ok()),
    onError: done.onError,
  }));
  const retry = useMutation(trpc.rollouts.retry.mutationOptions({
    onSuccess: (r) => done.onSuccess(`${spec.label}: ${rollout.surface}${r.policyAdjusted.length ? `; within today's bounds: ${r.policyAdjusted.join("; ")}` : ""}`),
    onError: done.onError,
  }));
  const pending = [pause, resume, promote, abort, retry, request].some((m) => m.isPending);
  return (
    <ConfirmChangeDialog
      title={`${spec.title} ${rollout.surface}`}
      changes={spec.effect(rollout, serving)}
      warning={approvalNeeded ? <span data-testid="promote-needs-approval">{`Not promoted: ${approvalNeeded}. Confirm to file the request.`}</span> : undefined}
      confirmLabel={approvalNeeded ? "Request approval" : spec.label}
      color={spec.color}
      pending={pending}
      onClose={onClose}
      onConfirm={(reason) => {
        if (approvalNeeded) return request.mutate({ change: { kind: "canary_promote", surface: rollout.surface, rolloutId: rollout.id }, reason });
        // The rollout this dialog showed: a lever never acts on one started since (409 naming it).
        const input = { surface: rollout.surface, rolloutId: rollout.id, reason };
        if (lever === "pause") pause.mutate(input);
        else if (lever === "resume") resume.mutate(input);
        else if (lever === "promote") promote.mutate(input);
        else if (lever === "abort") abort.mutate(input);
        else retry.mutate({ rolloutId: rollout.id, reason, expectFromVersionId: serving?.versionId ?? null });
      }}
    />
  );
}
