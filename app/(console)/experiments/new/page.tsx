import { Stack } from "@mantine/core";
import type { Metadata } from "next";
import { serverCaller } from "@/server/caller";
import { PageHeader } from "../../../_components/PageHeader";
import { ExperimentForm } from "./ExperimentForm";

export const metadata: Metadata = { title: "New experiment" };

export default async function NewExperimentPage() {
  const surfaces = await (await serverCaller()).surfaces.list();
  return (
    <Stack>
      <PageHeader title="New experiment" subtitle="Compare model versions or configurations on a surface. Assignment is deterministic and sticky per user or session." />
      <ExperimentForm surfaces={surfaces.map((s) => ({ key: s.key, name: s.name, model: s.model?.name ?? null }))} />
    </Stack>
  );
}
