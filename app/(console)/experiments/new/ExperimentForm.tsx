"use client";
import {
  ActionIcon, Alert, Button, Card, Checkbox, Group, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title,
} from "@mantine/core";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../../../_trpc/client";

interface VariantRow { key: string; name: string; weight: number; isControl: boolean; modelAlias: string | null }
interface RuleRow { attribute: string; op: string; value: string }

const METRICS = [
  { value: "ctr", label: "CTR" }, { value: "conversion", label: "Conversion" }, { value: "revenue_per_session", label: "Revenue per unit" },
  { value: "ndcg", label: "NDCG@10 from clicks" }, { value: "mrr", label: "MRR from clicks" }, { value: "fallback_rate", label: "Fallback rate" },
];

export function ExperimentForm({ surfaces }: { surfaces: Array<{ key: string; name: string; model: string | null }> }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [surface, setSurface] = useState(surfaces.find((s) => s.key === "search")?.key ?? surfaces[0]?.key ?? "");
  const modelName = surfaces.find((s) => s.key === surface)?.model ?? null;
  const model = useQuery({ ...trpc.models.get.queryOptions({ name: modelName ?? "none" }), enabled: Boolean(modelName) });
  const aliases = model.data?.aliases.map((a) => ({ value: a.name, label: `${a.name} (v${a.version})` })) ?? [];
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [hypothesis, setHypothesis] = useState("");
  const [owner, setOwner] = useState("pm@rerank.local");
  const [kind, setKind] = useState<"ab" | "interleaving">("ab");
  const [hashAttribute, setHashAttribute] = useState<"userKey" | "sessionKey">("userKey");
  const [coverage, setCoverage] = useState<number>(100);
  const [primaryMetric, setPrimaryMetric] = useState("ctr");
  const [mde, setMde] = useState<number>(5);
  const [analysisMode, setAnalysisMode] = useState<"sequential" | "fixed">("sequential");
  const [guardrail, setGuardrail] = useState(true);
  const [variants, setVariants] = useState<VariantRow[]>([
    { key: "control", name: "Current model", weight: 50, isControl: true, modelAlias: "fallback" },
    { key: "treatment", name: "New model", weight: 50, isControl: false, modelAlias: "production" },
  ]);
  const [rules, setRules] = useState<RuleRow[]>([]);
  const [namespaceId, setNamespaceId] = useState("");
  const [namespaceRange, setNamespaceRange] = useState<[number, number]>([0, 100]);
  const weights = variants.map((v) => v.weight / 100);
  const plan = useQuery({
    ...trpc.experiments.plan.queryOptions({ surface, minimumDetectableEffect: mde / 100, weights }),
    enabled: Boolean(surface) && mde > 0 && weights.every((w) => w >= 0) && weights.length >= 2,
  });
  const create = useMutation(trpc.experiments.create.mutationOptions({ onSuccess: (e) => router.push(`/experiments/${e.key}`) }));
  const update = (i: number, patch: Partial<VariantRow>) => setVariants(variants.map((v, j) => (j === i ? { ...v, ...patch } : patch.isControl ? { ...v, isControl: false } : v)));
  const parseValue = (raw: string, op: string): unknown => {
    if (op === "in" || op === "nin") return raw.split(",").map((s) => s.trim()).filter(Boolean);
    if (op === "exists") return raw !== "false";
    if (raw === "true" || raw === "false") return raw === "true";
    return raw !== "" && !Number.isNaN(Number(raw)) && op !== "eq" && op !== "neq" && op !== "regex" ? Number(raw) : raw;
  };

  function submit() {
    create.mutate({
      key, name, surface, kind, hypothesis, owner, hashAttribute, hashVersion: 2, coverage: coverage / 100,
      namespace: namespaceId ? { id: namespaceId, start: namespaceRange[0] / 100, end: namespaceRange[1] / 100 } : null, targeting: rules.map((r) => ({ attribute: r.attribute, op: r.op as "eq", value: parseValue(r.value, r.op) })),
      variants: variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight / 100, isControl: v.isControl, modelAlias: v.modelAlias ?? undefined, constraintOverrides: {} })),
      primaryMetric: primaryMetric as "ctr", secondaryMetrics: METRICS.map((m) => m.value).filter((m) => m !== primaryMetric) as Array<"ctr">,
      guardrails: guardrail ? [{ metric: "fallback_rate", direction: "increase", threshold: 0.5 }] : [], minDetectableEffect: mde / 100, analysisMode,
    });
  }

  return (
    <Stack>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">What and why</Title>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="Key" description="lower-case, used in logs and APIs" placeholder="search-linear-vs-popularity" value={key} onChange={(e) => setKey(e.currentTarget.value)} required />
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
          <Select label="Surface" data={surfaces.map((s) => ({ value: s.key, label: s.name }))} value={surface} onChange={(v) => setSurface(v ?? "")} allowDeselect={false} />
          <TextInput label="Owner" value={owner} onChange={(e) => setOwner(e.currentTarget.value)} />
        </SimpleGrid>
        <Textarea mt="sm" label="Hypothesis" placeholder="The linear ranker raises CTR because it uses rating and recent CTR" value={hypothesis} onChange={(e) => setHypothesis(e.currentTarget.value)} />
        <Group mt="sm">
          <div>
            <Text size="sm" fw={500} mb={4}>Kind</Text>
            <SegmentedControl value={kind} onChange={(v) => setKind(v as "ab")} data={[{ value: "ab", label: "A/B test" }, { value: "interleaving", label: "Interleaving" }]} />
          </div>
        </Group>
      </Card>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Variants and traffic</Title>
        <Table.ScrollContainer minWidth={640}>
          <Table>
            <Table.Thead><Table.Tr><Table.Th>Key</Table.Th><Table.Th>Name</Table.Th><Table.Th>Model alias</Table.Th><Table.Th>Weight %</Table.Th><Table.Th>Control</Table.Th><Table.Th /></Table.Tr></Table.Thead>
            <Table.Tbody>
              {variants.map((v, i) => (
                <Table.Tr key={i}>
                  <Table.Td><TextInput aria-label={`variant ${i + 1} key`} value={v.key} onChange={(e) => update(i, { key: e.currentTarget.value })} /></Table.Td>
                  <Table.Td><TextInput aria-label={`variant ${i + 1} name`} value={v.name} onChange={(e) => update(i, { name: e.currentTarget.value })} /></Table.Td>
                  <Table.Td><Select aria-label={`variant ${i + 1} model`} data={aliases} value={v.modelAlias} onChange={(a) => update(i, { modelAlias: a })} /></Table.Td>
                  <Table.Td><NumberInput aria-label={`variant ${i + 1} weight`} min={0} max={100} value={v.weight} onChange={(w) => update(i, { weight: Number(w) || 0 })} w={90} /></Table.Td>
                  <Table.Td><Checkbox aria-label={`variant ${i + 1} is control`} checked={v.isControl} onChange={(e) => update(i, { isControl: e.currentTarget.checked })} /></Table.Td>
                  <Table.Td>{variants.length > 2 && <ActionIcon variant="subtle" color="red" aria-label="remove variant" onClick={() => setVariants(variants.filter((_, j) => j !== i))}><IconTrash size={16} /></ActionIcon>}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Group mt="sm" justify="space-between">
          <Button variant="light" leftSection={<IconPlus size={16} />} disabled={kind === "interleaving"} onClick={() => setVariants([...variants, { key: `variant-${variants.length}`, name: "", weight: 0, isControl: false, modelAlias: null }])}>Add variant</Button>
          <Text size="sm" c={Math.abs(variants.reduce((s, v) => s + v.weight, 0) - 100) < 0.1 ? "dimmed" : "red"}>Weights sum to {variants.reduce((s, v) => s + v.weight, 0)}%</Text>
        </Group>
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
            <Select aria-label="attribute" data={["country", "device", "locale", "returning"]} value={r.attribute} onChange={(v) => setRules(rules.map((x, j) => (j === i ? { ...x, attribute: v ?? "country" } : x)))} searchable />
            <Select aria-label="operator" data={["eq", "neq", "in", "nin", "gt", "lt", "exists", "regex"]} value={r.op} onChange={(v) => setRules(rules.map((x, j) => (j === i ? { ...x, op: v ?? "eq" } : x)))} w={100} />
            <TextInput aria-label="value" placeholder="US, or US,CA for in" value={r.value} onChange={(e) => { const value = e.currentTarget.value; setRules(rules.map((x, j) => (j === i ? { ...x, value } : x))); }} />
            <ActionIcon variant="subtle" color="red" aria-label="remove rule" onClick={() => setRules(rules.filter((_, j) => j !== i))}><IconTrash size={16} /></ActionIcon>
          </Group>
        ))}
        <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setRules([...rules, { attribute: "country", op: "eq", value: "" }])}>Add rule</Button>
      </Card>
      <Card withBorder padding="lg">
        <Title order={5} mb="sm">Metrics and analysis</Title>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Select label="Primary metric" data={METRICS} value={primaryMetric} onChange={(v) => setPrimaryMetric(v ?? "ctr")} allowDeselect={false} />
          <NumberInput label="Minimum detectable effect %" description="relative; drives the sample-size estimate" min={0.1} max={1000} decimalScale={2} value={mde} onChange={(v) => setMde(Number(v) || 5)} />
          <Select label="Analysis" data={[{ value: "sequential", label: "Sequential (safe to peek)" }, { value: "fixed", label: "Fixed horizon" }]} value={analysisMode} onChange={(v) => setAnalysisMode((v as "sequential") ?? "sequential")} allowDeselect={false} />
        </SimpleGrid>
        <Text size="sm" mt="sm" data-testid="power-plan">
          {plan.data?.ready
            ? `At the recent CTR of ${(plan.data.baselineCtr * 100).toFixed(2)}% and about ${Math.round(plan.data.dailyUnits).toLocaleString()} users a day, detecting a ${mde}% lift with 80% power needs ${plan.data.unitsPerVariant.map((u) => u.toLocaleString()).join(" / ")} users per variant${plan.data.days !== null ? `: about ${plan.data.days.toFixed(1)} days` : ""}.`
            : plan.data ? `Sample size: ${plan.data.reason}.` : "Estimating the sample size from recent traffic…"}
        </Text>
        <Checkbox mt="md" label="Guardrail: the fallback rate must not rise by more than 50%" checked={guardrail} onChange={(e) => setGuardrail(e.currentTarget.checked)} />
      </Card>
      {create.error && <Alert color="red" title="Not saved" data-testid="experiment-error">{create.error.message}</Alert>}
      <Group><Button onClick={submit} loading={create.isPending}>Create experiment</Button></Group>
    </Stack>
  );
}
