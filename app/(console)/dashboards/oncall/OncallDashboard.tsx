"use client";
import { ConfirmChangeDialog } from "../../../_components/ConfirmChangeDialog";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Alert, Anchor, Badge, Card, Code, Group, Loader, Paper, SegmentedControl, SimpleGrid, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useState } from "react";
import type { AppRouter } from "@/server/routers/_app";
import { AuditSentence } from "../../../_components/AuditSentence";
import { LatencyChart } from "../../../_components/charts/LatencyChart";
import { useTRPC } from "../../../_trpc/client";
import { ProblemRequests } from "./ProblemRequests";
import { RolloutStrip } from "./RolloutStrip";
import { describeReach } from "@/server/domain/rollouts/aliasReach";
import { describeBurnAlertRules, formatBurn as burn, formatObjective, WINDOW_WORDS } from "./format";

type Surface = inferRouterOutputs<AppRouter>["oncall"]["overview"]["surfaces"][number];
type ActiveAlert = inferRouterOutputs<AppRouter>["oncall"]["overview"]["alerts"][number];
type Unattributed = inferRouterOutputs<AppRouter>["oncall"]["overview"]["unattributed"];
type Rollout = inferRouterOutputs<AppRouter>["rollouts"]["current"][number];
type StageLever = Surface["stages"][number];
type Lever = { kind: "kill"; on: boolean } | { kind: "rollback"; stage: StageLever };

const WINDOWS = [
  { value: "1", label: "1 h" },
  { value: "6", label: "6 h" },
  { value: "24", label: "24 h" },
];
const LEVEL_COLOR = { page: "red", warn: "orange", ok: "teal", no_traffic: "gray", no_budget: "yellow" } as const;
const ms = (v: number | null) => (v === null ? "—" : `${v.toFixed(v < 10 ? 2 : 1)} ms`);

export function OncallDashboard() {
  const trpc = useTRPC();
  const [hours, setHours] = useState("1");
  const overview = useQuery({ ...trpc.oncall.overview.queryOptions({ hours: Number(hours) }), refetchInterval: 5_000 });
  const changes = useQuery({ ...trpc.oncall.changes.queryOptions({ limit: 15 }), refetchInterval: 5_000 });
  const rollouts = useQuery({ ...trpc.rollouts.current.queryOptions(), refetchInterval: 5_000 });
  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">Refreshes every 5 s. Burn: error-budget spend rate (1 = exactly on budget); the badges turn red at ≥ 14.4 over 1 h or ≥ 6 over 6 h. Chart lines mark alias moves, rollbacks and kill switches.</Text>
        <SegmentedControl aria-label="Window" data={WINDOWS} value={hours} onChange={setHours} />
      </Group>
      {overview.data && <ActiveAlerts alerts={overview.data.alerts} />}
      {overview.data && <UnattributedErrors data={overview.data.unattributed} hours={Number(hours)} />}
      {!overview.data ? (
        overview.error ? <Alert color="red">{overview.error.message}</Alert> : <Loader />
      ) : (
        overview.data.surfaces.map((s) => (
          // Each surface's running or paused rollout, else its newest (rollouts.current lists active ones first).
          <SurfaceCard key={s.key} surface={s} hours={Number(hours)} rollout={rollouts.data?.find((r) => r.surface === s.key)} />
        ))
      )}
      <Card withBorder padding="md">
        <Group justify="space-between" mb="xs">
          <Title order={5}>Recent changes</Title>
          <Anchor component={Link} href="/audit" size="sm">Audit trail →</Anchor>
        </Group>
        {!changes.data ? (
          <Loader size="sm" />
        ) : changes.data.length === 0 ? (
          <Text size="sm" c="dimmed">No alias moves, kill switches, shadow or experiment changes yet.</Text>
        ) : (
          <>
            {/* A phone gets one card per change (no column cuts a word); wider screens the table. */}
            <Stack gap={6} hiddenFrom="sm" data-testid="recent-changes-cards">
              {changes.data.map((c) => (
                <Paper key={c.id} withBorder p="xs" data-testid="recent-change-card">
                  <Text size="xs" c="dimmed">{new Date(c.ts).toLocaleString()}</Text>
                  <AuditSentence size="xs" parts={c.description.parts} />
                  {c.reason && <Text size="xs" mt={2}><Text span size="xs" c="dimmed">why: </Text>{c.reason}</Text>}
                </Paper>
              ))}
            </Stack>
            <Table visibleFrom="sm" data-testid="recent-changes" verticalSpacing={4}>
              <Table.Thead><Table.Tr><Table.Th w={170}>when</Table.Th><Table.Th>what happened</Table.Th><Table.Th>why</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {changes.data.map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td><Text size="xs">{new Date(c.ts).toLocaleString()}</Text></Table.Td>
                    <Table.Td><AuditSentence size="xs" parts={c.description.parts} /></Table.Td>
                    <Table.Td><Text size="xs">{c.reason ?? ""}</Text></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </>
        )}
      </Card>
    </Stack>
  );
}

/** Where a stage's rollback goes and why: a version the alias served, or why there is none. */
function rollbackNote(s: StageLever): string {
  const r = s.rollback;
  if (!r) return `No one-click target: ${s.rollbackUnavailable ?? "no earlier version of this alias is recorded"}`;
  return `v${r.version} served until ${r.movedAt ? new Date(r.movedAt).toLocaleString() : "?"} (moved by ${r.movedBy ?? "unknown"}); versions rolled back from are skipped`;
}

function SurfaceCard({ surface: s, hours, rollout }: { surface: Surface; hours: number; rollout: Rollout | undefined }) {
  const trpc = useTRPC();
  const series = useQuery({ ...trpc.oncall.series.queryOptions({ surface: s.key, hours }), refetchInterval: 5_000 });
  const [lever, setLever] = useState<Lever | null>(null);
  // On a cascade the one click rolls back the stage whose standing change is newest (rollbackStageOf); the other stage has its own button.
  const cascade = s.stages.length > 1;
  // No one click when stage 2 was reconfigured after every alias move (rollbackStage null): each stage only on purpose.
  const oneClick = s.rollbackStage === null ? undefined : (s.stages.find((x) => x.stage === s.rollbackStage) ?? s.stages[0]);
  const others = s.stages.filter((x) => x !== oneClick);
  const stage2 = s.stages.find((x) => x.stage === 2);
  const p99Over = s.window.p99 !== null && s.window.p99 > s.slo.latencyP99Ms;
  return (
    <Card withBorder padding="md" data-testid={`surface-${s.key}`} id={`surface-${s.key}`}>
      <Group justify="space-between" align="flex-start" mb="sm">
        <Stack gap={2}>
          <Group gap="xs">
            <Title order={4}>{s.name}</Title>
            <Text size="sm" c="dimmed">{s.key}</Text>
            {s.killSwitch && <Badge color="red" variant="filled" data-testid="kill-switch-on">kill switch on: retrieval order</Badge>}
          </Group>
          <Text size="sm" data-testid="serving">
            {s.serving ? <>serving <Code>{s.modelName} {s.servingAlias}</Code> → v{s.serving.version}</> : "no model: retrieval order"}
            {s.sharedWith.length > 0 && <Text span size="xs" c="dimmed"> · the same alias also serves {describeReach(s.reach.filter((r) => r.key !== s.key))}</Text>}
            {s.stages.filter((x) => x.stage === 2).map((x) => (
              <Text span key="stage2" data-testid="serving-stage2"> · stage 2 <Code>{x.modelName} {x.alias}</Code> → {x.serving ? `v${x.serving.version}` : "unset"}</Text>
            ))}
          </Text>
        </Stack>
        <Group gap="xs" justify="flex-end" maw={420}>
          <GuardedButton permission="oncall.killSwitch" color={s.killSwitch ? "teal" : "red"} variant={s.killSwitch ? "filled" : "light"} onClick={() => setLever({ kind: "kill", on: !s.killSwitch })}>
            {s.killSwitch ? "Turn kill switch off" : "Kill switch"}
          </GuardedButton>
          {oneClick && (
            <Tooltip label={rollbackNote(oneClick)}>
              <GuardedButton permission="oncall.rollback" color="orange" disabled={!oneClick.rollback} onClick={() => setLever({ kind: "rollback", stage: oneClick })} data-testid="rollback-button">
                {rollbackLabel(oneClick, cascade)}
              </GuardedButton>
            </Tooltip>
          )}
          {others.map((x) => (
            // A cascade's other stage (or, with no one click, each stage): rolled back on purpose.
            <Tooltip key={x.stage} label={rollbackNote(x)}>
              <GuardedButton permission="oncall.rollback" color="orange" variant="light" disabled={!x.rollback} onClick={() => setLever({ kind: "rollback", stage: x })} data-testid={`rollback-button-stage-${x.stage}`}>
                {rollbackLabel(x, cascade)}
              </GuardedButton>
            </Tooltip>
          ))}
          {cascade && (
            <Text size="xs" c="dimmed" w="100%" ta="right" data-testid="rollback-stage-why">
              {!oneClick && stage2?.configured
                ? <>stage 2 was reconfigured last ({stage2.modelName} {stage2.alias}, by {stage2.configured.actor}, {new Date(stage2.configured.at).toLocaleString()}): a rollback moves aliases, not a configuration: undo it with Restore in stage 2&apos;s Edit dialog on the Overview, or roll a stage back on purpose</>
                : oneClick?.lastChange
                  ? <>stage {oneClick.stage} changed last: {oneClick.modelName} {oneClick.alias} {oneClick.lastChange.kind.replace("_", " ")} by {oneClick.lastChange.actor}, {new Date(oneClick.lastChange.at).toLocaleString()}</>
                  : <>no stage has a standing change: the one click rolls back stage 1</>}
            </Text>
          )}
          {(s.stages.length === 0 || (oneClick && !oneClick.rollback)) && (
            // The one-click target is null: say why beside the disabled button, and where any version can be chosen.
            <Text size="xs" c="dimmed" w="100%" ta="right" data-testid="rollback-unavailable">
              No one-click target: {oneClick?.rollbackUnavailable ?? s.rollbackUnavailable ?? "no earlier version to roll back to"} ·{" "}
              <Anchor component={Link} href={`/history?surface=${encodeURIComponent(s.key)}`} size="xs">choose any version in Serving history →</Anchor>
            </Text>
          )}
        </Group>
      </Group>
      <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }} spacing="xs">
        <Figure label={`requests (${hours} h)`} value={s.window.requests.toLocaleString()} testId="requests" />
        <Figure label="p50" value={ms(s.window.p50)} />
        <Figure label="p95" value={ms(s.window.p95)} testId="p95" />
        <Figure label={`p99 (target ${s.slo.latencyP99Ms} ms)`} value={ms(s.window.p99)} color={p99Over ? "red" : undefined} testId="p99" />
        <Figure label="fallback rate" value={s.window.fallbackRate === null ? "—" : `${(s.window.fallbackRate * 100).toFixed(2)}%`} testId="fallback-rate" />
        <Stack gap={2}>
          <Text size="xs" c="dimmed" fw={600}>burn 1 h / 6 h</Text>
          <Group gap={4}>
            <Badge color={LEVEL_COLOR[s.burn.availability.level]} variant="light" data-testid="burn-availability">
              avail. {s.burn.availability.note ? "no budget" : `${burn(s.burn.availability.oneHour)} / ${burn(s.burn.availability.sixHours)}`}
            </Badge>
            <Badge color={LEVEL_COLOR[s.burn.latency.level]} variant="light" data-testid="burn-latency">
              latency {s.burn.latency.note ? "no budget" : `${burn(s.burn.latency.oneHour)} / ${burn(s.burn.latency.sixHours)}`}
            </Badge>
          </Group>
        </Stack>
      </SimpleGrid>
      {[s.burn.availability.note, s.burn.latency.note].filter(Boolean).map((note) => (
        // An objective without an error budget (set by SQL): no burn and no alert for this SLI until it is fixed.
        <Text key={note} size="xs" c="yellow.8" mt={4} data-testid="burn-note">{note}: no burn rate or alert for this SLI</Text>
      ))}
      {s.fallbackReasons.length > 0 && (
        <Group gap={4} mt="xs">
          <Text size="xs" c="dimmed">fallbacks:</Text>
          {s.fallbackReasons.map((r) => <Badge key={r.reason} size="sm" color="red" variant="outline" tt="none">{r.reason} × {r.count}</Badge>)}
        </Group>
      )}
      <ProblemRequests surface={s.key} hours={hours} />
      <RolloutStrip surface={s.key} modelName={s.modelName} serving={s.serving} rollout={rollout} />
      {series.data && series.data.points.length > 0 && <LatencyChart data={series.data.points} targetMs={s.slo.latencyP99Ms} markers={series.data.markers} window={{ from: series.dataUpdatedAt - hours * 3_600_000, to: series.dataUpdatedAt }} />}
      {series.data && series.data.points.length === 0 && series.data.markers.length > 0 && (
        <Text size="xs" c="dimmed" mt="xs" data-testid="markers-without-traffic">
          No requests in the window. Changes: {series.data.markers.map((m) => `${new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} ${m.label}`).join(" · ")}
        </Text>
      )}
      {series.data?.markersTruncated && <Text size="xs" c="dimmed" mt={4} data-testid="markers-truncated">Only the newest 200 changes in this window are marked; older ones are on the Audit page.</Text>}
      {lever && <LeverModal surface={s} lever={lever} onClose={() => setLever(null)} />}
    </Card>
  );
}

/** The multiwindow burn-rate alerts firing now (the rules of deploy/prometheus/alerts.yml, from the app's own log). */
function ActiveAlerts({ alerts }: { alerts: ActiveAlert[] }) {
  return (
    <Card withBorder padding="md" data-testid="active-alerts">
      <Group justify="space-between" mb="xs" gap="xs">
        <Title order={5}>Active alerts</Title>
        <Text size="xs" c="dimmed">{describeBurnAlertRules()}</Text>
      </Group>
      {alerts.length === 0 ? (
        <Text size="sm" c="dimmed">No burn-rate alert is firing.</Text>
      ) : (
        // Rows that wrap rather than a table: the alert names are long and on-call reads this on a phone.
        <Stack gap={6}>
          {alerts.map((a) => (
            <Group key={`${a.surface}-${a.alert}`} data-testid="active-alert" gap="xs" wrap="wrap" align="center" py={4} style={{ borderTop: "1px solid var(--mantine-color-gray-2)" }}>
              <Badge color={a.severity === "page" ? "red" : "orange"} variant="filled" style={{ flexShrink: 0, overflow: "visible" }}>{a.severity}</Badge>
              <Text size="sm" fw={600} style={{ wordBreak: "break-word" }}>{a.alert}</Text>
              <Anchor href={`#surface-${a.surface}`} size="sm">{a.surface}</Anchor>
              <Text size="sm">
                {burn(a.longBurn)}× over {WINDOW_WORDS[a.longWindow]} / {burn(a.shortBurn)}× over {WINDOW_WORDS[a.shortWindow]}
              </Text>
              <Text size="xs" c="dimmed">{a.sli} SLO {formatObjective(a.objective)}, fires over {a.burnRate}×</Text>
            </Group>
          ))}
        </Stack>
      )}
    </Card>
  );
}

/**
 * Rerank answers with a 5xx that no surface can be charged with (the key check failed with the
 * database down, say; server/oncall/service.ts unattributedErrors): no surface card counts them, so
 * they get a card of their own, the target of their alerts' links (#surface-unattributed).
 */
function UnattributedErrors({ data, hours }: { data: Unattributed; hours: number }) {
  const failing = data.errors > 0;
  return (
    <Card withBorder padding="md" id={`surface-${data.label}`} data-testid="unattributed-errors" style={failing ? { borderColor: "var(--mantine-color-red-5)" } : undefined}>
      <Group justify="space-between" align="flex-start" gap="sm">
        <Stack gap={2} style={{ flex: "1 1 260px", minWidth: 0 }}>
          <Title order={5}>Unattributed 5xx</Title>
          <Text size="xs" c="dimmed">
            Rerank requests answered with a 5xx before any surface was known (the API-key check with the database down, say): no
            surface&apos;s burn includes them. Counted as <Code>surface=&quot;{data.label}&quot;</Code>; their burn is their share of every
            surface&apos;s requests, so one 5xx among many requests does not page, an outage does.
          </Text>
        </Stack>
        <Group gap="lg" align="flex-start">
          <Figure label={`5xx (${hours} h)`} value={data.errors.toLocaleString()} color={failing ? "red" : undefined} testId="unattributed-count" />
          <Stack gap={2}>
            <Text size="xs" c="dimmed" fw={600}>burn 1 h / 6 h</Text>
            <Badge color={LEVEL_COLOR[data.burn.level]} variant="light" data-testid="unattributed-burn">
              avail. {burn(data.burn.oneHour)} / {burn(data.burn.sixHours)}
            </Badge>
          </Stack>
        </Group>
      </Group>
    </Card>
  );
}

function Figure({ label, value, color, testId }: { label: string; value: string; color?: string; testId?: string }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" fw={600}>{label}</Text>
      <Text fw={700} c={color} data-testid={testId}>{value}</Text>
    </Stack>
  );
}

/** A stage's rollback button: "Roll back to v2", on a cascade "Roll back stage 2 to v1". */
const rollbackLabel = (st: StageLever, cascade: boolean) =>
  `Roll back${cascade ? ` stage ${st.stage}` : ""}${st.rollback ? ` to v${st.rollback.version}` : ""}`;

function LeverModal({ surface: s, lever, onClose }: { surface: Surface; lever: Lever; onClose: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const done = (message: string) => {
    notifications.show({ color: "teal", message });
    onClose();
    return queryClient.invalidateQueries({ queryKey: trpc.oncall.pathKey() });
  };
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const kill = useMutation(trpc.oncall.killSwitch.mutationOptions({ onSuccess: (r) => done(`Kill switch ${r.killSwitch ? "on" : "off"} for ${r.key}`), onError }));
  const rollback = useMutation(trpc.oncall.rollback.mutationOptions({
    onSuccess: (r) => done(`${r.model} ${r.alias}${r.stage === 2 ? " (stage 2)" : ""} rolled back to v${r.version}${r.aborted.length ? `; aborted ${r.aborted.map((a) => `the canary on ${a.surface} (v${a.version} at ${a.percent} %)`).join(", ")}` : ""}`),
    onError,
  }));
  if (lever.kind === "kill") {
    const changes = lever.on
      ? [`${s.key}: model scoring stops; requests are served in retrieval order with the same constraints (blocked items stay out), marked as fallbacks`, "shadow mirroring stops", "every replica within a second"]
      : [`${s.key}: model scoring resumes (${s.modelName} ${s.servingAlias} → v${s.serving?.version})`, "every replica within a second"];
    return (
      <ConfirmChangeDialog
        title={lever.on ? `Kill switch on for ${s.name}` : `Kill switch off for ${s.name}`}
        changes={changes}
        confirmLabel={lever.on ? "Turn kill switch on" : "Turn kill switch off"}
        color={lever.on ? "red" : "teal"}
        pending={kill.isPending}
        onClose={onClose}
        onConfirm={(reason) => kill.mutate({ surface: s.key, on: lever.on, reason })}
      />
    );
  }
  const st = lever.stage;
  const cascade = s.stages.length > 1;
  const others = st.reach.filter((r) => r.key !== s.key);
  const affected = (
    <span key="reach" data-testid="rollback-reach">
      {others.length ? <>surfaces affected: {s.key}; <b>also serves {describeReach(others)}</b></> : <>surfaces affected: {s.key} (no other surface uses {st.modelName} {st.alias})</>}
    </span>
  );
  // A rollback moves the alias every canary on it is judged against: each of those is aborted, so the dialog names them before the press.
  const aborts = (
    <span key="aborts" data-testid="rollback-aborts">
      {st.rollbackAborts.length
        ? <b>aborts {st.rollbackAborts.length === 1 ? "the canary" : `${st.rollbackAborts.length} canaries`} judged against {st.modelName} {st.alias}: {st.rollbackAborts.map((a) => `${a.surface} (v${a.version} at ${a.percent} %, ${a.status})`).join(", ")}</b>
        : <>no canary is judged against {st.modelName} {st.alias}: none is aborted</>}
    </span>
  );
  const what = cascade ? (st.stage === 2 ? "stage 2 (the model that rescores the top of stage 1's order)" : "stage 1 (the serving model)") : null;
  const changes = [
    <>{what && <>{what}: </>}{st.modelName} {st.alias}: v{st.serving?.version} → v{st.rollback?.version}</>,
    rollbackNote(st), affected, aborts, "every replica serves it within a second",
  ];
  return (
    <ConfirmChangeDialog
      title={`Roll back ${s.name}${cascade ? ` stage ${st.stage}` : ""}`}
      changes={changes}
      confirmLabel={`Roll back${cascade ? ` stage ${st.stage}` : ""} to v${st.rollback?.version}`}
      color="orange"
      pending={rollback.isPending}
      onClose={onClose}
      onConfirm={(reason) => rollback.mutate({ surface: s.key, stage: st.stage, reason, expectFromVersionId: st.serving?.versionId ?? null, expectAlias: { model: st.modelName, alias: st.alias }, ...(st.rollback ? { expectVersionId: st.rollback.versionId } : {}) })}
    />
  );
}
