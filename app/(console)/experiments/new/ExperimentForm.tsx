"use client";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import {
  ActionIcon, Alert, Autocomplete, Button, Card, Checkbox, Group, JsonInput, Modal, MultiSelect, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterInputs } from "@trpc/server";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { COMPARED_METRICS, worseningDirection } from "@/server/domain/experiments/definition";
import { formatMetricValue, METRIC_CATALOGUE, SELECTABLE_METRICS } from "@/server/domain/experiments/metrics";
import { percentOfShare, shareOfPercent } from "@/server/domain/percent";
import type { AppRouter } from "@/server/routers/_app";
import { useTRPC } from "../../../_trpc/client";

type AnalysisMode = "sequential" | "fixed" | "bayesian";

interface VariantRow { key: string; name: string; weight: number; isControl: boolean; model: string | null; overrides: string }
interface RuleRow { attribute: string; op: string; value: string }
interface GuardrailRow { metric: string; direction: "increase" | "decrease"; threshold: number }

/** What the form edits: an experiment's stored definition, as `experiments.get` returns it. */
export interface ExperimentDefinition {
  // GuardrailRow thresholds here are fractions (0.5 = 50%), as stored.
  key: string; name: string; surface: string; kind: "ab" | "interleaving"; hypothesis: string; owner: string;
  hashAttribute: "userKey" | "sessionKey"; coverage: number; namespace: { id: string; start: number; end: number } | null;
  targeting: Array<{ attribute: string; op: string; value?: unknown }>; primaryMetric: string; secondaryMetrics: string[];
  guardrails: GuardrailRow[]; minDetectableEffect: number | null; analysisMode: AnalysisMode; status: string;
  /** 0 until started; from 1, the allocation and the decision rule change only by a restart (a new phase). */
  phase: number;
  variants: Array<{ key: string; name: string; weight: number; isControl: boolean; modelAlias: string | null; modelVersionId: string | null; constraintOverrides: unknown }>;
  /**
   * The experiment as loaded: its phase, status and stored definition (storedDefinition: shares as
   * stored, not the form's percentages). Save and Restart send it back (`expectBefore`), so a save over
   * another person's edit, a restart or a start made since is refused (409) instead of undoing it.
   */
  shown: NonNullable<inferRouterInputs<AppRouter>["experiments"]["update"]["expectBefore"]>;
}

/** A variant's model choice in one select: "alias:production" or "version:<id>". */
const modelValue = (v: { modelAlias: string | null; modelVersionId: string | null }) => (v.modelVersionId ? `version:${v.modelVersionId}` : v.modelAlias ? `alias:${v.modelAlias}` : null);
const overridesText = (o: unknown) => (o && typeof o === "object" && Object.keys(o).length ? JSON.stringify(o, null, 2) : "");
const ruleValueText = (value: unknown) => (Array.isArray(value) ? value.join(", ") : value === undefined ? "" : String(value));

/** Guardrail metrics: every selectable one (p95 latency included). */
const METRICS = SELECTABLE_METRICS.map((key) => ({ value: key, label: METRIC_CATALOGUE[key].label }));
/** Primary and secondary metrics: those the results table compares (p95 latency is a guardrail only). */
const COMPARED = COMPARED_METRICS.map((key) => ({ value: key, label: METRIC_CATALOGUE[key].label }));
const DIRECTION_LABEL = { increase: "must not rise by more than", decrease: "must not fall by more than" } as const;
/** What an edit of a started experiment cannot change (server/experiments/service.ts), in the form's words. */
const LOCKED_ONCE_STARTED = "variants, weights, models, constraint overrides, coverage, namespace, targeting, randomisation unit, primary metric, guardrails, analysis engine and minimum detectable effect";
const DEFAULT_GUARDRAILS: GuardrailRow[] = [
  { metric: "fallback_rate", direction: "increase", threshold: 50 },
  { metric: "latency_p95", direction: "increase", threshold: 20 },
];

export function ExperimentForm({ surfaces, initial }: { surfaces: Array<{ key: string; name: string; model: string | null }>; initial?: ExperimentDefinition }) {
  const trpc = useTRPC();
  const router = useRouter();
  const editing = Boolean(initial);
  const running = initial?.status === "running";
  // Started (running or stopped): "Save" keeps the locked fields; "Restart with changes" opens a new phase with them.
  const restartable = initial !== undefined && initial.phase >= 1 && (initial.status === "running" || initial.status === "stopped");
  const [surface, setSurface] = useState(initial?.surface ?? surfaces.find((s) => s.key === "search")?.key ?? surfaces[0]?.key ?? "");
  const modelName = surfaces.find((s) => s.key === surface)?.model ?? null;
  const model = useQuery({ ...trpc.models.get.queryOptions({ name: modelName ?? "none" }), enabled: Boolean(modelName) });
  const modelOptions = [
    { group: "Aliases", items: model.data?.aliases.map((a) => ({ value: `alias:${a.name}`, label: `${a.name} (v${a.version})` })) ?? [] },
    { group: "Pinned versions", items: model.data?.versions.map((v) => ({ value: `version:${v.id}`, label: `v${v.version}${v.aliases.length ? ` (${v.aliases.join(", ")})` : ""}` })) ?? [] },
  ];
  const [key, setKey] = useState(initial?.key ?? "");
  const [name, setName] = useState(initial?.name ?? "");
  const [hypothesis, setHypothesis] = useState(initial?.hypothesis ?? "");
  const [owner, setOwner] = useState(initial?.owner ?? "pm@rerank.local");
  const [kind, setKind] = useState<"ab" | "interleaving">(initial?.kind ?? "ab");
  const [hashAttribute, setHashAttribute] = useState<"userKey" | "sessionKey">(initial?.hashAttribute ?? "userKey");
  const [coverage, setCoverage] = useState<number>(initial ? percentOfShare(initial.coverage) : 100);
  const [primaryMetric, setPrimaryMetric] = useState(initial?.primaryMetric ?? "ctr");
  const [secondary, setSecondary] = useState<string[]>(initial?.secondaryMetrics ?? ["conversion", "revenue_per_session", "ndcg", "mrr"]);
  // An experiment stored without one (an API's) keeps none: an edit of its hypothesis must not add one (it would need a restart).
  const [mde, setMde] = useState<number | null>(initial ? (initial.minDetectableEffect === null ? null : percentOfShare(initial.minDetectableEffect)) : 5);
  const [analysisMode, setAnalysisMode] = useState<AnalysisMode>(initial?.analysisMode ?? "sequential");
  const [guardrails, setGuardrails] = useState<GuardrailRow[]>(initial ? initial.guardrails.map((g) => ({ ...g, threshold: percentOfShare(g.threshold) })) : DEFAULT_GUARDRAILS);
  const [variants, setVariants] = useState<VariantRow[]>(
    initial?.variants.map((v) => ({ key: v.key, name: v.name, weight: percentOfShare(v.weight), isControl: v.isControl, model: modelValue(v), overrides: overridesText(v.constraintOverrides) })) ?? [
      { key: "control", name: "Current model", weight: 50, isControl: true, model: "alias:fallback", overrides: "" },
      { key: "treatment", name: "New model", weight: 50, isControl: false, model: "alias:production", overrides: "" },
    ],
  );
  const [rules, setRules] = useState<RuleRow[]>(initial?.targeting.map((r) => ({ attribute: r.attribute, op: r.op, value: ruleValueText(r.value) })) ?? []);
  const [namespaceId, setNamespaceId] = useState(initial?.namespace?.id ?? "");
  const [namespaceRange, setNamespaceRange] = useState<[number, number]>(initial?.namespace ? [percentOfShare(initial.namespace.start), percentOfShare(initial.namespace.end)] : [0, 100]);
  const [formError, setFormError] = useState<string | null>(null);
  const [restartOpen, setRestartOpen] = useState(false);
  const [restartReason, setRestartReason] = useState("");
  const weights = variants.map((v) => shareOfPercent(v.weight));
  const plan = useQuery({
    ...trpc.experiments.plan.queryOptions({ surface, minimumDetectableEffect: shareOfPercent(mde ?? 5), weights, analysisMode, primaryMetric: primaryMetric as (typeof SELECTABLE_METRICS)[number] }),
    enabled: Boolean(surface) && mde !== null && mde > 0 && weights.every((w) => w >= 0) && weights.length >= 2,
  });
  const queryClient = useQueryClient();
  const done = async (e: { key: string }) => {
    // The results page caches the experiment for a few seconds: show the saved definition at once.
    await queryClient.invalidateQueries({ queryKey: trpc.experiments.pathKey() });
    router.push(`/experiments/${e.key}`);
    router.refresh();
  };
  const create = useMutation(trpc.experiments.create.mutationOptions({ onSuccess: done }));
  const update = useMutation(trpc.experiments.update.mutationOptions({ onSuccess: done }));
  const restart = useMutation(trpc.experiments.restart.mutationOptions({ onSuccess: done }));
  // On a surface that requires approval a restart is a change request (experiment_restart) another person approves.
  const surfaceNow = useQuery({ ...trpc.surfaces.get.queryOptions({ key: surface }), enabled: restartable && Boolean(surface) });
  const requestRestart = useMutation(trpc.approvals.request.mutationOptions({
    onSuccess: async (request) => {
      notifications.show({ color: "teal", message: `Approval requested: ${request.summary}` });
      await done({ key });
    },
  }));
  // Read live; a direct restart refused because the surface became guarded meanwhile (409 naming the request) turns the dialog into a request too.
  const needsApproval = Boolean(surfaceNow.data?.requireApproval) || /experiment_restart/.test(restart.error?.message ?? "");
  const saving = create.isPending || update.isPending || restart.isPending || requestRestart.isPending;
  const serverError = create.error ?? update.error ?? requestRestart.error ?? restart.error;
  const updateVariant = (i: number, patch: Partial<VariantRow>) => setVariants(variants.map((v, j) => (j === i ? { ...v, ...patch } : patch.isControl ? { ...v, isControl: false } : v)));
  const parseValue = (raw: string, op: string): unknown => {
    if (op === "in" || op === "nin") return raw.split(",").map((s) => s.trim()).filter(Boolean);
    if (op === "exists") return raw !== "false";
    if (raw === "true" || raw === "false") return raw === "true";
    return raw !== "" && !Number.isNaN(Number(raw)) && op !== "eq" && op !== "neq" && op !== "regex" ? Number(raw) : raw;
  };

  /** The definition as the API takes it, or an error naming the field the form cannot turn into one. */
  function definition() {
    const parsedVariants = [];
    for (const [i, v] of variants.entries()) {
      let constraintOverrides: Record<string, unknown> = {};
      if (v.overrides.trim()) {
        try {
          constraintOverrides = JSON.parse(v.overrides) as Record<string, unknown>;
        } catch (error) {
          throw new Error(`variants[${i}].constraintOverrides: not valid JSON (${(error as Error).message})`);
        }
      }
      const [type, ref] = v.model ? [v.model.slice(0, v.model.indexOf(":")), v.model.slice(v.model.indexOf(":") + 1)] : [null, null];
      parsedVariants.push({
        key: v.key, name: v.name, weight: shareOfPercent(v.weight), isControl: v.isControl, constraintOverrides,
        modelAlias: type === "alias" ? ref! : undefined, modelVersionId: type === "version" ? ref! : undefined,
      });
    }
    return {
      key, name, surface, kind, hypothesis, owner, hashAttribute, hashVersion: 2 as const, coverage: shareOfPercent(coverage),
      namespace: namespaceId ? { id: namespaceId, start: shareOfPercent(namespaceRange[0]), end: shareOfPercent(namespaceRange[1]) } : null,
      targeting: rules.map((r) => ({ attribute: r.attribute, op: r.op as "eq", value: parseValue(r.value, r.op) })),
      variants: parsedVariants,
      // Interleaving is judged by credited clicks only: no metrics of its own, no guardrails.
      primaryMetric: (kind === "interleaving" ? "ctr" : primaryMetric) as "ctr",
      secondaryMetrics: (kind === "interleaving" ? [] : secondary.filter((m) => m !== primaryMetric)) as Array<"ctr">,
      guardrails: kind === "interleaving" ? [] : guardrails.map((g) => ({ metric: g.metric as "ctr", direction: g.direction, threshold: shareOfPercent(g.threshold) })),
      minDetectableEffect: mde === null ? null : shareOfPercent(mde), analysisMode,
    };
  }

  function submit(action: "save" | "restart" | "request") {
    setFormError(null);
    let input: ReturnType<typeof definition>;
    try {
      input = definition();
    } catch (error) {
      setFormError((error as Error).message);
      return;
    }
    const expectBefore = initial?.shown;
    if (!editing) create.mutate(input);
    else if (action === "save") update.mutate({ ...input, expectBefore });
    else if (action === "restart") restart.mutate({ experiment: input, reason: restartReason || undefined, expectBefore });
    else requestRestart.mutate({ change: { kind: "experiment_restart", key: input.key, experiment: input, expectBefore }, reason: restartReason.trim() });
  }

  return (
    <Stack>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">What and why</Title>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="Key" description="lower-case, used in logs and APIs" placeholder="search-linear-vs-popularity" value={key} onChange={(e) => setKey(e.currentTarget.value)} required disabled={editing} />
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
          <Select label="Surface" data={surfaces.map((s) => ({ value: s.key, label: s.name }))} value={surface} onChange={(v) => setSurface(v ?? "")} allowDeselect={false} disabled={editing} />
          <TextInput label="Owner" value={owner} onChange={(e) => setOwner(e.currentTarget.value)} />
        </SimpleGrid>
        <Textarea mt="sm" label="Hypothesis" placeholder="The linear ranker raises CTR because it uses rating and recent CTR" value={hypothesis} onChange={(e) => setHypothesis(e.currentTarget.value)} />
        <Group mt="sm">
          <div>
            <Text size="sm" fw={500} mb={4}>Kind</Text>
            <SegmentedControl value={kind} disabled={editing} onChange={(v) => setKind(v as "ab")} data={[{ value: "ab", label: "A/B test" }, { value: "interleaving", label: "Interleaving" }]} />
          </div>
        </Group>
      </Card>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Variants and traffic</Title>
        <Table.ScrollContainer minWidth={640}>
          <Table>
            <Table.Thead><Table.Tr><Table.Th>Key</Table.Th><Table.Th>Name</Table.Th><Table.Th>Model</Table.Th><Table.Th>Weight %</Table.Th><Table.Th>Control</Table.Th><Table.Th /></Table.Tr></Table.Thead>
            <Table.Tbody>
              {variants.map((v, i) => (
                <Table.Tr key={i}>
                  <Table.Td><TextInput aria-label={`variant ${i + 1} key`} value={v.key} onChange={(e) => updateVariant(i, { key: e.currentTarget.value })} /></Table.Td>
                  <Table.Td><TextInput aria-label={`variant ${i + 1} name`} value={v.name} onChange={(e) => updateVariant(i, { name: e.currentTarget.value })} /></Table.Td>
                  <Table.Td><Select aria-label={`variant ${i + 1} model`} data={modelOptions} value={v.model} onChange={(m) => updateVariant(i, { model: m })} /></Table.Td>
                  <Table.Td><NumberInput aria-label={`variant ${i + 1} weight`} min={0} max={100} value={v.weight} onChange={(w) => updateVariant(i, { weight: Number(w) || 0 })} w={90} /></Table.Td>
                  <Table.Td><Checkbox aria-label={`variant ${i + 1} is control`} checked={v.isControl} onChange={(e) => updateVariant(i, { isControl: e.currentTarget.checked })} /></Table.Td>
                  <Table.Td>{variants.length > 2 && <ActionIcon variant="subtle" color="red" aria-label="remove variant" onClick={() => setVariants(variants.filter((_, j) => j !== i))}><IconTrash size={16} /></ActionIcon>}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Group mt="sm" justify="space-between">
          <Button variant="light" leftSection={<IconPlus size={16} />} disabled={kind === "interleaving"} onClick={() => setVariants([...variants, { key: `variant-${variants.length}`, name: "", weight: 0, isControl: false, model: null, overrides: "" }])}>Add variant</Button>
          <Text size="sm" c={Math.abs(variants.reduce((s, v) => s + v.weight, 0) - 100) < 0.1 ? "dimmed" : "red"}>Weights sum to {variants.reduce((s, v) => s + v.weight, 0)}%</Text>
        </Group>
        <SimpleGrid cols={{ base: 1, sm: 2 }} mt="md">
          {variants.map((v, i) => (
            <JsonInput
              key={i} label={`Constraint overrides of ${v.key || `variant ${i + 1}`}`} description="JSON replacing keys of the surface's constraints, e.g. {&quot;maxPerCategory&quot;: {&quot;limit&quot;: 2, &quot;withinTop&quot;: 10}}"
              placeholder="{} — the surface's constraints" autosize minRows={2} maxRows={8} value={v.overrides} onChange={(text) => updateVariant(i, { overrides: text })}
            />
          ))}
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 2 }} mt="md">
          <NumberInput label="Coverage %" description="share of eligible traffic enrolled" min={0} max={100} value={coverage} onChange={(v) => setCoverage(Number(v) || 0)} />
          <Select label="Randomise by" data={[{ value: "userKey", label: "User" }, { value: "sessionKey", label: "Session" }]} value={hashAttribute} onChange={(v) => setHashAttribute((v as "userKey") ?? "userKey")} allowDeselect={false} />
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 3 }} mt="md">
          <TextInput label="Namespace" description="experiments in one namespace with disjoint ranges never share a user" placeholder="e.g. search-ranking" value={namespaceId} onChange={(e) => setNamespaceId(e.currentTarget.value)} />
          <NumberInput label="Namespace range from %" min={0} max={100} value={namespaceRange[0]} disabled={!namespaceId} onChange={(v) => setNamespaceRange([Number(v) || 0, namespaceRange[1]])} />
          <NumberInput label="Namespace range to %" min={0} max={100} value={namespaceRange[1]} disabled={!namespaceId} onChange={(v) => setNamespaceRange([namespaceRange[0], Number(v) || 0])} />
        </SimpleGrid>
      </Card>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Targeting</Title>
        {rules.length === 0 && <Text size="sm" c="dimmed" mb="sm">Everyone on the surface is eligible.</Text>}
        {rules.map((r, i) => (
          <Group key={i} mb="xs" wrap="nowrap">
            <Autocomplete aria-label="attribute" placeholder="country, or custom.segment" data={["country", "device", "locale", "returning"]} value={r.attribute} onChange={(v) => setRules(rules.map((x, j) => (j === i ? { ...x, attribute: v } : x)))} />
            <Select aria-label="operator" data={["eq", "neq", "in", "nin", "gt", "lt", "exists", "regex"]} value={r.op} onChange={(v) => setRules(rules.map((x, j) => (j === i ? { ...x, op: v ?? "eq" } : x)))} w={100} />
            <TextInput aria-label="value" placeholder="US, or US,CA for in" value={r.value} onChange={(e) => { const value = e.currentTarget.value; setRules(rules.map((x, j) => (j === i ? { ...x, value } : x))); }} />
            <ActionIcon variant="subtle" color="red" aria-label="remove rule" onClick={() => setRules(rules.filter((_, j) => j !== i))}><IconTrash size={16} /></ActionIcon>
          </Group>
        ))}
        <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setRules([...rules, { attribute: "country", op: "eq", value: "" }])}>Add rule</Button>
      </Card>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Metrics and analysis</Title>
        {kind === "interleaving" && <Text size="sm" c="dimmed" mb="sm" data-testid="interleaving-metrics-note">An interleaving experiment is judged by the clicks credited to each ranker in one interleaved list: it has no metrics or guardrails of its own.</Text>}
        <SimpleGrid cols={{ base: 1, sm: kind === "interleaving" ? 1 : 3 }}>
          {kind === "ab" && <Select label="Primary metric" description="p95 latency is judged as a guardrail only" data={COMPARED} value={primaryMetric} onChange={(v) => { setPrimaryMetric(v ?? "ctr"); setSecondary(secondary.filter((m) => m !== v)); }} allowDeselect={false} />}
          {kind === "ab" && <NumberInput label="Minimum detectable effect %" description="relative; drives the sample-size estimate" min={0.1} max={1000} decimalScale={2} value={mde ?? ""} placeholder="none" onChange={(v) => setMde(v === "" ? null : Number.isFinite(Number(v)) ? Number(v) : mde)} />}
          <Select label="Analysis" description="the engine that decides; the others are shown as secondary" data={[{ value: "sequential", label: "Sequential (safe to peek)" }, { value: "fixed", label: "Fixed horizon" }, { value: "bayesian", label: "Bayesian (chance to beat)" }]} value={analysisMode} onChange={(v) => setAnalysisMode((v as AnalysisMode | null) ?? "sequential")} allowDeselect={false} />
        </SimpleGrid>
        {kind === "ab" && <>
        <Text size="sm" mt="sm" data-testid="power-plan">
          {mde === null
            ? "No minimum detectable effect: no sample-size estimate (set one to see how many users the experiment needs)."
            : plan.data?.ready
            ? `At the recent ${METRIC_CATALOGUE[plan.data.metric as (typeof SELECTABLE_METRICS)[number]]?.label ?? plan.data.metric} of ${formatMetricValue(plan.data.metric, plan.data.baseline)} and about ${Math.round(plan.data.dailyUnits).toLocaleString()} users a day, detecting a ${mde}% lift with 80% power needs ${plan.data.unitsPerVariant.map((u) => u.toLocaleString()).join(" / ")} users per variant${plan.data.days !== null ? `: about ${plan.data.days.toFixed(1)} days` : ""} (${plan.data.analysis === "sequential" ? "sequential test: more users than a fixed horizon, for the right to peek" : "fixed-horizon test: read once, at this size"}).`
            : plan.data ? `Sample size: ${plan.data.reason}.` : "Estimating the sample size from recent traffic…"}
        </Text>
        <MultiSelect mt="md" label="Secondary metrics" description="reported beside the primary, corrected for multiple comparisons" data={COMPARED.filter((m) => m.value !== primaryMetric)} value={secondary.filter((m) => m !== primaryMetric)} onChange={setSecondary} />
        <Text size="sm" fw={500} mt="md">Guardrails</Text>
        <Text size="xs" c="dimmed" mb="xs">A treatment whose relative change passes the threshold is flagged &quot;violated&quot;; one whose confidence interval reaches it, &quot;at risk&quot;. A guardrail watches the direction in which its metric gets worse.</Text>
        {guardrails.length === 0 && <Text size="sm" c="dimmed" mb="xs">No guardrails.</Text>}
        {guardrails.map((g, i) => (
          <Group key={i} mb="xs" wrap="nowrap" data-testid="guardrail-row">
            <Select aria-label={`guardrail ${i + 1} metric`} data={METRICS} value={g.metric} allowDeselect={false} onChange={(v) => setGuardrails(guardrails.map((x, j) => (j === i && v ? { ...x, metric: v, direction: worseningDirection(v) } : x)))} />
            <Text size="sm" w={250} data-testid={`guardrail ${i + 1} direction`}>{DIRECTION_LABEL[g.direction]}</Text>
            <NumberInput aria-label={`guardrail ${i + 1} threshold %`} suffix="%" min={0} max={1000} decimalScale={2} w={110} value={g.threshold} onChange={(v) => setGuardrails(guardrails.map((x, j) => (j === i ? { ...x, threshold: Number(v) || 0 } : x)))} />
            <ActionIcon variant="subtle" color="red" aria-label={`remove guardrail ${i + 1}`} onClick={() => setGuardrails(guardrails.filter((_, j) => j !== i))}><IconTrash size={16} /></ActionIcon>
          </Group>
        ))}
        <Group><Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setGuardrails([...guardrails, { metric: "ctr", direction: "decrease", threshold: 5 }])}>Add guardrail</Button></Group>
        </>}
      </Card>
      {(formError ?? serverError) && (
        <Alert color="red" title="Not saved" data-testid="experiment-error">
          {formError ?? serverError!.message}
          {/* Changed since this form loaded it: reloading shows it as it is now (and drops the edits made here). */}
          {!formError && serverError?.data?.code === "CONFLICT" && serverError.message.includes("changed since it was shown") && (
            <Group mt="xs"><Button size="compact-sm" variant="light" color="red" onClick={() => window.location.reload()} data-testid="experiment-reload">Reload the form (drops these edits)</Button></Group>
          )}
        </Alert>
      )}
      {restartable && (
        <Alert color="yellow" title={`This experiment is ${initial!.status} (phase ${initial!.phase}): some fields are locked`} data-testid="locked-fields">
          Saving accepts only name, hypothesis, owner and secondary metrics. The {LOCKED_ONCE_STARTED} decide who is served what and how the results
          are judged: changing them by an edit would turn the verdict of phase {initial!.phase} without a trace. &quot;Restart with changes&quot; applies them
          in phase {initial!.phase + 1} (running); phase {initial!.phase}&apos;s results stay in history.
          {needsApproval && ` ${surface} requires approval: the restart is a request that another person with the permission approves.`}
        </Alert>
      )}
      <Group>
        <GuardedButton permission="experiments.write" onClick={() => submit("save")} loading={saving && !restart.isPending}>{editing ? "Save changes" : "Create experiment"}</GuardedButton>
        {restartable && <GuardedButton permission="experiments.write" color="orange" variant="light" onClick={() => setRestartOpen(true)} loading={restart.isPending || requestRestart.isPending}>Restart with changes…</GuardedButton>}
        {editing && <Button variant="subtle" onClick={() => router.push(`/experiments/${key}`)}>Cancel</Button>}
      </Group>
      <Modal opened={restartOpen} onClose={() => setRestartOpen(false)} title={needsApproval ? "Request restart with changes" : "Restart with changes"}>
        <Text size="sm" mb="sm">
          {needsApproval && "Once another person with the permission approves the request, "}
          {running ? `${needsApproval ? "phase" : "Phase"} ${initial?.phase} ends` : `${needsApproval ? "the" : "The"} experiment resumes`} and phase {(initial?.phase ?? 0) + 1} starts, running, with these settings; results are analysed per phase, so the new phase starts
          from zero (phase {initial?.phase}&apos;s results stay in history, on the results page&apos;s phase picker).
        </Text>
        {needsApproval && (
          <Alert color="yellow" mb="sm" py="xs" data-testid="restart-approval">
            {surface} requires approval: this files a request (the Approvals page lists it, with each change); nothing changes until it is approved, and it is refused if the experiment changes meanwhile.
          </Alert>
        )}
        <TextInput
          label="Reason (kept in the audit log)" value={restartReason} onChange={(e) => setRestartReason(e.currentTarget.value)} placeholder="e.g. ramp treatment to 50%"
          required={needsApproval} error={needsApproval && restartReason.length > 0 && restartReason.trim().length < 3 ? "say why (at least 3 characters)" : undefined}
        />
        <Group mt="md" justify="flex-end">
          <Button variant="subtle" onClick={() => setRestartOpen(false)}>Cancel</Button>
          {needsApproval
            ? <Button color="orange" loading={requestRestart.isPending} disabled={restartReason.trim().length < 3} onClick={() => { setRestartOpen(false); submit("request"); }}>Request restart</Button>
            : <Button color="orange" loading={restart.isPending} onClick={() => { setRestartOpen(false); submit("restart"); }}>Restart</Button>}
        </Group>
      </Modal>
    </Stack>
  );
}
