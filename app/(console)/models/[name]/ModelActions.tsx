"use client";
import { Alert, Button, Card, FileInput, Group, Select, SimpleGrid, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../../../_trpc/client";

const STANDARD_ALIASES = ["production", "canary", "shadow", "fallback"];

export function SetAliasCard({ versions }: { versions: Array<{ id: string; version: number }> }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [versionId, setVersionId] = useState<string | null>(versions[0]?.id ?? null);
  const [alias, setAlias] = useState<string | null>("canary");
  const [custom, setCustom] = useState("");
  const [reason, setReason] = useState("");
  const move = useMutation(trpc.models.setAlias.mutationOptions({
    onSuccess: (result) => {
      notifications.show({ color: "teal", message: `${result.name} now points at the chosen version` });
      router.refresh();
    },
  }));
  const name = alias === "custom" ? custom : alias;
  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="sm">Set an alias</Title>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Select label="Version" data={versions.map((v) => ({ value: v.id, label: `v${v.version}` }))} value={versionId} onChange={setVersionId} allowDeselect={false} />
        <Select label="Alias" data={[...STANDARD_ALIASES, "custom"]} value={alias} onChange={setAlias} allowDeselect={false} />
        {alias === "custom" ? <TextInput label="Custom alias" value={custom} onChange={(e) => setCustom(e.currentTarget.value)} /> : <TextInput label="Reason (audited)" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />}
      </SimpleGrid>
      {move.error && <Alert color="red" mt="sm">{move.error.message}</Alert>}
      <Group mt="md">
        <Button onClick={() => versionId && name && move.mutate({ versionId, alias: name, reason: reason || undefined })} loading={move.isPending}>Move alias</Button>
      </Group>
    </Card>
  );
}

export function UploadVersionCard({ modelName, defaultSpec, versions }: { modelName: string; defaultSpec: string; versions: number[] }) {
  const router = useRouter();
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<string | null>("onnx");
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
    form.set("featureSpec", spec);
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
      router.push(`/models/${modelName}/v/${body.version}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card withBorder padding="lg">
      <Title order={5} mb="xs">Upload a version</Title>
      <Text size="sm" c="dimmed" mb="sm">The file is loaded in onnxruntime, checked against the feature spec ([N, F] float in, [N] or [N, 1] out) and scored on sample rows before anything is stored.</Text>
      <Stack>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <FileInput label="Model file" placeholder="model.onnx, model.txt or model.json" value={file} onChange={setFile} clearable />
          <Select label="Format" data={[{ value: "onnx", label: "ONNX" }, { value: "lightgbm", label: "LightGBM text" }, { value: "xgboost", label: "XGBoost JSON" }]} value={format} onChange={setFormat} allowDeselect={false} />
          <Select label="Parent version" data={versions.map((v) => String(v))} value={parent} onChange={setParent} clearable />
        </SimpleGrid>
        <Textarea label="Feature spec (JSON)" autosize minRows={4} maxRows={12} value={spec} onChange={(e) => setSpec(e.currentTarget.value)} styles={{ input: { fontFamily: "monospace", fontSize: 12 } }} />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="Offline metrics (JSON)" placeholder='{"ndcg@10": 0.72, "mrr": 0.85}' value={metrics} onChange={(e) => setMetrics(e.currentTarget.value)} />
          <TextInput label="Notes" value={notes} onChange={(e) => setNotes(e.currentTarget.value)} />
        </SimpleGrid>
        {error && <Alert color="red" title="Refused" data-testid="upload-error">{error}</Alert>}
        <Group><Button onClick={() => void upload()} loading={busy}>Upload and check</Button></Group>
      </Stack>
    </Card>
  );
}
