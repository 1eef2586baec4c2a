"use client";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { shipBlocks } from "@/server/domain/experiments/shipGate";
import { ConfirmChangeDialog } from "@/app/_components/ConfirmChangeDialog";
import { Alert, Badge, Card, Checkbox, SegmentedControl, Group, Loader, Select, SimpleGrid, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import type { AppRouter } from "@/server/routers/_app";
import { formatMetricValue } from "@/server/domain/experiments/metrics";
import { RANKING_ROLES, describeReach } from "@/server/domain/rollouts/aliasReach";
import { CumulativeLiftChart } from "../../../_components/charts/CumulativeLiftChart";
import { LiftBar } from "../../../_components/charts/LiftBar";
import { useTRPC } from "../../../_trpc/client";

// Every figure here comes from the analysis (server/domain/experiments): a value that cannot be
// computed arrives as null with its reason, so nothing below prints NaN.

type Results = inferRouterOutputs<AppRouter>["experiments"]["results"];
/** What a Start, Resume or Request start sends back as shown: the phase, allocation and decision rule (primary metric, guardrails, engine, MDE). */
type StartShown = Pick<Results["experiment"], "phase" | "allocation" | "decision">;

const pct = (v: number) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)}%`;
const pValue = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toPrecision(3));
const STATUS_COLOR: Record<string, string> = { draft: "gray", running: "teal", stopped: "orange", shipped: "indigo" };
const GUARDRAIL_COLOR: Record<string, string> = { ok: "teal", violated: "red", inconclusive: "orange", "no data": "gray" };
const DECISION_COLOR: Record<string, string> = { ship: "teal", "do not ship": "red", blocked: "red", "keep running": "indigo", "not enough data": "gray", "no difference": "gray" };

function duration(from: Date, to: Date): string {
  const hours = (to.getTime() - from.getTime()) / 3_600_000;
  return hours < 48 ? `${Math.max(0, hours).toFixed(1)} hours` : `${(hours / 24).toFixed(1)} days`;
}

export function ExperimentResults({ experimentKey }: { experimentKey: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [granularity, setGranularity] = useState<"auto" | "hourly" | "daily">("auto");
  // null: the current phase (follows a restart); a number: an earlier phase the user picked.
  const [viewPhase, setViewPhase] = useState<number | null>(null);
  const results = useQuery({ ...trpc.experiments.results.queryOptions({ key: experimentKey, ...(viewPhase === null ? {} : { phase: viewPhase }) }), refetchInterval: 10_000, placeholderData: (previous) => previous });
  // The lift over time is a panel of its own (it reads the phase's kept events: seconds on a large
  // experiment), refreshed every minute; it follows the phase the table shows, so a restart moves both.
  const shownPhase = results.data?.experiment.viewedPhase ?? 0;
  const liftShown = results.data?.experiment.kind === "ab" && shownPhase >= 1;
  const lift = useQuery({ ...trpc.experiments.liftOverTime.queryOptions({ key: experimentKey, granularity, phase: Math.max(1, shownPhase) }), enabled: liftShown, refetchInterval: 60_000, placeholderData: (previous) => (previous?.phase === shownPhase ? previous : undefined) });
  const overlaps = useQuery({ ...trpc.experiments.overlaps.queryOptions({ key: experimentKey }), refetchInterval: 30_000 });
  const refresh = () => Promise.all([
    queryClient.invalidateQueries({ queryKey: trpc.experiments.results.queryKey({ key: experimentKey }) }),
    queryClient.invalidateQueries({ queryKey: trpc.experiments.liftOverTime.queryKey({ key: experimentKey }) }),
  ]);
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const start = useMutation(trpc.experiments.start.mutationOptions({
    onSuccess: () => {
      setResumeShown(null);
      setViewPhase(null);
      void refresh();
    },
    onError,
  }));
  const stop = useMutation(trpc.experiments.stop.mutationOptions({ onSuccess: refresh, onError }));
  const [shipVariant, setShipVariant] = useState<string | null>(null);
  // The current phase's results, the variant and the surface as the page showed them when Ship… was pressed: the dialog keeps them while the page refreshes.
  const [shipShown, setShipShown] = useState<{ results: Results; variant: string; requireApproval: boolean; model: string | null } | null>(null);
  // The Request start dialog's experiment as it was when opened: the request pins its phase, allocation and decision rule (expectPhase, expectAllocation, expectDecision), as Start does.
  const [confirmStart, setConfirmStart] = useState<(StartShown & { changes: string[] }) | null>(null);
  // What the Resume dialog showed when it opened (the page refreshes under it): the resume sends it back, and is refused (409) if it changed since.
  const [resumeShown, setResumeShown] = useState<(StartShown & { changes: string[] }) | null>(null);
  const requestStart = useMutation(trpc.approvals.request.mutationOptions({
    onSuccess: (req) => {
      setConfirmStart(null);
      notifications.show({ color: "teal", message: `Approval requested: ${req.summary}` });
    },
    onError,
  }));
  const surfaceKey = results.data?.experiment.surface;
  const surface = useQuery({ ...trpc.surfaces.get.queryOptions({ key: surfaceKey ?? "" }), enabled: !!surfaceKey });
  if (!results.data) return results.error ? <Alert color="red">{results.error.message}</Alert> : <Loader />;
  const r = results.data;
  const e = r.experiment;
  const treatments = r.variants.filter((v) => !v.isControl).map((v) => v.key);
  const bayesian = r.engine.key === "bayesian";
  const srmMismatch = r.srm.available && r.srm.mismatch;
  const earlierPhase = e.viewedPhase !== e.phase;
  // What resuming a stopped experiment leaves behind: its current phase's units, shown in the confirm dialog.
  const phaseUnits = earlierPhase || e.kind !== "ab" ? "" : ` (${r.variants.map((v) => `${v.key} ${v.units.toLocaleString()} units`).join(", ")})`;
  const resumeChanges = [
    `${e.surface}: the variants serve their share of the traffic again, in a new analysis phase, phase ${e.phase + 1}`,
    `phase ${e.phase}'s results${phaseUnits} stay in history, but this page will show phase ${e.phase + 1}, which starts from zero; pick phase ${e.phase} in the phase menu to read them`,
  ];
  // Start and Resume send the phase, allocation and decision rule shown (expectPhase, expectAllocation, expectDecision): a start over a change made since is refused (409).
  const startShown = (shown: StartShown, reason?: string) =>
    start.mutate({ key: e.key, reason, expectPhase: shown.phase, expectAllocation: shown.allocation, expectDecision: shown.decision });

  return (
    <Stack>
      <Group justify="space-between">
        <Group gap="xs">
          <Badge size="lg" color={STATUS_COLOR[e.status]} data-testid="experiment-status">{e.status}</Badge>
          <Badge size="lg" variant="light">{e.kind === "ab" ? "A/B test" : "interleaving"}</Badge>
          {e.phase > 1 ? (
            <Select
              aria-label="phase to show" size="xs" w={170} allowDeselect={false} data-testid="phase-picker"
              data={Array.from({ length: e.phase }, (_, i) => e.phase - i).map((p) => ({ value: String(p), label: p === e.phase ? `phase ${p} (current)` : `phase ${p}` }))}
              value={String(e.viewedPhase)} onChange={(v) => setViewPhase(v === null || Number(v) === e.phase ? null : Number(v))}
            />
          ) : <Badge size="lg" variant="outline">phase {e.phase}</Badge>}
          {e.kind === "ab" && <Tooltip label={`The engine that decides: ${r.engine.label}. Others are shown as secondary readings.`}><Badge size="lg" variant="outline" data-testid="experiment-engine">{e.analysisMode === "fixed" ? "fixed horizon" : e.analysisMode}</Badge></Tooltip>}
          <Text size="sm" c="dimmed">surface {e.surface} · unit: {e.hashAttribute === "sessionKey" ? "session" : "user"}</Text>
        </Group>
        <Group gap="xs">
          {e.status !== "shipped" && <GuardedButton permission="experiments.write" href={`/experiments/${e.key}/edit`} variant="default">Edit</GuardedButton>}
          {(e.status === "draft" || e.status === "stopped") && (surface.data?.requireApproval
            ? <GuardedButton permission="experiments.write" onClick={() => setConfirmStart({
              phase: e.phase, allocation: e.allocation, decision: e.decision,
              changes: e.status === "stopped"
                ? [`${e.surface}: once another product manager approves, the variants serve their share of the traffic again, in phase ${e.phase + 1}`, resumeChanges[1]!]
                : [`${e.surface}: the experiment's variants serve their share of the traffic once another product manager approves`],
            })}>Request start…</GuardedButton>
            : e.status === "stopped"
              ? <GuardedButton permission="experiments.write" onClick={() => setResumeShown({ phase: e.phase, allocation: e.allocation, decision: e.decision, changes: resumeChanges })}>Start…</GuardedButton>
              : <GuardedButton permission="experiments.write" onClick={() => startShown(e)} loading={start.isPending}>Start</GuardedButton>)}
          {e.status === "running" && <GuardedButton permission="experiments.write" color="orange" variant="light" onClick={() => stop.mutate({ key: e.key })} loading={stop.isPending}>Stop</GuardedButton>}
          {(e.status === "running" || e.status === "stopped") && (
            <Group gap={4}>
              <Select aria-label="variant to ship" placeholder="Variant to ship" data={r.variants.map((v) => v.key)} value={shipVariant} onChange={setShipVariant} w={150} />
              {/* A ship is judged on the current phase's checks: from an earlier phase's figures the dialog would show checks that are not the ones it ships past. */}
              <Tooltip label={`Ships from phase ${e.phase}: pick phase ${e.phase} (current) to read the results and checks it ships on`} disabled={!earlierPhase}>
                <span><GuardedButton permission="experiments.ship" variant="light" disabled={!shipVariant || earlierPhase || !surface.data} onClick={() => shipVariant && surface.data && setShipShown({ results: r, variant: shipVariant, requireApproval: !!surface.data?.requireApproval, model: surface.data?.model?.name ?? null })} data-testid="ship-open">Ship…</GuardedButton></span>
              </Tooltip>
            </Group>
          )}
        </Group>
      </Group>
      {shipShown && (
        <ShipDialog
          shown={shipShown.results} variant={shipShown.variant} requireApproval={shipShown.requireApproval} model={shipShown.model}
          onClose={() => setShipShown(null)} onShipped={() => { setShipShown(null); void refresh(); }}
        />
      )}
      {confirmStart && (
        <ConfirmChangeDialog
          title={`Request to start ${e.key}`}
          changes={confirmStart.changes}
          warning={`${e.surface} requires approval for changes to what it serves.`}
          confirmLabel="Request approval"
          pending={requestStart.isPending}
          onClose={() => setConfirmStart(null)}
          onConfirm={(reason) => requestStart.mutate({ change: { kind: "experiment_start", key: e.key, expectPhase: confirmStart.phase, expectAllocation: confirmStart.allocation, expectDecision: confirmStart.decision }, reason })}
        />
      )}
      {resumeShown && (
        <ConfirmChangeDialog
          title={`Resume ${e.key} in phase ${resumeShown.phase + 1}`}
          changes={resumeShown.changes}
          warning={`Resuming opens a new analysis phase: the results of phase ${resumeShown.phase} are not carried into it.`}
          confirmLabel={`Resume in phase ${resumeShown.phase + 1}`}
          pending={start.isPending}
          onClose={() => setResumeShown(null)}
          onConfirm={(reason) => startShown(resumeShown, reason)}
        />
      )}
      {e.shipped && (
        <Alert color="indigo" variant="light" data-testid="shipped-by" title={`Shipped ${e.shipped.variant ?? ""}`.trim()}>
          Shipped {e.shipped.at ? new Date(e.shipped.at).toLocaleString() : ""}{e.shipped.by ? ` by ${e.shipped.by}` : ""}{e.shipped.reason ? ` — ${e.shipped.reason}` : ""}
        </Alert>
      )}
      {e.hypothesis && <Text size="sm"><b>Hypothesis:</b> {e.hypothesis}</Text>}
      <Text size="sm" c="dimmed" data-testid="experiment-dates">
        {e.startedAt && e.phaseStartedAt
          ? `Started ${new Date(e.startedAt).toLocaleString()}${e.phase > 1 ? ` · phase ${e.phase} since ${new Date(e.phaseStartedAt).toLocaleString()}` : ""} · ${e.endedAt ? "ran" : "running for"} ${duration(new Date(e.phaseStartedAt), e.endedAt ? new Date(e.endedAt) : new Date())}`
          : "Not started yet."}
      </Text>

      {r.srm.available && r.srm.mismatch && (
        <Alert color="red" variant="filled" title="Sample-ratio mismatch: results blocked" data-testid="srm-banner">
          The units per variant ({r.variants.map((v) => `${v.key} ${v.units}`).join(", ")}) do not match the configured weights (χ² = {r.srm.chiSquare.toFixed(1)}, p = {r.srm.pValue.toExponential(2)}). Fix assignment or logging before trusting any number below.
        </Alert>
      )}
      {earlierPhase && (
        <Alert color="blue" title={`Showing phase ${e.viewedPhase} of ${e.phase}`} data-testid="earlier-phase">
          The figures below are phase {e.viewedPhase}&apos;s, judged by the experiment&apos;s current definition; shipping ships from phase {e.phase}.
        </Alert>
      )}
      {r.warnings.map((w) => <Alert key={w} color="orange" title="Other comparisons on this surface get no traffic" data-testid="starved-warning">{w}</Alert>)}
      {(overlaps.data ?? []).map((w) => <Alert key={w} color="orange" title="Another experiment is served first to some of this one's units" data-testid="overlap-warning">{w}</Alert>)}
      {r.multipleExposure.warning && (
        <Alert color="orange" title="Units seen in more than one arm" data-testid="multiple-exposure-banner">
          {r.multipleExposure.units.toLocaleString()} units ({(r.multipleExposure.share * 100).toFixed(1)}%) were served more than one variant. {r.multipleExposure.rule}
        </Alert>
      )}
      <Alert color={srmMismatch ? "gray" : DECISION_COLOR[r.verdict.decision]} title={<Group gap="xs">Verdict <Badge color={DECISION_COLOR[r.verdict.decision]} data-testid="verdict-decision">{r.verdict.decision}{r.verdict.variant ? ` ${r.verdict.variant}` : ""}</Badge><Text span size="xs" c="dimmed">{e.kind === "interleaving" ? `decided by the ${r.interleaving?.test?.method ?? "sign test"} on interleaved preferences` : `decided by the ${r.engine.label} engine`}</Text></Group>} data-testid="experiment-summary">
        {r.verdict.text}
      </Alert>

      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
        {r.variants.map((v) => (
          <Card withBorder padding="sm" key={v.key} data-testid={`variant-${v.key}`}>
            <Text size="xs" c="dimmed" tt="uppercase" fw={600}>{v.key}{v.isControl ? " (control)" : ""}</Text>
            {e.kind === "ab" ? (
              <>
                <Text fw={700} size="lg" data-testid={`units-${v.key}`}>{v.units.toLocaleString()} units</Text>
                <Text size="xs" c="dimmed">{Math.round(v.weight * 100)}% of traffic · {v.name}</Text>
              </>
            ) : <Text fw={700} size="lg">{v.name}</Text>}
            <Text size="xs" data-testid={`served-${v.key}`}>
              {v.pinnedVersionId ? "pinned version" : `alias ${v.alias ?? "—"}`}
              {e.kind === "interleaving" ? " (one ranker of every interleaved list)" : v.served.length ? ` → ${v.served.map((s) => `${s.model} v${s.version}`).join(", ")}` : " (its model has served no request yet)"}
            </Text>
            {v.multipleExposures > 0 && <Text size="xs" c="orange">{v.multipleExposures} units also seen in another arm (excluded)</Text>}
          </Card>
        ))}
      </SimpleGrid>

      {e.kind === "interleaving" && r.interleaving && (
        <Card withBorder padding="lg" data-testid="interleaving-results">
          <Title order={5} mb="sm">Interleaved preference</Title>
          <Text size="sm">{r.interleaving.variantA}: <b>{r.interleaving.winsA}</b> wins · {r.interleaving.variantB}: <b>{r.interleaving.winsB}</b> wins · ties {r.interleaving.ties} · {r.interleaving.requestsWithClicks} requests with clicks of {r.interleaving.requests} served ({r.interleaving.competitive} competitive: the two rankings differed)</Text>
          {r.interleaving.test && r.interleaving.test.shareA !== null && <Text size="sm" mt={4}>Share preferring {r.interleaving.variantA}: {(r.interleaving.test.shareA * 100).toFixed(1)}% (95% CI {(r.interleaving.test.ci[0] * 100).toFixed(1)}–{(r.interleaving.test.ci[1] * 100).toFixed(1)}%), {r.interleaving.test.method}: sign test p = {r.interleaving.test.pValue.toPrecision(3)}</Text>}
          {r.interleaving.creditByPosition.length > 0 && (
            <Table.ScrollContainer minWidth={300} mt="sm">
              <Table data-testid="credit-by-position" verticalSpacing={2}>
                <Table.Thead><Table.Tr><Table.Th>clicked position</Table.Th><Table.Th>{r.interleaving.variantA}</Table.Th><Table.Th>{r.interleaving.variantB}</Table.Th><Table.Th>shared</Table.Th></Table.Tr></Table.Thead>
                <Table.Tbody>
                  {r.interleaving.creditByPosition.slice(0, 10).map((p) => <Table.Tr key={p.position}><Table.Td>{p.position}</Table.Td><Table.Td>{p.a}</Table.Td><Table.Td>{p.b}</Table.Td><Table.Td>{p.shared}</Table.Td></Table.Tr>)}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Card>
      )}

      {e.kind === "ab" && <Card withBorder padding="lg">
        <Title order={5} mb="sm">Metrics</Title>
        <Table.ScrollContainer minWidth={980}>
          <Table striped data-testid="metrics-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Metric</Table.Th>{r.variants.length && e.kind === "ab" ? r.variants.map((v) => <Table.Th key={v.key}>{v.key}</Table.Th>) : <Table.Th>interleaved</Table.Th>}<Table.Th>Variant</Table.Th>
                <Table.Th>Lift (95% {bayesian ? "credible" : "CI"})</Table.Th><Table.Th w={160}>Interval</Table.Th>
                <Table.Th>{bayesian ? "P(better)" : <Tooltip label="the p-value of the interval shown; Holm-adjusted beside it"><span>p · Holm</span></Tooltip>}</Table.Th>
                <Table.Th>Secondary readings <Text span size="xs" c="dimmed">(not used for the decision)</Text></Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {r.metrics.flatMap((m) => (m.comparisons.length ? m.comparisons : [null]).map((c, ci) => (
                <Table.Tr key={`${m.metric}-${ci}`}>
                  {ci === 0 && (
                    <Table.Td rowSpan={Math.max(1, m.comparisons.length)}>
                      <Tooltip label={m.definition} multiline w={280}><Text size="sm" fw={m.role === "primary" ? 700 : 400}>{m.label}</Text></Tooltip>
                      <Text size="xs" c="dimmed">{m.role === "primary" ? "primary" : m.role === "secondary" ? "secondary" : "other"}</Text>
                    </Table.Td>
                  )}
                  {ci === 0 && m.variants.map((v) => (
                    <Table.Td key={v.key} rowSpan={Math.max(1, m.comparisons.length)}>
                      {v.value === null ? <Tooltip label={v.note ?? "not computable yet"}><Text span size="sm" c="dimmed">—</Text></Tooltip> : formatMetricValue(m.metric, v.value)}
                      <Text size="xs" c="dimmed">n {v.n.toLocaleString()}</Text>
                    </Table.Td>
                  ))}
                  {c === null ? (
                    <Table.Td colSpan={5}><Text size="xs" c="dimmed">{e.kind === "interleaving" ? "interleaved traffic is judged by preference, above" : "no treatment to compare"}</Text></Table.Td>
                  ) : !c.available ? (
                    <><Table.Td>{c.variant}</Table.Td><Table.Td colSpan={4}><Text size="xs" c="dimmed">{c.reason}</Text></Table.Td></>
                  ) : (
                    <>
                      <Table.Td>{c.variant}</Table.Td>
                      <Table.Td>
                        {c.relative ? <>{pct(c.relative.estimate)} <Text span size="xs" c="dimmed">({pct(c.relative.ci[0])} to {pct(c.relative.ci[1])})</Text></> : <>{c.absolute.estimate.toPrecision(3)} <Text span size="xs" c="dimmed">absolute ({c.absolute.ci[0].toPrecision(3)} to {c.absolute.ci[1].toPrecision(3)}); {c.relativeNote}</Text></>}
                        {c.note ? <Text size="xs" c="dimmed">{c.note}</Text> : null}
                      </Table.Td>
                      <Table.Td>
                        {(() => {
                          const iv = c.relative ?? c.absolute;
                          const good = c.call === "none" ? null : c.call === "better";
                          return <LiftBar lo={iv.ci[0]} hi={iv.ci[1]} estimate={iv.estimate} range={Math.max(0.05, Math.abs(iv.ci[0]), Math.abs(iv.ci[1]))} good={good} />;
                        })()}
                      </Table.Td>
                      <Table.Td>
                        {bayesian ? `${(c.chanceToBeat! * 100).toFixed(1)}%` : <>{pValue(c.pValue!)} <Text span size="xs" c="dimmed">· {c.adjustedPValue === null ? "—" : pValue(c.adjustedPValue)}</Text></>}{" "}
                        {c.call !== "none" && <Badge size="xs" color={c.call === "better" ? "teal" : "red"}>{c.call}</Badge>}
                      </Table.Td>
                      <Table.Td>
                        {c.secondary.map((s) => (
                          <Tooltip key={s.engine} label={s.label}>
                            <Text size="xs" c="dimmed">{s.engine}: {s.chanceToBeat !== null ? `P(better) ${(s.chanceToBeat * 100).toFixed(1)}%` : s.pValue !== null ? `p ${pValue(s.pValue)}` : "—"}</Text>
                          </Tooltip>
                        ))}
                      </Table.Td>
                    </>
                  )}
                </Table.Tr>
              )))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Text size="xs" c="dimmed" mt="xs">Each p belongs to the interval beside it. Holm adjusts the treatments on the primary metric, and all other metrics together. Units: {e.hashAttribute === "sessionKey" ? "sessions" : "users"} (the randomisation unit).</Text>
      </Card>}

      {treatments.length > 0 && e.kind === "ab" && (
        <Card withBorder padding="lg">
          <Group justify="space-between" mb="sm" wrap="wrap">
            <Title order={5}>Cumulative CTR lift over time <Text span size="xs" c="dimmed">{granularity === "auto" ? "(hourly for the first two days, then daily)" : `(${granularity})`}</Text></Title>
            <SegmentedControl size="xs" value={granularity} onChange={(v) => setGranularity(v as typeof granularity)} data={[{ value: "auto", label: "Auto" }, { value: "hourly", label: "Hourly" }, { value: "daily", label: "Daily" }]} aria-label="Lift chart points" />
          </Group>
          <div data-testid="lift-over-time">
            {!liftShown || lift.data?.points.length === 0 ? <Text size="sm" c="dimmed">No impressions yet.</Text>
              : lift.data ? <CumulativeLiftChart data={lift.data.points} variants={treatments} />
              : lift.error ? <Alert color="red" title="The lift over time could not be read">{lift.error.message}</Alert>
              : <Group justify="center" h={120}><Loader size="sm" aria-label="Loading the lift over time" /></Group>}
            {lift.data && lift.error ? <Text size="xs" c="red">{`Not refreshed: ${lift.error.message}`}</Text> : null}
          </div>
          <Text size="xs" c="dimmed">{`Each point is the table's CTR comparison (${r.engine.label}) on the data up to then: per ${e.hashAttribute === "sessionKey" ? "session" : "user"}, clicks counted up to its impressions. The last point is the table's lift and interval as of the chart's last read: the chart refreshes every minute, the table every 10 seconds.`}</Text>
        </Card>
      )}

      <SimpleGrid cols={{ base: 1, md: 3 }}>
        {e.kind === "ab" && <Card withBorder padding="lg" data-testid="guardrails">
          <Title order={5} mb="sm">Guardrails</Title>
          {r.guardrails.length === 0 ? <Text size="sm" c="dimmed">None defined.</Text> : r.guardrails.map((g, i) => (
            <Stack key={i} gap={2} mb="xs">
              <Group gap="xs" wrap="nowrap"><Badge color={GUARDRAIL_COLOR[g.status]} style={{ flexShrink: 0 }}>{g.status}</Badge><Text size="sm">{g.label} must not {g.direction === "increase" ? "rise" : "fall"} by more than {+(g.threshold * 100).toFixed(2)}%</Text></Group>
              {g.checks.map((c) => <Text key={c.variant} size="xs" c="dimmed">{c.detail}</Text>)}
            </Stack>
          ))}
          <Text size="xs" c="dimmed">Violated: past the threshold and worse beyond noise; ok: the interval rules out the threshold; otherwise inconclusive.</Text>
          <Title order={5} mt="md" mb="xs">Sample ratio</Title>
          <Text size="sm" data-testid="srm-line">{r.srm.available ? `χ² ${r.srm.chiSquare.toFixed(2)}, p = ${r.srm.pValue.toPrecision(3)} — ${r.srm.mismatch ? "mismatch" : "consistent with the weights"}` : r.srm.reason}</Text>
          <Title order={5} mt="md" mb="xs">Multiple exposures</Title>
          <Tooltip label={r.multipleExposure.rule} multiline w={300}><Text size="sm" data-testid="multiple-exposures">{r.multipleExposure.units.toLocaleString()} units in more than one arm ({(r.multipleExposure.share * 100).toFixed(2)}%), excluded</Text></Tooltip>
        </Card>}
        <Card withBorder padding="lg">
          <Title order={5} mb="sm">Latency</Title>
          {r.latency.length === 0 ? <Text size="sm" c="dimmed">No requests yet.</Text> : r.latency.map((l) => <Text size="sm" key={l.variant}>{l.variant}: p50 {l.p50.toFixed(2)} ms · p95 {l.p95.toFixed(2)} ms ({l.requests.toLocaleString()} recent requests)</Text>)}
        </Card>
        {e.kind === "ab" && <Card withBorder padding="lg">
          <Title order={5} mb="sm">Sample size</Title>
          {r.plan ? (
            <Text size="sm">To detect the minimum effect with 80% power: {r.plan.unitsPerVariant.map((u) => u.toLocaleString()).join(" / ")} units per variant{r.plan.days !== null ? `, about ${r.plan.days.toFixed(1)} days at the current traffic` : ""}.</Text>
          ) : <Text size="sm" c="dimmed">Set a minimum detectable effect and collect a baseline to see the plan.</Text>}
        </Card>}
      </SimpleGrid>
    </Stack>
  );
}

/**
 * The ship dialog: what shipping `variant` changes, from the current phase's results as the page
 * showed them when it opened (`shown`) and what it reads once on opening (production's version and
 * reach, the version the variant ships). It keeps what it first read while the page refreshes under
 * it, and sends all of it back (expectFromVersionId, expectVersionId, expectPhase, expectBlockers), so
 * a ship or request over a change made since (a restart, production moved, a new failing check) is
 * refused (409) instead of applying something it never showed.
 */
function ShipDialog({ shown, variant, requireApproval, model, onClose, onShipped }: { shown: Results; variant: string; requireApproval: boolean; model: string | null; onClose: () => void; onShipped: () => void }) {
  const trpc = useTRPC();
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const ship = useMutation(trpc.experiments.ship.mutationOptions({ onSuccess: onShipped, onError }));
  const requestShip = useMutation(trpc.approvals.request.mutationOptions({
    onSuccess: (req) => {
      notifications.show({ color: "teal", message: `Approval requested: ${req.summary}` });
      onShipped();
    },
    onError,
  }));
  const [override, setOverride] = useState(false);
  // Read afresh on opening (not a cached answer of a few seconds ago).
  const production = useQuery({ ...trpc.models.get.queryOptions({ name: model ?? "" }), enabled: !!model, refetchOnMount: "always" });
  const productionReach = useQuery({ ...trpc.models.aliasReach.queryOptions({ name: model ?? "", alias: "production" }), enabled: !!model, refetchOnMount: "always" });
  // The exact version the ship moves production to: what the variant served in the current phase.
  const shipTarget = useQuery({ ...trpc.experiments.shipTarget.queryOptions({ key: shown.experiment.key, variant }), retry: false, refetchOnMount: "always" });
  const reading = (!!model && (production.isFetching || productionReach.isFetching)) || shipTarget.isFetching;
  // Copied once, when first read: a refetch while the dialog is open must not change what the press sends.
  const [read, setRead] = useState<{ production: { versionId: string; version: number } | null; reached: NonNullable<typeof productionReach.data>; target: typeof shipTarget.data | null; targetError: string | null } | null>(null);
  if (!read && !reading) {
    const productionNow = production.data?.aliases.find((a) => a.name === "production") ?? null;
    setRead({ production: productionNow && { versionId: productionNow.versionId, version: productionNow.version }, reached: productionReach.data ?? [], target: shipTarget.data ?? null, targetError: shipTarget.error?.message ?? null });
  }
  const e = shown.experiment;
  const blocks = shipBlocks(shown, variant);
  const served = shown.variants.find((v) => v.key === variant)?.served.map((s) => `${s.model} v${s.version}`).join(", ") || "its model";
  const ranked = (read?.reached ?? []).filter((s) => s.roles.some((role) => RANKING_ROLES.includes(role)));
  const guarded = [...new Set([...(requireApproval ? [e.surface] : []), ...ranked.filter((s) => s.requireApproval).map((s) => s.key)])];
  const needsApproval = guarded.length > 0;
  const others = (read?.reached ?? []).filter((s) => s.key !== e.surface);
  const target = read?.target ?? null;
  const shippedVersion = !read ? "…" : target ? `${target.modelName} v${target.version}` : "no version";
  const targetNote = target ? (target.source === "served" ? `what ${variant} served in phase ${target.phase}` : `what ${variant} resolves to now: it has served nothing in phase ${target.phase}`) : `${variant} served ${served}`;
  // Read after the page's results: a restart in between shows another phase's version beside these checks (the ship is then refused).
  const phaseMoved = target && target.phase !== e.phase ? [`The experiment is in phase ${target.phase} now, not phase ${e.phase} as the results and checks shown: close and look at them again.`] : [];
  const pins = { expectFromVersionId: read?.production?.versionId ?? null, ...(target ? { expectVersionId: target.versionId } : {}), expectPhase: e.phase, expectBlockers: blocks.map((b) => b.key) };
  return (
    <ConfirmChangeDialog
      title={`Ship ${variant} of ${e.key}`}
      changes={[
        <span key="production" data-testid="ship-production">
          {e.surface}: production {!read ? "…" : read.production ? `v${read.production.version}` : "unset"} → {shippedVersion} ({targetNote})
          {others.length > 0 && <>; <b>also serves {describeReach(others)}</b></>}
        </span>,
        `experiment ${e.key} ends: shipped, no more traffic split`,
      ]}
      warning={[
        ...(read?.targetError ? [`Cannot ship: ${read.targetError}.`] : []),
        ...phaseMoved,
        ...(needsApproval ? [`${guarded.join(", ")} ${guarded.length > 1 ? "require" : "requires"} approval: this files a request that another product manager approves.`] : []),
        ...blocks.map((b) => `Blocked: ${b.text}.`),
      ].join(" ") || undefined}
      confirmLabel={needsApproval ? "Request approval" : blocks.length ? "Override and ship" : "Ship"}
      color={blocks.length ? "red" : "teal"}
      pending={!read || ship.isPending || requestShip.isPending}
      onClose={onClose}
      onConfirm={(reason) => {
        if (blocks.length && !override) return notifications.show({ color: "red", message: "Tick the override to ship past the checks" });
        const overrideFlag = blocks.length ? { override: true } : {};
        return needsApproval
          ? requestShip.mutate({ change: { kind: "experiment_ship", key: e.key, variant, ...pins, ...overrideFlag }, reason })
          : ship.mutate({ key: e.key, variant, reason, ...pins, ...overrideFlag });
      }}
    >
      {blocks.length > 0 && (
        <Checkbox
          label="Override the checks: I know why they fail, and my reason says so (recorded in the audit trail)"
          checked={override}
          onChange={(ev) => setOverride(ev.currentTarget.checked)}
          data-testid="ship-override"
        />
      )}
    </ConfirmChangeDialog>
  );
}
