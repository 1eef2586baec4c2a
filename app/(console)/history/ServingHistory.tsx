"use client";
import { Alert, Badge, Button, Card, Group, Loader, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import type { AppRouter } from "@/server/routers/_app";
import { describeReach } from "@/server/domain/rollouts/aliasReach";
import { ConfirmChangeDialog } from "../../_components/ConfirmChangeDialog";
import { useTRPC } from "../../_trpc/client";

type History = inferRouterOutputs<AppRouter>["history"]["surface"];
type Row = History["rows"][number];
type Option = History["rollback"]["options"][number];
/** One alias's versions: stage 1's (the page's top-level fields) or stage 2's. */
type Versions = Pick<History, "serving" | "reach" | "stints" | "rollback">;

const KIND_LABEL: Record<string, string> = {
  alias_move: "alias moved", rollback: "rollback", ship: "experiment shipped", promotion: "canary promoted (alias)",
  canary_start: "canary started", canary_step: "canary widened", canary_paused: "canary paused", canary_resumed: "canary resumed",
  canary_promoted: "canary promoted", canary_rolled_back: "canary rolled back", canary_aborted: "canary aborted", kill_switch: "kill switch",
  stage2: "stage 2 configured",
};
const KIND_COLOR: Record<string, string> = { rollback: "orange", canary_rolled_back: "red", canary_aborted: "gray", kill_switch: "red", ship: "violet", promotion: "teal", canary_promoted: "teal" };
const when = (d: Date | string | null) => (d ? new Date(d).toLocaleString() : "before the history began");
/** A datetime-local input's value for now, in local time. */
const localNow = () => {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 19);
};

/** `model`: the surface's model; a row of another model's alias (stage 2 of this surface, say) names its model. */
function change(r: Row, model: string | null): string {
  if (r.kind === "kill_switch") return r.killSwitch ? "on: retrieval order" : "off";
  if (r.kind.startsWith("canary_")) return `v${r.toVersion ?? "?"} at ${r.percent ?? 0}%`;
  const alias = r.modelName && r.modelName !== model ? `${r.modelName} ${r.alias}` : r.alias;
  if (r.kind === "stage2") return r.toVersion === null ? `stage 2 removed (was ${alias})` : `stage 2: ${alias} (v${r.toVersion})`;
  if (r.noop) return `${alias} v${r.toVersion} again (no change)`;
  return `${alias} ${r.fromVersion ? `v${r.fromVersion}` : "unset"} → ${r.toVersion ? `v${r.toVersion}` : "cleared"}`;
}

/** Rows of "Every change" per page, and the most one request gives (history.surface's limit). */
const HISTORY_PAGE = 100;
const HISTORY_MAX = 500;

/** A surface's promotion history: what served at a time, the versions it went through, every change, and rollback to any earlier version. */
export function ServingHistory({ initialSurface }: { initialSurface: string | null }) {
  const trpc = useTRPC();
  const surfaces = useQuery(trpc.surfaces.list.queryOptions());
  const [surface, setSurface] = useState<string | null>(initialSurface);
  const chosen = surface ?? surfaces.data?.find((s) => s.model)?.key ?? surfaces.data?.[0]?.key ?? null;
  // "Show older" widens the one refreshed page (no gaps between pages when new rows arrive), up to the API's 500.
  const [shown, setShown] = useState({ surface: chosen, limit: HISTORY_PAGE });
  const limit = shown.surface === chosen ? shown.limit : HISTORY_PAGE;
  const history = useQuery({ ...trpc.history.surface.queryOptions({ surface: chosen ?? "", limit }), enabled: !!chosen, refetchInterval: 5_000, placeholderData: (previous) => (previous?.surface === chosen ? previous : undefined) });
  // The dialog keeps what the page showed when the button was pressed (the page refreshes every 5 s):
  // its text and the versions it pins are what the person read, and a move since is refused (409).
  const [rollbackTo, setRollbackTo] = useState<{ stage: 1 | 2; option: Option; read: History } | null>(null);
  return (
    <Stack>
      <Select
        label="Surface" maw={360} data={(surfaces.data ?? []).map((s) => ({ value: s.key, label: `${s.name} (${s.key})` }))} value={chosen} allowDeselect={false}
        onChange={(v) => setSurface(v)} placeholder={surfaces.isLoading ? "loading…" : "pick a surface"} data-testid="history-surface"
      />
      {chosen && <ServingAt surface={chosen} />}
      {history.error && <Alert color="red">{history.error.message}</Alert>}
      {!history.data ? (
        chosen && !history.error ? <Loader size="sm" /> : null
      ) : (
        <>
          <AliasVersionsCard versions={history.data} title={`Versions of ${history.data.model ?? "—"} ${history.data.alias}${history.data.stage2 ? " (stage 1)" : ""}`} testId="history-versions" onRollback={(option) => setRollbackTo({ stage: 1, option, read: history.data! })} />
          {history.data.stage2 && (
            <AliasVersionsCard
              versions={history.data.stage2} testId="history-versions-stage2"
              title={`Versions of ${history.data.stage2.model} ${history.data.stage2.alias} (stage 2: rescores the top of stage 1's order)`}
              onRollback={(option) => setRollbackTo({ stage: 2, option, read: history.data! })}
            />
          )}
          <Card withBorder padding="md">
            <Title order={5} mb="xs">Every change</Title>
            <Text size="sm" c="dimmed" mb="xs">Every change that reached {chosen}: moves of any alias it uses (also when made from another surface sharing it), its canary and kill switch. &quot;surfaces&quot;: every surface the change reached.</Text>
            <Table.ScrollContainer minWidth={860}>
              <Table verticalSpacing={4} data-testid="history-rows">
                <Table.Thead><Table.Tr><Table.Th>when</Table.Th><Table.Th>what</Table.Th><Table.Th>change</Table.Th><Table.Th>surfaces</Table.Th><Table.Th>who</Table.Th><Table.Th>why</Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {history.data.rows.map((r) => (
                    <Table.Tr key={r.id}>
                      <Table.Td><Text size="xs">{new Date(r.ts).toLocaleString()}</Text></Table.Td>
                      <Table.Td><Badge size="sm" variant="light" color={KIND_COLOR[r.kind] ?? "blue"} tt="none" styles={{ root: { overflow: "visible", minWidth: "max-content" }, label: { overflow: "visible" } }}>{KIND_LABEL[r.kind] ?? r.kind}{r.stage === 2 && r.kind !== "stage2" ? " (stage 2)" : ""}</Badge></Table.Td>
                      <Table.Td><Text size="xs">{change(r, history.data.model)}</Text></Table.Td>
                      <Table.Td data-testid="history-row-surfaces"><Text size="xs">{r.surfaces.length ? r.surfaces.join(", ") : "—"}</Text></Table.Td>
                      <Table.Td><Text size="xs">{r.actor}</Text></Table.Td>
                      <Table.Td><Text size="xs">{r.reason ?? ""}</Text></Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            {history.data.older && (
              <Group gap="xs" mt="xs" data-testid="history-older">
                <Text size="xs" c="dimmed">The newest {history.data.rows.length} changes{limit >= HISTORY_MAX ? ": older ones are in the audit trail (or history.surface with before and beforeId)" : ""}.</Text>
                {limit < HISTORY_MAX && (
                  <Button size="compact-xs" variant="default" loading={history.isFetching && history.isPlaceholderData} onClick={() => setShown({ surface: chosen, limit: Math.min(HISTORY_MAX, limit + HISTORY_PAGE) })}>
                    Show older
                  </Button>
                )}
              </Group>
            )}
          </Card>
        </>
      )}
      {rollbackTo && <RollbackDialog history={rollbackTo.read} stage={rollbackTo.stage} to={rollbackTo.option} onClose={() => setRollbackTo(null)} />}
    </Stack>
  );
}

/** One alias's distinct versions, newest first, each earlier one with its rollback button (stage 1's, or stage 2's on a cascade). */
function AliasVersionsCard({ versions, title, testId, onRollback }: { versions: Versions; title: string; testId: string; onRollback: (option: Option) => void }) {
  return (
    <Card withBorder padding="md" data-testid={testId}>
      <Title order={5} mb={4}>{title}</Title>
      <Text size="sm" c="dimmed" mb="xs">Distinct versions, newest first: re-applying the serving version adds none. On-call may roll back to any earlier one (never waits for approval).</Text>
      {versions.rollback.unavailable && (
        <Text size="sm" c="orange.8" mb="xs" data-testid="no-one-click-target">No one-click target: {versions.rollback.unavailable}.</Text>
      )}
      {versions.stints.length === 0 ? (
        <Text size="sm" c="dimmed">No alias move recorded yet.</Text>
      ) : (
        <Stack gap={6}>
          {versions.stints.map((s, i) => {
            const option = versions.rollback.options.find((o) => o.versionId === s.versionId);
            const current = i === 0 && s.until === null;
            return (
              <Group key={`${s.versionId}-${i}`} justify="space-between" gap="xs" wrap="wrap" data-testid={`stint-v${s.version}`}>
                <Group gap="xs" wrap="wrap">
                  <Badge variant={current ? "filled" : "light"} color={current ? "blue" : "gray"}>v{s.version}</Badge>
                  <Text size="sm">{when(s.from)} → {s.until ? when(s.until) : "now"}</Text>
                  {s.kind && <Text size="xs" c="dimmed">{KIND_LABEL[s.kind]} by {s.by}{s.reason ? `: ${s.reason}` : ""}</Text>}
                </Group>
                {current ? (
                  <Badge color="blue" variant="outline">serving</Badge>
                ) : option && !versions.stints.slice(0, i).some((x) => x.versionId === s.versionId) ? (
                  <GuardedButton permission="oncall.rollback" size="xs" color="orange" variant="light" onClick={() => onRollback(option)}>
                    Roll back to v{s.version}{versions.rollback.target?.versionId === s.versionId ? " (one-click target)" : ""}
                  </GuardedButton>
                ) : null}
              </Group>
            );
          })}
        </Stack>
      )}
    </Card>
  );
}

function ServingAt({ surface }: { surface: string }) {
  const trpc = useTRPC();
  const [at, setAt] = useState(localNow);
  const [asked, setAsked] = useState<string | null>(null);
  const answer = useQuery({ ...trpc.history.servingAt.queryOptions({ surface, at: new Date(asked ?? 0) }), enabled: asked !== null });
  const a = answer.data;
  return (
    <Card withBorder padding="md">
      <Group align="flex-end" gap="xs" wrap="wrap">
        <TextInput type="datetime-local" step={1} label="What was serving at" value={at} onChange={(e) => setAt(e.currentTarget.value)} data-testid="serving-at-input" />
        <Button variant="light" onClick={() => setAsked(at)} disabled={!at}>Show</Button>
      </Group>
      {answer.error && <Alert color="red" mt="xs">{answer.error.message}</Alert>}
      {a && (
        <Stack gap={2} mt="xs" data-testid="serving-at">
          <Text size="sm">
            {new Date(a.at).toLocaleString()}: {a.stage2 ? "stage 1: " : ""}{a.model ?? "no model"} {a.alias} →{" "}
            {a.serving.known
              ? a.serving.version === null ? <b>nothing (alias cleared)</b> : <><b>v{a.serving.version}</b> (since {when(a.serving.since)}{a.serving.by ? `, ${a.serving.kind ? `${KIND_LABEL[a.serving.kind]} ` : ""}by ${a.serving.by}` : ""}{a.serving.surfaces && a.serving.surfaces.length > 1 ? `; reached ${a.serving.surfaces.join(", ")}` : ""})</>
              : <b>unknown: the history starts {a.serving.historyStarts ? new Date(a.serving.historyStarts).toLocaleString() : "later"}</b>}
          </Text>
          {a.stage2 && (
            <Text size="sm" data-testid="serving-at-stage2">
              stage 2: {a.stage2.known
                ? <>{a.stage2.model} {a.stage2.alias} → <b>{a.stage2.version === null ? "nothing (alias cleared: stage 1's order)" : `v${a.stage2.version}`}</b> (configured {when(a.stage2.configuredSince)} by {a.stage2.by})</>
                : <b>configured before stage-2 changes were recorded</b>}
            </Text>
          )}
          <Text size="sm">{a.canary ? `canary v${a.canary.version} on ${a.canary.percent}% of the traffic${a.canary.paused ? " (paused)" : ""}, since ${when(a.canary.since)}` : "no canary"}</Text>
          <Text size="sm">kill switch {a.killSwitch?.on ? `on since ${when(a.killSwitch.since)}: retrieval order served` : "off"}</Text>
        </Stack>
      )}
    </Card>
  );
}

function RollbackDialog({ history, stage, to, onClose }: { history: History; stage: 1 | 2; to: Option; onClose: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // The stage's alias: stage 1's are the page's top-level fields.
  const versions: Versions & { model: string | null; alias: string } = stage === 2 && history.stage2 ? history.stage2 : history;
  const current = versions.stints[0];
  const rollback = useMutation(trpc.oncall.rollback.mutationOptions({
    onSuccess: (r) => {
      notifications.show({ color: "teal", message: `${r.model} ${r.alias} rolled back to v${r.version}` });
      onClose();
      void queryClient.invalidateQueries({ queryKey: trpc.history.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.oncall.pathKey() });
    },
    onError: (e) => notifications.show({ color: "red", message: e.message }),
  }));
  const others = versions.reach.filter((r) => r.key !== history.surface);
  const named = `${versions.model} ${versions.alias}`;
  const stageWords = history.stage2 ? ` stage ${stage}` : "";
  return (
    <ConfirmChangeDialog
      title={`Roll back ${history.surface}${stageWords} to v${to.version}`}
      changes={[
        `${history.stage2 ? `stage ${stage}: ` : ""}${named}: v${versions.serving?.version ?? current?.version ?? "?"} → v${to.version} (${to.servedUntil ? `served until ${new Date(to.servedUntil).toLocaleString()}` : `the next earlier version; the recorded history never shows it serving ${versions.alias}`})`,
        <span key="reach" data-testid="rollback-reach">
          {others.length ? <>surfaces affected: {history.surface}; <b>also serves {describeReach(others)}</b></> : <>surfaces affected: {history.surface} (no other surface uses {named})</>}
        </span>,
        "every replica serves it within a second",
      ]}
      confirmLabel={`Roll back${stageWords} to v${to.version}`}
      color="orange"
      pending={rollback.isPending}
      onClose={onClose}
      onConfirm={(reason) => rollback.mutate({ surface: history.surface, stage, reason, toVersion: to.version, expectFromVersionId: versions.serving?.versionId ?? null, ...(versions.model ? { expectAlias: { model: versions.model, alias: versions.alias } } : {}) })}
    />
  );
}
