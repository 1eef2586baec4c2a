import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { readOrNotFound } from "../../../../_server/readOrNotFound";
import { storedDefinition } from "@/server/domain/experiments/definition";
import { PageHeader } from "../../../../_components/PageHeader";
import { ExperimentForm, type ExperimentDefinition } from "../../new/ExperimentForm";

export async function generateMetadata({ params }: { params: Promise<{ key: string }> }): Promise<Metadata> {
  return { title: `Edit ${(await params).key}` };
}

export default async function EditExperimentPage({ params }: { params: Promise<{ key: string }> }) {
  const { key } = await params;
  const caller = await serverCaller();
  const [e, surfaces] = await Promise.all([readOrNotFound(caller.experiments.get({ key })), caller.surfaces.list()]);
  const initial: ExperimentDefinition = {
    key: e.key, name: e.name, surface: e.surface.key, kind: e.kind, hypothesis: e.hypothesis, owner: e.owner,
    hashAttribute: e.hashAttribute as ExperimentDefinition["hashAttribute"], coverage: e.coverage,
    namespace: e.namespace as ExperimentDefinition["namespace"], targeting: e.targeting as ExperimentDefinition["targeting"],
    primaryMetric: e.primaryMetric, secondaryMetrics: e.secondaryMetrics as string[], guardrails: e.guardrails as unknown as ExperimentDefinition["guardrails"],
    minDetectableEffect: e.minDetectableEffect, analysisMode: e.analysisMode as ExperimentDefinition["analysisMode"], status: e.status, phase: e.phase,
    variants: e.variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight, isControl: v.isControl, modelAlias: v.modelAlias, modelVersionId: v.modelVersionId, constraintOverrides: v.constraintOverrides })),
    shown: { phase: e.phase, status: e.status, definition: storedDefinition(e) },
  };
  return (
    <Stack>
      <PageHeader title={`Edit ${e.name}`} subtitle={`${e.key} · ${e.status}${e.phase >= 1 ? ` · phase ${e.phase}` : ""}`} />
      <ExperimentForm surfaces={surfaces.map((s) => ({ key: s.key, name: s.name, model: s.model?.name ?? null }))} initial={initial} />
    </Stack>
  );
}
