"use client";
import { Alert, Card, FileInput, Group, Select, SimpleGrid, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { ConfirmChangeDialog } from "@/app/_components/ConfirmChangeDialog";
import { RANKING_ROLES, describeReach } from "@/server/domain/rollouts/aliasReach";
import { useTRPC } from "../../../_trpc/client";

const STANDARD_ALIASES = ["production", "canary", "shadow", "fallback"];

/**
 * Moves an alias of the model to a version, behind the confirm dialog. The dialog lists every surface
 * the alias reaches (models.aliasReach: serving, canary, stage 2, fallback, experiment, shadow) and
 * files an approval request when one that it ranks requires approval. The move carries the version the
 * page showed (`expectFromVersionId`): if the alias moved since, the server answers 409 and nothing changes.
 */
export function SetAliasCard({ modelName, versions, aliases }: {
  modelName: string;
  versions: Array<{ id: string; version: number }>;
  aliases: Array<{ name: string; version: number; versionId: string }>;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const [versionId, setVersionId] = useState<string | null>(versions[0]?.id ?? null);
  const [alias, setAlias] = useState<string | null>("canary");
  const [custom, setCustom] = useState("");
  const [confirming, setConfirming] = useState(false);
  const done = (message: string) => {
    setConfirming(false);
    notifications.show({ color: "teal", message });
    router.refresh();
  };
  const onError = (e: { message: string }) => notifications.show({ color: "red", message: e.message });
  const move = useMutation(trpc.models.setAlias.mutationOptions({ onSuccess: (r) => done(`${r.name} now points at v${r.to.version}`), onError }));
  const request = useMutation(trpc.approvals.request.mutationOptions({ onSuccess: (r) => done(`Approval requested: ${r.summary}`), onError }));
  const name = alias === "custom" ? custom.trim() : alias;
  const target = versions.find((v) => v.id === versionId);
  const current = aliases.find((a) => a.name === name);
  const reach = useQuery({ ...trpc.models.aliasReach.queryOptions({ name: modelName, alias: name ?? "" }), enabled: confirming && !!name });
  const reached = reach.data ?? [];
  const ranked = reached.filter((s) => s.roles.some((r) => RANKING_ROLES.includes(r)));
  const guarded = ranked.filter((s) => s.requireApproval);
  const needsApproval = guarded.length > 0;
  const expectFromVersionId = current?.versionId ?? null;
  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="sm">Set an alias</Title>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Select label="Version" data={versions.map((v) => ({ value: v.id, label: `v${v.version}` }))} value={versionId} onChange={setVersionId} allowDeselect={false} />
        <Select label="Alias" data={[...STANDARD_ALIASES, "custom"]} value={alias} onChange={setAlias} allowDeselect={false} />
        {alias === "custom" && <TextInput label="Custom alias" value={custom} onChange={(e) => setCustom(e.currentTarget.value)} />}
      </SimpleGrid>
      <Group mt="md">
        <GuardedButton permission="models.write" disabled={!target || !name} onClick={() => setConfirming(true)}>Move alias…</GuardedButton>
      </Group>
      {confirming && target && name && (
        <ConfirmChangeDialog
          title={`Move ${modelName} ${name}`}
          changes={[
            `${modelName} ${name}: ${current ? `v${current.version}` : "unset"} → v${target.version}`,
            <span key="reach" data-testid="alias-reach">
              {reach.isLoading ? "reading which surfaces it reaches…"
                : reach.error ? `could not read the surfaces it reaches: ${reach.error.message}`
                : reached.length ? <>surfaces it reaches: <b>{describeReach(reached)}</b> (every replica within a second)</>
                : "no surface uses this alias: nobody's results change"}
            </span>,
          ]}
          warning={needsApproval ? `${guarded.map((s) => s.key).join(", ")} ${guarded.length > 1 ? "require" : "requires"} approval: this files a request that another ML engineer approves.` : undefined}
          confirmLabel={needsApproval ? "Request approval" : "Move alias"}
          color={ranked.length ? "orange" : "blue"}
          pending={reach.isLoading || move.isPending || request.isPending}
          onClose={() => setConfirming(false)}
          onConfirm={(reason) =>
            needsApproval
              ? request.mutate({ change: { kind: "alias_move", versionId: target.id, alias: name, expectFromVersionId }, reason })
              : move.mutate({ versionId: target.id, alias: name, reason, expectFromVersionId })}
        />
      )}
    </Card>
  );
}

export function UploadVersionCard({ modelName, defaultSpec, versions, defaultFormat = "onnx" }: { modelName: string; defaultSpec: string; versions: number[]; defaultFormat?: string }) {
  const router = useRouter();
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<string | null>(defaultFormat);
  const [spec, setSpec] = useState(defaultSpec);
  const [parent, setParent] = useState<string | null>(versions[0] ? String(versions[0]) : null);
  const [notes, setNotes] = useState("");
  const [metrics, setMetrics] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function upload() {
    setError(null);
    setBusy(true);
    const form = new FormData();
    if (file) form.set("file", file);
    form.set("format", format ?? "onnx");
    // A cross-encoder bundle reads text: it takes no feature spec.
    if (format !== "cross-encoder") form.set("featureSpec", spec);
    if (parent) form.set("parentVersion", parent);
    if (notes) form.set("metadata", JSON.stringify({ notes }));
    if (metrics) form.set("metrics", metrics);
    try {
      const response = await fetch(`/api/v1/models/${modelName}/versions`, { method: "POST", body: form });
      const body = await response.json();
      if (!response.ok) {
        setError(body.error?.message ?? `upload failed (${response.status})`);
        return;
      }
      notifications.show({ color: "teal", message: `Stored ${modelName} v${body.version}` });
      // Stored, but with features no row of the feature store carries: served as their defaults until one does.
      for (const warning of (body.warnings ?? []) as string[]) notifications.show({ color: "yellow", title: `v${body.version}: a feature nobody carries`, message: warning, autoClose: false });
      router.push(`/models/${modelName}/v/${body.version}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="xs">Upload a version</Title>
      <Text size="sm" c="dimmed" mb="sm">
        {format === "cross-encoder"
          ? "The archive (model.onnx, tokenizer.json, reranker.json, optional tokenizer_config.json) is unpacked within MODEL_MAX_BYTES, its tokenizer loaded and checked against the model's embedding, its inputs checked (input_ids, attention_mask, optional token_type_ids) and sample pairs scored before anything is stored."
          : "The file is loaded in onnxruntime, checked against the feature spec ([N, F] float in, [N] or [N, 1] out) and scored on sample rows before anything is stored."}
      </Text>
      <Stack>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <FileInput label="Model file" placeholder={format === "cross-encoder" ? "bundle.tgz, .tar or .zip" : "model.onnx, model.txt or model.json"} value={file} onChange={setFile} clearable />
          <Select
            label="Format"
            data={[{ value: "onnx", label: "ONNX" }, { value: "lightgbm", label: "LightGBM text" }, { value: "xgboost", label: "XGBoost JSON" }, { value: "cross-encoder", label: "Cross-encoder bundle" }]}
            value={format}
            onChange={setFormat}
            allowDeselect={false}
          />
          <Select label="Parent version" data={versions.map((v) => String(v))} value={parent} onChange={setParent} clearable />
        </SimpleGrid>
        {format !== "cross-encoder" && (
          <Textarea label="Feature spec (JSON)" autosize minRows={4} maxRows={12} value={spec} onChange={(e) => setSpec(e.currentTarget.value)} styles={{ input: { fontFamily: "monospace", fontSize: 12 } }} />
        )}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="Offline metrics (JSON)" placeholder='{"ndcg@10": 0.72, "mrr": 0.85}' value={metrics} onChange={(e) => setMetrics(e.currentTarget.value)} />
          <TextInput label="Notes" value={notes} onChange={(e) => setNotes(e.currentTarget.value)} />
        </SimpleGrid>
        {error && <Alert color="red" title="Refused" data-testid="upload-error">{error}</Alert>}
        <Group><GuardedButton permission="models.write" onClick={() => void upload()} loading={busy}>Upload and check</GuardedButton></Group>
      </Stack>
    </Card>
  );
}
